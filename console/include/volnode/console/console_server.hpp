#pragma once
// The service console: a JSON REST API (and later the web pages) over HTTP.
// Reads the index; the node's live health comes through a callback so the
// console does not depend on the DICOM or pipeline modules.
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "volnode/core/config.hpp"
#include "volnode/storage/index.hpp"

namespace volnode {

struct HealthReport {
  std::string version;
  double uptime_s = 0;
  // DICOM listener
  bool dicom_listening = false;
  std::string dicom_aet;
  int dicom_port = 0;
  int active_associations = 0;
  int64_t associations_total = 0;
  int64_t associations_refused = 0;
  std::string dicom_error;
  // storage
  std::string storage_dir;
  uint64_t disk_free_mb = 0;
  uint64_t min_free_mb = 0;
  bool accepting_instances = true;
  std::string not_accepting_reason;
};

class ConsoleServer {
 public:
  ConsoleServer(const ConsoleConfig& config, Index& index, std::function<HealthReport()> health);
  ~ConsoleServer();
  ConsoleServer(const ConsoleServer&) = delete;
  ConsoleServer& operator=(const ConsoleServer&) = delete;

  // Binds (throws Error(Errc::Network) if it cannot) and serves on a background thread.
  void start();
  void stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace volnode
