#pragma once
// Internal to volnode_scp: the DICOM port. Accepts TCP connections itself and reads
// each one's TLS handshake and association request on a thread of its own, under
// dicom.acse_timeout_s (see socket_handover.hpp for why), with a bound on how many
// connections, and how many from one address, may be negotiating at once. A
// complete request goes to the worker pool, within dicom.max_associations_per_host.
#include <atomic>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include <dcmtk/dcmnet/assoc.h>

#include "scp_shared.hpp"
#include "socket_handover.hpp"
#include "worker_pool.hpp"

namespace volnode {

class Acceptor {
 public:
  // `tls` (may be null) outlives the acceptor.
  Acceptor(ScpShared& shared, WorkerPool& pool, DcmTransportLayer* tls);
  ~Acceptor();
  Acceptor(const Acceptor&) = delete;
  Acceptor& operator=(const Acceptor&) = delete;

  // Binds dicom.bind:dicom.port and makes DCMTK's network on that socket. Throws
  // Error(Network) when it cannot, Error(InvalidConfig) for a bad bind address.
  void open();
  // Accepts on a thread of its own until stop().
  void start();
  bool running() const { return thread_.joinable(); }
  // Stops accepting; connections still negotiating are cut off.
  void stop();
  // Frees DCMTK's network, once no association uses it any more.
  void close();

  bool listening() const { return listening_; }
  std::string lastError() const;

 private:
  using Clock = std::chrono::steady_clock;
  struct Handshake;

  void listenLoop();
  void acceptConnections();
  void negotiate(const std::shared_ptr<Handshake>& handshake, int fd);
  void dispatch(T_ASC_Association* association, int fd, const std::string& peer);
  void expireHandshakes(Clock::time_point now);
  void reapHandshakes(bool all);
  int pollTimeoutMs(Clock::time_point now);
  int negotiatingFrom(const std::string& peer) const;

  ScpShared& shared_;
  WorkerPool& pool_;
  DcmTransportLayer* tls_;
  std::unique_ptr<HandoverLayer> handover_;  // outlives the network, which uses it
  T_ASC_Network* network_ = nullptr;
  int listen_fd_ = -1;
  int wake_fd_ = -1;
  std::thread thread_;
  std::atomic<bool> listening_{false};
  std::atomic<bool> stopping_{false};
  const int max_negotiating_;           // connections whose request is being read, at most
  const int max_negotiating_per_host_;  // of those, from one address: one host cannot take them all
  std::atomic<int> negotiating_{0};
  std::list<std::shared_ptr<Handshake>> handshakes_;  // listener thread only
  Clock::time_point last_overflow_log_{};
  Clock::time_point last_host_overflow_log_{};
  mutable std::mutex error_mutex_;
  std::string last_error_;
};

}  // namespace volnode
