#pragma once
// Child processes, temporary folders and ports for tests. Every child is
// stopped by its own pid; nothing is ever killed by name.
#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <string>
#include <vector>

namespace volnode::test {

// A fresh folder under the system temp dir, removed with everything in it.
class TempDir {
 public:
  explicit TempDir(const std::string& prefix = "volnode-test");
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }
  std::filesystem::path operator/(const std::string& name) const { return path_ / name; }

 private:
  std::filesystem::path path_;
};

struct RunResult {
  int exit_code = -1;      // -1 when killed by the timeout
  std::string output;      // stdout and stderr together
  bool timed_out = false;
};

// Runs a program (looked up in PATH) to completion, bounded by `timeout`.
RunResult run(const std::vector<std::string>& argv, std::chrono::seconds timeout = std::chrono::seconds(120));

// A child running in the background; stopped by pid (SIGTERM, then SIGKILL) on destruction.
class ChildProcess {
 public:
  ChildProcess(const std::vector<std::string>& argv, const std::filesystem::path& log_file,
               const std::filesystem::path& working_dir = {});
  ~ChildProcess();
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  pid_t pid() const { return pid_; }
  bool running();
  // SIGTERM and wait; returns the exit code (or -signal).
  int terminate(std::chrono::seconds grace = std::chrono::seconds(20));
  // SIGKILL and wait.
  void kill9();
  // Waits for the process to exit by itself.
  int wait(std::chrono::seconds timeout);

 private:
  pid_t pid_ = -1;
  int status_ = 0;
  bool exited_ = false;
};

// A TCP port on 127.0.0.1 that was free a moment ago (DCMTK cannot bind port 0).
int freePort();

// True once something accepts TCP connections on 127.0.0.1:port.
bool waitForPort(int port, std::chrono::milliseconds timeout);

// "AMD EPYC, 2 cores": what benchmarks print next to their figures.
std::string machineDescription();

// Where the DICOM test data lives (../shared/data from the project root), or a path in it.
std::filesystem::path sharedData(const std::string& relative = {});

// The whole content of `file` (empty when it cannot be read).
std::string readBytes(const std::filesystem::path& file);

}  // namespace volnode::test
