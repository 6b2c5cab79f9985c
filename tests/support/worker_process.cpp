#include "support/worker_process.hpp"

#include <fstream>
#include <sstream>

#include "support/node_process.hpp"

namespace volnode::test {

WorkerProcess::WorkerProcess(const std::filesystem::path& dir, const std::filesystem::path& storage_dir,
                             std::vector<std::string> overrides)
    : log_file_(dir / "worker.log") {
  std::filesystem::create_directories(dir);
  std::vector<std::string> argv{VOLNODE_BINARY,
                                "worker",
                                "--set",
                                "storage.dir=" + storage_dir.string(),
                                "--set",
                                "log.file=\"\"",  // stderr, into log_file_
                                "--set",
                                std::string("pipeline.presets_dir=") + VOLNODE_SOURCE_DIR + "/presets"};
  for (const auto& o : withSuiteIndex(storage_dir, overrides)) {
    argv.push_back("--set");
    argv.push_back(o);
  }
  process_ = std::make_unique<ChildProcess>(argv, log_file_, dir);
}

WorkerProcess::~WorkerProcess() {
  if (process_) process_->terminate(std::chrono::seconds(20));
}

int WorkerProcess::stop() { return process_ ? process_->terminate() : 0; }

void WorkerProcess::kill9() {
  if (process_) process_->kill9();
}

std::string WorkerProcess::log() const {
  std::ifstream in(log_file_);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

}  // namespace volnode::test
