#pragma once
// Who may open an association: the calling AE title + host allow-list.
#include <string>
#include <vector>

#include "volnode/core/config.hpp"

namespace volnode {

bool isLoopbackAddress(const std::string& ip);

class PeerPolicy {
 public:
  // Host names in the rules are resolved once, here.
  explicit PeerPolicy(const std::vector<PeerRule>& rules);

  // The host may connect at all (some rule names it, or loopback when no rules).
  bool hostAllowed(const std::string& ip) const;
  // This AE title from this host may connect.
  bool peerAllowed(const std::string& calling_aet, const std::string& ip) const;

 private:
  struct ResolvedRule {
    std::string aet;                  // "*" = any
    std::vector<std::string> hosts;   // addresses; {"*"} = any
  };
  std::vector<ResolvedRule> rules_;
};

}  // namespace volnode
