#pragma once
// A real `volnode worker` (the render-only role) for integration tests, rendering
// for a NodeProcess: the node's storage folder and index, its own log; started and
// stopped by pid.
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "support/process.hpp"

namespace volnode::test {

class WorkerProcess {
 public:
  // `storage_dir`: the serve node's storage.dir; `overrides` as --set (the index, render.*).
  WorkerProcess(const std::filesystem::path& dir, const std::filesystem::path& storage_dir,
                std::vector<std::string> overrides);
  ~WorkerProcess();

  pid_t pid() const { return process_ ? process_->pid() : -1; }
  bool running() { return process_ && process_->running(); }
  int stop();   // SIGTERM, returns the exit code
  void kill9();
  std::string log() const;

 private:
  std::filesystem::path log_file_;
  std::unique_ptr<ChildProcess> process_;
};

}  // namespace volnode::test
