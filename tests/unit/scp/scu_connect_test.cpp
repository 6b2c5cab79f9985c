// The TCP connect of an SCU association: each association waits for its own
// connect timeout only, while others connect at the same time; DCMTK's
// process-wide connect timeout is never touched.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <dcmtk/dcmnet/dul.h>

#include <atomic>
#include <chrono>
#include <future>
#include <thread>
#include <vector>

#include "scu_test_support.hpp"
#include "volnode/scp/store_scu.hpp"

using namespace volnode;
using namespace volnode::test;

namespace {

sockaddr_in loopback(int port) {
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<uint16_t>(port));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return address;
}

bool writeAll(int fd, const char* data, ssize_t size) {
  while (size > 0) {
    const ssize_t written = ::write(fd, data, static_cast<size_t>(size));
    if (written <= 0) return false;
    data += written;
    size -= written;
  }
  return true;
}

// A loopback port whose accept queue is full, so that a connect to it hangs (the
// kernel drops the SYN) until relayTo() frees the queue and passes every
// connection it then takes on to another port.
class StalledPort {
 public:
  StalledPort() {
    listener_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in address = loopback(0);
    socklen_t length = sizeof address;
    if (listener_ < 0 || ::bind(listener_, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
        ::listen(listener_, 0) != 0 || ::getsockname(listener_, reinterpret_cast<sockaddr*>(&address), &length) != 0)
      return;
    port_ = ntohs(address.sin_port);
    // Connections that complete take the queue's places; the first one that
    // does not complete shows that the queue is full.
    for (int i = 0; i < 16 && !full_; ++i) {
      const int filler = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
      sockaddr_in target = loopback(port_);
      ::connect(filler, reinterpret_cast<sockaddr*>(&target), sizeof target);
      fillers_.push_back(filler);
      pollfd p{filler, POLLOUT, 0};
      full_ = ::poll(&p, 1, 500) == 0;
    }
  }
  ~StalledPort() {
    stop_ = true;
    if (relay_.joinable()) relay_.join();
    for (int fd : fillers_) ::close(fd);
    if (listener_ >= 0) ::close(listener_);
  }
  StalledPort(const StalledPort&) = delete;
  StalledPort& operator=(const StalledPort&) = delete;

  bool full() const { return full_; }
  int port() const { return port_; }

  void relayTo(int target_port) {
    for (int fd : fillers_) ::close(fd);
    fillers_.clear();
    relay_ = std::thread([this, target_port] { relay(target_port); });
  }

 private:
  // One connection at a time: the fillers (already closed) first, then whatever comes.
  void relay(int target_port) {
    while (!stop_) {
      pollfd p{listener_, POLLIN, 0};
      if (::poll(&p, 1, 100) <= 0) continue;
      const int client = ::accept4(listener_, nullptr, nullptr, SOCK_CLOEXEC);
      if (client < 0) continue;
      pump(client, target_port);
      ::close(client);
    }
  }

  // The target is connected when the client first speaks (a closed filler never does).
  void pump(int client, int target_port) {
    int target = -1;
    char buffer[64 * 1024];
    while (!stop_) {
      pollfd p[2] = {{client, POLLIN, 0}, {target, POLLIN, 0}};
      if (::poll(p, target < 0 ? 1 : 2, 100) <= 0) continue;
      for (int i = 0; i < 2; ++i) {
        if (p[i].fd < 0 || (p[i].revents & (POLLIN | POLLHUP | POLLERR)) == 0) continue;
        const ssize_t got = ::read(p[i].fd, buffer, sizeof buffer);
        if (got <= 0) {
          if (target >= 0) ::close(target);
          return;
        }
        if (target < 0) {
          target = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
          sockaddr_in address = loopback(target_port);
          if (::connect(target, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
            ::close(target);
            return;
          }
        }
        if (!writeAll(i == 0 ? target : client, buffer, got)) {
          ::close(target);
          return;
        }
      }
    }
    if (target >= 0) ::close(target);
  }

  int listener_ = -1;
  int port_ = 0;
  bool full_ = false;
  std::vector<int> fillers_;
  std::atomic<bool> stop_{false};
  std::thread relay_;
};

ScuSettings withConnectTimeout(int seconds) {
  ScuSettings settings = testSettings();
  settings.connect_timeout_s = seconds;
  return settings;
}

}  // namespace

// A health check with a 1 s connect timeout and a send with a 60 s one go to a
// destination that does not answer the connect, at the same time. The check
// gives up after its own second; the send keeps waiting, and connects once the
// destination answers, which it does only after the check has given up, so it
// has waited longer than the check's timeout. Before each association set its
// timeout in DCMTK's dcmConnectionTimeout, the last one set applied to both.
TEST(ScuConnect, EachAssociationWaitsForItsOwnConnectTimeoutOnly) {
  initDicomNetworking();
  const Sint32 dcmtk_timeout_before = dcmConnectionTimeout.get();
  TempDir dir("volnode-scu-connect");
  StorescpProcess storescp(dir.path(), "RECEIVER");
  StalledPort stalled;
  ASSERT_TRUE(stalled.full()) << "could not fill the accept queue of a loopback port";
  const Destination slow{"slow", DestinationType::Dimse, "RECEIVER", "127.0.0.1", static_cast<uint16_t>(stalled.port()), {}};

  auto patient = std::async(std::launch::async, [&] { return StoreScu(withConnectTimeout(60)).echo(slow); });
  const auto started = std::chrono::steady_clock::now();
  const EchoResult hasty = StoreScu(withConnectTimeout(1)).echo(slow);
  const auto hasty_took = std::chrono::steady_clock::now() - started;
  stalled.relayTo(storescp.port());
  const EchoResult patient_result = patient.get();

  EXPECT_FALSE(hasty.ok);
  EXPECT_EQ(hasty.association, AssociationFailure::Unreachable) << hasty.error;
  EXPECT_NE(hasty.error.find("no answer within 1 s"), std::string::npos) << hasty.error;
  EXPECT_LT(hasty_took, std::chrono::seconds(10)) << "the 1 s connect waited for the other association's timeout";
  EXPECT_TRUE(patient_result.ok) << "the 60 s connect gave up early: " << patient_result.error;
  EXPECT_EQ(dcmConnectionTimeout.get(), dcmtk_timeout_before) << "DCMTK's process-wide connect timeout was changed";
}

// The host name is resolved by the node; each address it resolves to is tried
// ("localhost" may give ::1 first, where storescp does not listen).
TEST(ScuConnect, HostNameIsResolvedAndEachAddressTried) {
  initDicomNetworking();
  TempDir dir("volnode-scu-connect");
  StorescpProcess storescp(dir.path(), "RECEIVER");
  Destination by_name = storescp.destination();
  by_name.host = "localhost";
  const EchoResult echo = StoreScu(testSettings()).echo(by_name);
  EXPECT_TRUE(echo.ok) << echo.error;

  Destination unknown = storescp.destination();
  unknown.host = "no-such-host.invalid";
  const EchoResult failed = StoreScu(testSettings()).echo(unknown);
  EXPECT_FALSE(failed.ok);
  EXPECT_EQ(failed.association, AssociationFailure::Unreachable) << failed.error;
  EXPECT_NE(failed.error.find("unknown host 'no-such-host.invalid'"), std::string::npos) << failed.error;
}
