#pragma once
// The running node: wires storage, the DICOM listener, the workflow and the console
// together (the logic lives in those modules; this is only the composition).
// Start-up order: directory lock, index, store reconciliation, job queue and start-up
// repair, display, worker processes, send workers, completion loop, destination checks,
// retention loop, listener, cluster registry, retrieval workers (after the listener: a resumed C-MOVE
// sends to it), console. Stop: console and listener first, then the rest.
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
  void startPresence();
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace volnode
