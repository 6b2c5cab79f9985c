#pragma once
// The DICOM listener: C-ECHO and C-STORE for every storage SOP class, in all
// common transfer syntaxes, stored exactly as received (bit-preserving).
// A pool of worker threads serves up to dicom.max_associations associations.
#include <memory>

#include "volnode/core/config.hpp"
#include "volnode/scp/dicom_network.hpp"  // initDicomNetworking(), required at start-up
#include "volnode/scp/instance_sink.hpp"

namespace volnode {

struct ScpStatus {
  bool listening = false;
  int active_associations = 0;
  int64_t associations_total = 0;
  int64_t associations_refused = 0;
  std::string last_error;
};

class StoreScp {
 public:
  StoreScp(const DicomConfig& config, InstanceSink& sink);
  ~StoreScp();
  StoreScp(const StoreScp&) = delete;
  StoreScp& operator=(const StoreScp&) = delete;

  // Binds the port (throws Error(Errc::Network) if it cannot) and starts listening.
  void start();
  // Stops accepting; waits for associations in progress to end.
  void stop();
  ScpStatus status() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace volnode
