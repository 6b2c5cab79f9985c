#pragma once
// One spdlog logger per module ("scp", "storage", "pipeline", "console", "app", ...),
// all writing to stderr and, when configured, to one rotating file.
#include <memory>
#include <string>

#include <spdlog/spdlog.h>

#include "volnode/core/config.hpp"

namespace volnode {

// Installs the shared sinks. Call once at start-up; loggers made before it
// write to stderr only.
void initLogging(const LogConfig& config);

// The logger of a module, created on first use with the shared sinks.
std::shared_ptr<spdlog::logger> moduleLogger(const std::string& module);

}  // namespace volnode
