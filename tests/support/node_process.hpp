#pragma once
// A real `volnode serve` for integration tests: own storage folder, own ports,
// started and stopped by pid.
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "support/process.hpp"

namespace volnode::test {

struct HttpResponse {
  int status = 0;  // 0: no connection
  std::string body;
};

// A presets folder (under dir) with the shipped presets' rules replaced by none:
// for tests that watch receiving or completion and want no render to load the CPU.
// Pass as --set pipeline.presets_dir=<it>.
std::filesystem::path presetsWithoutRules(const std::filesystem::path& dir);
std::string noRendering(const std::filesystem::path& dir);  // "pipeline.presets_dir=<presetsWithoutRules(dir)>"

// `overrides` with the suite's index (support/suite_index.hpp) in front, unless they name
// an index.* key themselves: a test that sets the index keeps it.
std::vector<std::string> withSuiteIndex(const std::filesystem::path& storage_dir, std::vector<std::string> overrides);

class NodeProcess {
 public:
  // Starts the node with --set overrides on top of test defaults (free ports,
  // storage in `dir`, min_free_mb=1, short completion timers, the suite's index
  // backend) and waits until it serves.
  explicit NodeProcess(const std::filesystem::path& dir, std::vector<std::string> overrides = {},
                       bool wait_until_ready = true);
  ~NodeProcess();

  int dicomPort() const { return dicom_port_; }
  int consolePort() const { return console_port_; }
  const std::filesystem::path& dir() const { return dir_; }
  std::filesystem::path logFile() const { return dir_ / "node.log"; }
  std::string log() const;

  void start();
  int stop();      // SIGTERM, returns exit code
  void kill9();
  bool running() { return process_ && process_->running(); }
  pid_t pid() const { return process_ ? process_->pid() : -1; }
  bool waitUntilReady(std::chrono::seconds timeout = std::chrono::seconds(30));

  HttpResponse get(const std::string& path) const;  // with the console token, when the overrides set one
  HttpResponse post(const std::string& path, const std::string& body = "", const std::string& token = "") const;

  // storescu/echoscu arguments addressing this node.
  std::vector<std::string> scu(const std::string& tool, std::vector<std::string> extra = {}) const;

 private:
  std::filesystem::path dir_;
  std::vector<std::string> overrides_;
  std::string read_token_;  // console.token of the overrides: get() sends it
  int dicom_port_;
  int console_port_;
  std::unique_ptr<ChildProcess> process_;
};

}  // namespace volnode::test
