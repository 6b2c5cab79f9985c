#pragma once
// The reachability of the configured destinations, for the console: a thread
// C-ECHOes each one at start and every 30 s; reading the latest answers never
// blocks on the network.
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "volnode/core/config.hpp"
#include "volnode/workflow/workers.hpp"

namespace volnode {

struct Reachability {
  std::string name, aet, host;
  int port = 0;
  bool reachable = false;  // the last C-ECHO succeeded
  std::string checked_at;  // ISO UTC; empty before the first check
  std::string error;
  bool tls = false;
};

class DestinationEcho {
 public:
  DestinationEcho(std::map<std::string, Destination> destinations, std::string calling_aet);
  ~DestinationEcho();
  void start();
  void stop();
  std::vector<Reachability> latest();

 private:
  void run();
  std::map<std::string, Destination> destinations_;
  std::string calling_aet_;
  std::mutex mutex_;
  std::map<std::string, Reachability> latest_;
  Waker waker_;
  std::thread thread_;
};

}  // namespace volnode
