#pragma once
// Internal to volnode_scp: the state the listener's acceptor, its worker pool and
// every association session share.
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include <spdlog/spdlog.h>

#include "host_claims.hpp"
#include "peer_policy.hpp"
#include "socket_handover.hpp"
#include "volnode/core/config.hpp"
#include "volnode/core/logging.hpp"
#include "volnode/scp/instance_sink.hpp"
#include "volnode/scp/transfer_watch.hpp"

namespace volnode {

struct ScpShared {
  ScpShared(const DicomConfig& config, InstanceSink& sink);

  const DicomConfig config;
  InstanceSink& sink;
  const PeerPolicy policy;
  std::shared_ptr<spdlog::logger> log = moduleLogger("scp");
  std::atomic<int> active{0};
  std::atomic<int64_t> total{0};
  std::atomic<int64_t> refused{0};
  TransferWatch watch;
  AssociationSockets sockets;
  HostClaims hosts;

  // Counts, logs and records (for the console) an association that was turned away.
  void recordRefusal(const AssociationInfo& info, const std::string& why);
};

// An AE title without DCMTK's trailing spaces.
std::string trimmedTitle(const char* text);

}  // namespace volnode
