// TransferWatch: which waits are cut, and that cutting really ends a blocked read.
// Times are given explicitly, so nothing here depends on the machine's speed.
#include "volnode/scp/transfer_watch.hpp"

#include <gtest/gtest.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

using namespace std::chrono_literals;
using volnode::TransferWatch;

namespace {

TransferWatch::Limits limits() {
  TransferWatch::Limits l;
  l.command_wait = 10s;
  l.data_grace = 5s;
  l.min_data_bytes_per_s = 1000;
  l.send_wait = 5s;
  return l;
}

// A connected pair of sockets; the watch gets one end.
struct SocketPair {
  int ours = -1, theirs = -1;
  SocketPair() {
    int fds[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM, 0, fds) == 0) ours = fds[0], theirs = fds[1];
  }
  ~SocketPair() {
    if (ours >= 0) ::close(ours);
    if (theirs >= 0) ::close(theirs);
  }
  // True when the far end sees the connection closed (read returns 0).
  bool closedForPeer() const {
    pollfd p{theirs, POLLIN, 0};
    if (::poll(&p, 1, 0) != 1) return false;
    char c;
    return ::recv(theirs, &c, 1, MSG_DONTWAIT) == 0;
  }
};

const auto t0 = TransferWatch::Clock::time_point{} + 1000s;

}  // namespace

TEST(TransferWatch, CommandWaitIsBoundedAsAWholeAndTheSocketIsShutDown) {
  TransferWatch watch(limits());
  SocketPair pair;
  auto id = watch.watch(pair.ours, "association from 'SLOW' at 10.0.0.9");
  watch.waitingForCommand(id, t0);
  EXPECT_TRUE(watch.enforce(t0 + 10s).empty());
  EXPECT_FALSE(pair.closedForPeer());
  auto cut = watch.enforce(t0 + 11s);
  ASSERT_EQ(cut.size(), 1u);
  EXPECT_NE(cut[0].find("association from 'SLOW' at 10.0.0.9"), std::string::npos) << cut[0];
  EXPECT_NE(cut[0].find("no complete command within 10 s"), std::string::npos) << cut[0];
  EXPECT_TRUE(pair.closedForPeer());
  // Cut once: a connection is forgotten when it is cut.
  EXPECT_TRUE(watch.enforce(t0 + 20s).empty());
}

TEST(TransferWatch, DataSetMustKeepTheMinimumRateOnceTheGraceHasPassed) {
  TransferWatch watch(limits());
  SocketPair pair;
  auto id = watch.watch(pair.ours, "peer");
  watch.receivingData(id, t0);
  // Nothing at all within the grace is allowed (a slow start, a large first PDU) ...
  EXPECT_TRUE(watch.enforce(t0 + 5s).empty());
  // ... after it the bytes must keep up: 1000 B/s for the 3 s since the grace is 3000 bytes.
  watch.received(id, 3000);
  EXPECT_TRUE(watch.enforce(t0 + 8s).empty());
  auto cut = watch.enforce(t0 + 9s);
  ASSERT_EQ(cut.size(), 1u);
  EXPECT_NE(cut[0].find("3000 bytes in 9 s"), std::string::npos) << cut[0];
  EXPECT_NE(cut[0].find("dicom.min_receive_kib_per_s"), std::string::npos) << cut[0];
  EXPECT_TRUE(pair.closedForPeer());
}

TEST(TransferWatch, EachPhaseStartsItsOwnClockAndWorkIsNotWatched) {
  TransferWatch watch(limits());
  SocketPair pair;
  auto id = watch.watch(pair.ours, "peer");
  watch.receivingData(id, t0);
  watch.received(id, 1'000'000);
  watch.working(id);  // storing the instance: the node's own time, never cut
  EXPECT_TRUE(watch.enforce(t0 + 1000s).empty());
  // A new data set counts its own bytes: the million before does not carry over.
  watch.receivingData(id, t0 + 1000s);
  EXPECT_EQ(watch.enforce(t0 + 1007s).size(), 1u);
}

TEST(TransferWatch, SendingToAPeerThatDoesNotReadIsBounded) {
  TransferWatch watch(limits());
  SocketPair pair;
  auto id = watch.watch(pair.ours, "peer");
  watch.sending(id, t0);
  EXPECT_TRUE(watch.enforce(t0 + 5s).empty());
  ASSERT_EQ(watch.enforce(t0 + 6s).size(), 1u);
}

TEST(TransferWatch, ZeroMinimumRateNeverCutsADataSetAndForgottenSocketsAreLeftAlone) {
  auto l = limits();
  l.min_data_bytes_per_s = 0;
  TransferWatch watch(l);
  SocketPair slow, done;
  auto slow_id = watch.watch(slow.ours, "slow");
  watch.receivingData(slow_id, t0);
  auto done_id = watch.watch(done.ours, "done");
  watch.waitingForCommand(done_id, t0);
  watch.forget(done_id);
  EXPECT_TRUE(watch.enforce(t0 + 3600s).empty());
  EXPECT_FALSE(slow.closedForPeer());
  EXPECT_FALSE(done.closedForPeer()) << "a forgotten socket (its owner may have closed and reused it) was shut down";
  // Calls for a cut or forgotten id are harmless.
  watch.received(done_id, 10);
  watch.sending(done_id, t0);
  EXPECT_TRUE(watch.enforce(t0 + 7200s).empty());
}
