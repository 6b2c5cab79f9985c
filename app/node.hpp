#pragma once
// The running node: wires storage, the DICOM listener and the console together.
// Start-up order: lock, index, store recovery, queue repair, display, worker
// processes, listener, console; stop in reverse.
#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "volnode/core/config.hpp"

namespace volnode {

class Node {
 public:
  // `worker_command`: how to start a worker process (argv, without --slot).
  Node(Config config, std::vector<std::string> worker_command);
  ~Node();
  void start();   // throws Error with a message for the administrator
  void stop();
  // Where the node listens, for the start-up banner.
  std::string listeningSummary() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace volnode
