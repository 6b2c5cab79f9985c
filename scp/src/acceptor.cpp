#include "acceptor.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cerrno>
#include <cstring>

#include <dcmtk/dcmnet/dul.h>

#include "volnode/core/error.hpp"

namespace volnode {
namespace {

// How long an association waits for a worker that is finishing its last one (0.5 s).
constexpr int kBusyRetries = 25;
constexpr auto kBusyRetryPause = std::chrono::milliseconds(20);

int openListenSocket(const std::string& bind, uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0)
    throw Error(Errc::Network, std::string("cannot create the DICOM listener socket: ") + std::strerror(errno));
  int yes = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(port);
  if (::inet_pton(AF_INET, bind.c_str(), &address.sin_addr) != 1) {
    ::close(fd);
    throw Error(Errc::InvalidConfig, "dicom.bind = \"" + bind + "\" is not an IPv4 address");
  }
  if (::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 || ::listen(fd, 64) != 0) {
    int error = errno;
    ::close(fd);
    throw Error(Errc::Network, "cannot listen on DICOM port " + bind + ":" + std::to_string(port) + ": " +
                                   std::strerror(error));
  }
  return fd;
}

std::string addressText(const sockaddr_in& address) {
  char text[INET_ADDRSTRLEN] = {};
  ::inet_ntop(AF_INET, &address.sin_addr, text, sizeof text);
  return text;
}

}  // namespace

// A connection whose association request is being read.
struct Acceptor::Handshake {
  std::string peer;
  Clock::time_point deadline;
  std::thread thread;
  std::mutex mutex;
  int watch_fd = -1;  // a duplicate of the socket, so the deadline can shut it down; closed when done
  bool done = false;
  bool expired = false;
  std::atomic<bool> finished{false};
};

Acceptor::Acceptor(ScpShared& shared, WorkerPool& pool, DcmTransportLayer* tls)
    : shared_(shared),
      pool_(pool),
      tls_(tls),
      max_negotiating_(std::max(32, 4 * shared.config.max_associations)),
      max_negotiating_per_host_(std::max(4, max_negotiating_ / 4)) {}

Acceptor::~Acceptor() {
  stop();
  close();
}

void Acceptor::open() {
  const DicomConfig& config = shared_.config;
  listen_fd_ = openListenSocket(config.bind, config.port);
  // A valid handle while the network is made: DCMTK then opens no listening socket of its own.
  beginHandover(listen_fd_);
  OFCondition cond = ASC_initializeNetwork(NET_ACCEPTOR, config.port, config.acse_timeout_s, &network_);
  endHandover();
  handover_ = std::make_unique<HandoverLayer>(tls_);
  if (cond.good()) cond = ASC_setTransportLayer(network_, handover_.get(), 0);
  wake_fd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (cond.bad() || wake_fd_ < 0) {
    ::close(listen_fd_);
    listen_fd_ = -1;
    if (network_) ASC_dropNetwork(&network_);
    if (wake_fd_ >= 0) ::close(wake_fd_);
    wake_fd_ = -1;
    throw Error(Errc::Network, std::string("cannot start the DICOM listener: ") +
                                   (cond.bad() ? cond.text() : std::strerror(errno)));
  }
}

void Acceptor::start() {
  listening_ = true;
  thread_ = std::thread([this] {
    try {
      listenLoop();
    } catch (const std::exception& e) {
      std::lock_guard lock(error_mutex_);
      last_error_ = e.what();
      shared_.log->critical("DICOM listener on port {} stopped: {}", shared_.config.port, e.what());
    }
    listening_ = false;
  });
}

void Acceptor::stop() {
  if (!thread_.joinable()) return;
  stopping_ = true;
  uint64_t one = 1;
  [[maybe_unused]] auto written = ::write(wake_fd_, &one, sizeof one);
  thread_.join();
}

void Acceptor::close() {
  if (listen_fd_ >= 0) ::close(listen_fd_);  // opened, never started
  listen_fd_ = -1;
  if (network_) ASC_dropNetwork(&network_);
  if (wake_fd_ >= 0) ::close(wake_fd_);
  wake_fd_ = -1;
}

std::string Acceptor::lastError() const {
  std::lock_guard lock(error_mutex_);
  return last_error_;
}

int Acceptor::pollTimeoutMs(Clock::time_point now) {
  auto wait = std::chrono::milliseconds(1000);
  for (const auto& h : handshakes_) {
    std::lock_guard lock(h->mutex);
    if (!h->done && !h->expired)
      wait = std::min(wait, std::chrono::duration_cast<std::chrono::milliseconds>(h->deadline - now) +
                                std::chrono::milliseconds(1));
  }
  return static_cast<int>(std::max<int64_t>(0, wait.count()));
}

void Acceptor::listenLoop() {
  while (!stopping_) {
    pollfd fds[2] = {{listen_fd_, POLLIN, 0}, {wake_fd_, POLLIN, 0}};
    int ready = ::poll(fds, 2, pollTimeoutMs(Clock::now()));
    if (stopping_) break;
    expireHandshakes(Clock::now());
    for (const auto& cut : shared_.watch.enforce(Clock::now())) shared_.log->warn("{}", cut);
    reapHandshakes(false);
    if (ready > 0 && (fds[0].revents & POLLIN)) acceptConnections();
  }
  ::close(listen_fd_);
  listen_fd_ = -1;
  // Connections still negotiating_ are cut off; their threads end at once.
  for (const auto& h : handshakes_) {
    std::lock_guard lock(h->mutex);
    if (!h->done && h->watch_fd >= 0) ::shutdown(h->watch_fd, SHUT_RDWR);
  }
  reapHandshakes(true);
}

void Acceptor::acceptConnections() {
  while (true) {
    sockaddr_in address{};
    socklen_t length = sizeof address;
    int fd = ::accept4(listen_fd_, reinterpret_cast<sockaddr*>(&address), &length, SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EINTR || errno == ECONNABORTED) continue;
      if (errno != EAGAIN && errno != EWOULDBLOCK) {
        shared_.log->error("DICOM listener cannot accept a connection: {}", std::strerror(errno));
        std::this_thread::sleep_for(std::chrono::milliseconds(100));  // e.g. out of file descriptors
      }
      return;
    }
    const std::string peer = addressText(address);
    if (negotiating_ >= max_negotiating_) {
      ::close(fd);
      shared_.refused++;
      auto now = Clock::now();
      if (now - last_overflow_log_ > std::chrono::seconds(10)) {
        last_overflow_log_ = now;
        shared_.log->warn("connection from {} closed at once: {} connections are already negotiating_", peer,
                         max_negotiating_);
      }
      continue;
    }
    if (negotiatingFrom(peer) >= max_negotiating_per_host_) {
      ::close(fd);
      shared_.refused++;
      auto now = Clock::now();
      if (now - last_host_overflow_log_ > std::chrono::seconds(10)) {
        last_host_overflow_log_ = now;
        shared_.log->warn("connection from {} closed at once: {} connections from that address are already negotiating_",
                         peer, max_negotiating_per_host_);
      }
      continue;
    }
    auto handshake = std::make_shared<Handshake>();
    handshake->peer = peer;
    handshake->deadline = Clock::now() + std::chrono::seconds(shared_.config.acse_timeout_s);
    handshake->watch_fd = ::fcntl(fd, F_DUPFD_CLOEXEC, 0);
    if (handshake->watch_fd < 0) {
      shared_.log->error("connection from {} closed: {}", peer, std::strerror(errno));
      ::close(fd);
      continue;
    }
    negotiating_++;
    try {
      handshake->thread = std::thread([this, handshake, fd] { negotiate(handshake, fd); });
    } catch (const std::exception& e) {
      negotiating_--;
      shared_.log->error("connection from {} closed: cannot start a thread: {}", peer, e.what());
      ::close(handshake->watch_fd);
      ::close(fd);
      continue;
    }
    handshakes_.push_back(std::move(handshake));
  }
}

// On its own thread: the TLS handshake and the A-ASSOCIATE-RQ of one connection.
void Acceptor::negotiate(const std::shared_ptr<Handshake>& handshake, int fd) {
  T_ASC_Association* association = nullptr;
  beginHandover(fd);
  OFCondition cond = ASC_receiveAssociation(network_, &association, shared_.config.max_pdu, nullptr, nullptr,
                                            tls_ ? OFTrue : OFFalse, DUL_NOBLOCK, 1);
  const bool taken = !handoverPending();  // DCMTK made a connection of the socket: it closes it
  endHandover();
  bool expired = false;
  {
    std::lock_guard lock(handshake->mutex);
    handshake->done = true;
    expired = handshake->expired;
    ::close(handshake->watch_fd);
    handshake->watch_fd = -1;
  }
  negotiating_--;
  // DCMTK also reports success when the connection closed (or was shut down at the
  // deadline) before any request came: then there is no application context.
  const bool requested = cond.good() && !expired && association &&
                         association->params->DULparams.applicationContextName[0] != '\0';
  if (requested) {
    dispatch(association, fd, handshake->peer);
  } else {
    if (!stopping_) {
      if (expired || cond == DUL_READTIMEOUT)
        shared_.log->warn("connection from {} dropped: no association request within {} s (dicom.acse_timeout_s)",
                         handshake->peer, shared_.config.acse_timeout_s);
      else
        shared_.log->warn("connection from {} closed before an association: {}", handshake->peer,
                         cond.good() ? "no association request" : cond.text());
    }
    if (association) {
      ASC_dropAssociation(association);
      ASC_destroyAssociation(&association);
    }
    if (!taken) ::close(fd);
  }
  handshake->finished = true;
}

void Acceptor::dispatch(T_ASC_Association* association, int fd, const std::string& peer) {
  AssociationInfo info{0, trimmedTitle(association->params->DULparams.callingAPTitle),
                       trimmedTitle(association->params->DULparams.calledAPTitle), peer};
  std::string why;
  if (shared_.config.max_associations_per_host > 0 && !shared_.hosts.claim(association, peer)) {
    pool_.refuse(association, true);
    why = "too many associations from " + peer + " (dicom.max_associations_per_host = " +
          std::to_string(shared_.config.max_associations_per_host) + ")";
  } else {
    shared_.sockets.remember(association, fd);
    bool busy = false;
    // A peer that releases an association and opens its next one at once (Orthanc
    // pushing a backlog) can find the last free worker still winding down the old
    // one: wait briefly for it before refusing. The wait holds only this handshake.
    for (int tries = 0;; ++tries) {
      if (pool_.hand(association, &busy)) return;
      if (!busy || stopping_ || tries >= kBusyRetries) break;
      std::this_thread::sleep_for(kBusyRetryPause);
    }
    // Forgotten before the association is destroyed: its address may be reused at once.
    shared_.sockets.take(association);
    shared_.hosts.release(shared_.hosts.take(association));
    pool_.refuse(association, busy);
    why = "too many associations (dicom.max_associations = " + std::to_string(shared_.config.max_associations) + ")";
  }
  shared_.recordRefusal(info, why);
}

int Acceptor::negotiatingFrom(const std::string& peer) const {
  int count = 0;
  for (const auto& h : handshakes_)
    if (h->peer == peer && !h->finished) count++;
  return count;
}

void Acceptor::expireHandshakes(Clock::time_point now) {
  for (const auto& h : handshakes_) {
    std::lock_guard lock(h->mutex);
    if (h->done || h->expired || now < h->deadline) continue;
    h->expired = true;
    ::shutdown(h->watch_fd, SHUT_RDWR);  // the reading thread returns at once
  }
}

void Acceptor::reapHandshakes(bool all) {
  for (auto it = handshakes_.begin(); it != handshakes_.end();) {
    if (all || (*it)->finished) {
      (*it)->thread.join();
      it = handshakes_.erase(it);
    } else {
      ++it;
    }
  }
}

}  // namespace volnode
