#pragma once
// Starting one of the node's child processes (job workers, viewer workers): the command
// plus "--slot N", with its end of a Unix socket as fd 3 and its stderr into a pipe the
// node reads, every other descriptor closed, signals unblocked, and PR_SET_PDEATHSIG so
// that it never outlives the node.
#include <sys/types.h>

#include <string>
#include <vector>

namespace volnode {

struct StartedChild {
  pid_t pid = -1;    // -1: not started (`problem` says why; no descriptor is left open)
  int control = -1;  // the node's end of the socket
  int log = -1;      // the read end of the child's stderr
  std::string problem;
};

StartedChild startChild(const std::vector<std::string>& command, int slot);

}  // namespace volnode
