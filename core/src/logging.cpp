#include "volnode/core/logging.hpp"

#include <filesystem>
#include <mutex>
#include <vector>

#include <spdlog/sinks/rotating_file_sink.h>
#include <spdlog/sinks/stdout_color_sinks.h>

#include "volnode/core/error.hpp"

namespace volnode {
namespace {

std::mutex g_mutex;
std::vector<spdlog::sink_ptr> g_sinks;
spdlog::level::level_enum g_level = spdlog::level::info;
constexpr const char* kPattern = "%Y-%m-%d %H:%M:%S.%e %^%-5l%$ [%n] %v";

std::vector<spdlog::sink_ptr>& sinksLocked() {
  if (g_sinks.empty()) g_sinks.push_back(std::make_shared<spdlog::sinks::stderr_color_sink_mt>());
  return g_sinks;
}

}  // namespace

void initLogging(const LogConfig& config) {
  std::lock_guard lock(g_mutex);
  g_level = spdlog::level::from_str(config.level);
  std::vector<spdlog::sink_ptr> sinks{std::make_shared<spdlog::sinks::stderr_color_sink_mt>()};
  if (!config.file.empty()) {
    std::filesystem::path file(config.file);
    std::error_code ec;
    if (file.has_parent_path()) std::filesystem::create_directories(file.parent_path(), ec);
    try {
      sinks.push_back(std::make_shared<spdlog::sinks::rotating_file_sink_mt>(
          config.file, static_cast<size_t>(config.max_size_mb) * 1024 * 1024,
          static_cast<size_t>(config.max_files)));
    } catch (const spdlog::spdlog_ex& e) {
      throw Error(Errc::Io, "cannot open log file " + config.file + ": " + e.what());
    }
  }
  g_sinks = sinks;
  // Re-point loggers that were created before the sinks were known.
  spdlog::apply_all([&](const std::shared_ptr<spdlog::logger>& logger) {
    logger->sinks() = g_sinks;
    logger->set_level(g_level);
    logger->set_pattern(kPattern);
  });
}

std::shared_ptr<spdlog::logger> moduleLogger(const std::string& module) {
  std::lock_guard lock(g_mutex);
  if (auto existing = spdlog::get(module)) return existing;
  auto& sinks = sinksLocked();
  auto logger = std::make_shared<spdlog::logger>(module, sinks.begin(), sinks.end());
  logger->set_level(g_level);
  logger->set_pattern(kPattern);
  logger->flush_on(spdlog::level::warn);
  spdlog::register_logger(logger);
  return logger;
}

}  // namespace volnode
