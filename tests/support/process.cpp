#include "support/process.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <random>
#include <sstream>
#include <stdexcept>
#include <thread>

namespace volnode::test {
namespace {

pid_t spawn(const std::vector<std::string>& argv, const std::filesystem::path& output,
            const std::filesystem::path& working_dir) {
  pid_t pid = ::fork();
  if (pid < 0) throw std::runtime_error("fork failed");
  if (pid == 0) {
    ::setpgid(0, 0);
    int fd = ::open(output.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (fd >= 0) {
      ::dup2(fd, 1);
      ::dup2(fd, 2);
      ::close(fd);
    }
    int devnull = ::open("/dev/null", O_RDONLY);
    if (devnull >= 0) ::dup2(devnull, 0);
    if (!working_dir.empty() && ::chdir(working_dir.c_str()) != 0) ::_exit(126);
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    ::execvp(args[0], args.data());
    ::_exit(127);
  }
  return pid;
}

bool waitWithTimeout(pid_t pid, int* status, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    pid_t done = ::waitpid(pid, status, WNOHANG);
    if (done == pid) return true;
    if (done < 0) return true;
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

int exitCodeOf(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return -WTERMSIG(status);
  return -1;
}

}  // namespace

TempDir::TempDir(const std::string& prefix) {
  std::string pattern = (std::filesystem::temp_directory_path() / (prefix + "-XXXXXX")).string();
  if (!::mkdtemp(pattern.data())) throw std::runtime_error("mkdtemp failed");
  path_ = pattern;
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

RunResult run(const std::vector<std::string>& argv, std::chrono::seconds timeout) {
  TempDir dir("volnode-run");
  auto output = dir.path() / "output.txt";
  pid_t pid = spawn(argv, output, {});
  int status = 0;
  RunResult result;
  if (!waitWithTimeout(pid, &status, timeout)) {
    ::kill(pid, SIGKILL);
    ::waitpid(pid, &status, 0);
    result.timed_out = true;
  } else {
    result.exit_code = exitCodeOf(status);
  }
  std::ifstream in(output);
  std::stringstream text;
  text << in.rdbuf();
  result.output = text.str();
  return result;
}

ChildProcess::ChildProcess(const std::vector<std::string>& argv, const std::filesystem::path& log_file,
                           const std::filesystem::path& working_dir)
    : pid_(spawn(argv, log_file, working_dir)) {}

ChildProcess::~ChildProcess() {
  if (running()) terminate(std::chrono::seconds(10));
}

bool ChildProcess::running() {
  if (exited_) return false;
  pid_t done = ::waitpid(pid_, &status_, WNOHANG);
  if (done == pid_) exited_ = true;
  return !exited_;
}

int ChildProcess::terminate(std::chrono::seconds grace) {
  if (running()) {
    ::kill(pid_, SIGTERM);
    if (!waitWithTimeout(pid_, &status_, grace)) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, &status_, 0);
    }
    exited_ = true;
  }
  return exitCodeOf(status_);
}

void ChildProcess::kill9() {
  if (!running()) return;
  ::kill(pid_, SIGKILL);
  ::waitpid(pid_, &status_, 0);
  exited_ = true;
}

int ChildProcess::wait(std::chrono::seconds timeout) {
  if (running() && waitWithTimeout(pid_, &status_, timeout)) exited_ = true;
  return exited_ ? exitCodeOf(status_) : -1;
}

int freePort() {
  // Ports in a range the kernel does not hand out as ephemeral ports, picked at
  // random and checked, so parallel test processes rarely collide.
  static std::mt19937 engine(std::random_device{}() ^ static_cast<unsigned>(::getpid()));
  std::uniform_int_distribution<int> pick(20000, 30000);
  for (int attempt = 0; attempt < 200; ++attempt) {
    int port = pick(engine);
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(static_cast<uint16_t>(port));
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bool free = ::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0;
    ::close(fd);
    if (free) return port;
  }
  throw std::runtime_error("no free port found");
}

bool waitForPort(int port, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(static_cast<uint16_t>(port));
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bool connected = ::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0;
    ::close(fd);
    if (connected) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return false;
}

std::string machineDescription() {
  std::ifstream cpuinfo("/proc/cpuinfo");
  std::string line, model = "unknown CPU";
  while (std::getline(cpuinfo, line))
    if (line.rfind("model name", 0) == 0) {
      model = line.substr(line.find(':') + 2);
      break;
    }
  return model + ", " + std::to_string(std::thread::hardware_concurrency()) + " cores";
}

std::filesystem::path sharedData(const std::string& relative) {
  const char* env = std::getenv("VOLNODE_SHARED_DATA");
  const std::filesystem::path root = env ? env : VOLNODE_SHARED_DATA;
  return relative.empty() ? root : root / relative;
}

std::string readBytes(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  std::stringstream content;
  content << in.rdbuf();
  return content.str();
}

}  // namespace volnode::test
