#pragma once
// Internal to volnode_scp: associations per peer address, for
// dicom.max_associations_per_host. A claim is made when a request is handed to a
// worker; the session takes the claim over while its association is alive (the
// association is the key only then) and releases it when the association ends.
#include <map>
#include <mutex>
#include <string>

namespace volnode {

class HostClaims {
 public:
  explicit HostClaims(int max_per_host) : max_per_host_(max_per_host) {}

  // Counts one more association from `peer`, under `association`; false (nothing
  // counted) when `peer` already has max_per_host.
  bool claim(const void* association, const std::string& peer);
  // The peer claimed under `association`, no longer under that key; "" when none.
  std::string take(const void* association);
  // One association from `peer` fewer; "" is ignored.
  void release(const std::string& peer);
  // Associations counted for `peer` now.
  int activeFrom(const std::string& peer) const;

 private:
  const int max_per_host_;
  mutable std::mutex mutex_;
  std::map<std::string, int> active_by_host_;
  std::map<const void*, std::string> claims_;
};

}  // namespace volnode
