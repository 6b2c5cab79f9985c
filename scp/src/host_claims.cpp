#include "host_claims.hpp"

namespace volnode {

bool HostClaims::claim(const void* association, const std::string& peer) {
  std::lock_guard lock(mutex_);
  if (active_by_host_[peer] >= max_per_host_) return false;
  active_by_host_[peer]++;
  claims_[association] = peer;
  return true;
}

std::string HostClaims::take(const void* association) {
  std::lock_guard lock(mutex_);
  auto claim = claims_.find(association);
  if (claim == claims_.end()) return "";
  std::string peer = claim->second;
  claims_.erase(claim);
  return peer;
}

void HostClaims::release(const std::string& peer) {
  if (peer.empty()) return;
  std::lock_guard lock(mutex_);
  if (--active_by_host_[peer] <= 0) active_by_host_.erase(peer);
}

int HostClaims::activeFrom(const std::string& peer) const {
  std::lock_guard lock(mutex_);
  auto found = active_by_host_.find(peer);
  return found == active_by_host_.end() ? 0 : found->second;
}

}  // namespace volnode
