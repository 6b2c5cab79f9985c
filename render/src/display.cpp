// Private Xvfb display for headless rendering (see display.hpp).
#include "volnode/render/display.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <mutex>
#include <thread>

#include "volnode/core/error.hpp"
#include "volnode/core/logging.hpp"

namespace volnode {
namespace {

std::string socketPath(int n) { return "/tmp/.X11-unix/X" + std::to_string(n); }
std::string lockPath(int n) { return "/tmp/.X" + std::to_string(n) + "-lock"; }

int lockOwner(int n);
bool acceptsConnections(int n);

// Free, or left behind by a server that was killed (its lock names a dead pid and
// nothing listens): Xvfb itself takes over such a stale lock.
bool displayLooksFree(int n) {
  std::error_code ec;
  bool lock = std::filesystem::exists(lockPath(n), ec);
  bool socket = std::filesystem::exists(socketPath(n), ec);
  if (!lock && !socket) return true;
  int owner = lockOwner(n);
  bool owner_alive = owner > 0 && (::kill(owner, 0) == 0 || errno == EPERM);
  return !owner_alive && !acceptsConnections(n);
}

bool acceptsConnections(int n) {
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  const std::string path = socketPath(n);
  std::strncpy(addr.sun_path, path.c_str(), sizeof(addr.sun_path) - 1);
  const bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
  ::close(fd);
  return ok;
}

// The pid in /tmp/.X<n>-lock (written by the X server), or -1.
int lockOwner(int n) {
  const int fd = ::open(lockPath(n).c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  char buf[32] = {};
  const ssize_t len = ::read(fd, buf, sizeof(buf) - 1);
  ::close(fd);
  return len > 0 ? std::atoi(buf) : -1;
}

// Starts `Xvfb :n`; returns the child's pid or -1.
int spawnXvfb(const PrivateXvfb::Options& o, int n) {
  const std::string display = ":" + std::to_string(n);
  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid < 0) return -1;
  if (pid == 0) {
    // Child: die with the parent, keep quiet, exec the server. The signal mask
    // survives exec: the node blocks SIGTERM/SIGINT for its signal-waiting
    // thread, and a server with SIGTERM blocked would outlive a killed node
    // (the death signal stays pending) and ignore the node's own stop request.
    sigset_t none;
    ::sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    ::signal(SIGPIPE, SIG_DFL);
    ::prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (::getppid() != parent) ::_exit(127);
    ::setpgid(0, 0);  // own process group: a terminal's Ctrl-C reaches the node, which stops us
    const int devnull = ::open("/dev/null", O_RDWR);
    if (devnull >= 0) {
      ::dup2(devnull, 0);
      ::dup2(devnull, 1);
      ::dup2(devnull, 2);
      if (devnull > 2) ::close(devnull);
    }
    const char* argv[] = {o.executable.c_str(), display.c_str(), "-screen", "0", o.screen.c_str(),
                          "-nolisten", "tcp", nullptr};
    ::execvp(o.executable.c_str(), const_cast<char* const*>(argv));
    ::_exit(127);
  }
  return pid;
}

bool reapIfExited(int pid) {
  int status = 0;
  return ::waitpid(pid, &status, WNOHANG) == pid;
}

}  // namespace

PrivateXvfb::PrivateXvfb() : PrivateXvfb(Options{}) {}

PrivateXvfb::PrivateXvfb(Options options) : options_(std::move(options)) {
  auto log = moduleLogger("render");
  std::string last_problem = "no free display number";
  int immediate_exits = 0;
  for (int n = options_.first_display; n <= options_.last_display; ++n) {
    if (!displayLooksFree(n)) continue;
    const int pid = spawnXvfb(options_, n);
    if (pid < 0) throw Error(Errc::Render, std::string("cannot fork for Xvfb: ") + std::strerror(errno));
    const auto deadline = std::chrono::steady_clock::now() + options_.start_timeout;
    bool exited = false;
    while (std::chrono::steady_clock::now() < deadline) {
      if (reapIfExited(pid)) {
        exited = true;
        break;
      }
      if (const int owner = lockOwner(n); owner > 0 && owner != pid && acceptsConnections(n)) {
        ::kill(pid, SIGKILL);  // lost the race for :n to another server
        ::waitpid(pid, nullptr, 0);
        exited = true;
        break;
      }
      // The socket must be our child's, not a server another process started on
      // the same number a moment earlier: Xvfb writes its pid into the lock file.
      if (acceptsConnections(n) && lockOwner(n) == pid && !reapIfExited(pid)) {
        pid_ = pid;
        number_ = n;
        display_ = ":" + std::to_string(n);
        log->info("started private Xvfb on display {} (pid {})", display_, pid_);
        return;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    if (!exited) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, nullptr, 0);
      throw Error(Errc::Render, "Xvfb on :" + std::to_string(n) + " did not accept connections within " +
                                    std::to_string(options_.start_timeout.count()) + " ms");
    }
    // Exited at once: the executable is missing, or another server took :n between
    // our check and its start. Try the next number unless the binary cannot run.
    last_problem = "Xvfb exited at start on :" + std::to_string(n);
    if (++immediate_exits >= 8) break;  // several immediate failures: not a race, something is wrong
  }
  throw Error(Errc::Render, "cannot start a private X server (" + options_.executable + "): " + last_problem +
                                "; install xvfb or set DISPLAY");
}

PrivateXvfb::~PrivateXvfb() { stop(); }

void PrivateXvfb::stop() noexcept {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGTERM);
  for (int i = 0; i < 250; ++i) {  // up to 5 s
    if (reapIfExited(pid_)) {
      pid_ = -1;
      return;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ::kill(pid_, SIGKILL);
  ::waitpid(pid_, nullptr, 0);
  pid_ = -1;
}

DisplayServer::DisplayServer(bool force_private, PrivateXvfb::Options options) {
  const char* current = std::getenv("DISPLAY");
  if (current && *current) {
    had_previous_ = true;
    previous_ = current;
  }
  if (had_previous_ && !force_private) {
    display_ = previous_;
    return;
  }
  xvfb_ = std::make_unique<PrivateXvfb>(std::move(options));
  display_ = xvfb_->display();
  ::setenv("DISPLAY", display_.c_str(), 1);
}

DisplayServer::~DisplayServer() {
  if (!xvfb_) return;
  xvfb_->stop();
  xvfb_.reset();
  if (had_previous_)
    ::setenv("DISPLAY", previous_.c_str(), 1);
  else
    ::unsetenv("DISPLAY");
}

std::shared_ptr<DisplayServer> DisplayServer::shared() {
  static std::mutex mutex;
  static std::weak_ptr<DisplayServer> instance;
  std::lock_guard lock(mutex);
  auto server = instance.lock();
  if (!server) {
    server = std::make_shared<DisplayServer>();
    instance = server;
  }
  return server;
}

}  // namespace volnode
