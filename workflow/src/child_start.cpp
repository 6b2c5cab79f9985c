#include "volnode/workflow/child_start.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace volnode {

StartedChild startChild(const std::vector<std::string>& command, int slot) {
  StartedChild child;
  int control[2], log[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, control) != 0) {
    child.problem = std::string("cannot create its socket: ") + std::strerror(errno);
    return child;
  }
  if (::pipe2(log, O_CLOEXEC) != 0) {
    child.problem = std::string("cannot create its log pipe: ") + std::strerror(errno);
    ::close(control[0]);
    ::close(control[1]);
    return child;
  }
  // Everything the child needs is prepared before fork: after it, only
  // async-signal-safe calls (the node has many threads).
  std::vector<std::string> args = command;
  args.push_back("--slot");
  args.push_back(std::to_string(slot));
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid == 0) {
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);  // the node blocks SIGTERM/SIGINT for sigwait
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);          // never outlive the node
    if (::getppid() != parent) ::_exit(111);
    ::dup2(control[1], 3);
    ::dup2(log[1], STDERR_FILENO);
    ::close_range(4, ~0U, 0);
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  const int fork_error = errno;
  ::close(control[1]);
  ::close(log[1]);
  if (pid < 0) {
    ::close(control[0]);
    ::close(log[0]);
    child.problem = std::string("cannot fork: ") + std::strerror(fork_error);
    return child;
  }
  child.pid = pid;
  child.control = control[0];
  child.log = log[0];
  return child;
}

}  // namespace volnode
