// Slow and abusive peers must not take the DICOM listener away from everyone
// else: silent TCP connections, an A-ASSOCIATE-RQ dribbled one byte per second,
// and more idle associations than dicom.max_associations. A normal peer's
// C-ECHO still succeeds quickly and the node drops the abusers after its timeouts
// (acse 2 s, dimse 3 s, idle 3 s here). About 25 s in all.
#include <gtest/gtest.h>

#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <thread>
#include <dcmtk/dcmdata/dcuid.h>

#include "reliability_support.hpp"

using namespace volnode::test;
using namespace volnode::test::reliability;

namespace {

std::vector<std::string> timeouts(const std::filesystem::path& dir) {
  return {noRendering(dir), "dicom.max_associations=2", "dicom.acse_timeout_s=2", "dicom.dimse_timeout_s=3",
          "dicom.idle_timeout_s=3"};
}

struct Sockets {
  std::vector<int> fds;
  ~Sockets() {
    for (int fd : fds)
      if (fd >= 0) ::close(fd);
  }
};

}  // namespace

TEST(AbusivePeers, SilentTcpConnectionsDoNotBlockOthersAndAreDropped) {
  TempDir dir("volnode-rel-silent");
  NodeProcess node(dir / "node", timeouts(dir.path()));
  Sockets silent;
  for (int i = 0; i < 3; ++i) {
    silent.fds.push_back(connectLoopback(node.dicomPort()));
    ASSERT_GE(silent.fds.back(), 0);
  }
  std::this_thread::sleep_for(200ms);
  auto elapsed = echo(node);
  // The silent connections do not delay a normal peer: its C-ECHO is done long
  // before the first of them could have been timed out (acse_timeout_s=2).
  ASSERT_TRUE(elapsed.has_value()) << "C-ECHO failed while 3 silent connections were open\n" << node.log();
  EXPECT_LT(elapsed->count(), 2000) << "3 silent TCP connections held a normal peer back";
  // Each silent connection is closed by the node within the ACSE timeout (+ slack).
  for (int fd : silent.fds) EXPECT_TRUE(closedByPeer(fd, 8s)) << "a silent connection was never dropped";
  EXPECT_TRUE(node.running());
  EXPECT_TRUE(echo(node).has_value()) << "no C-ECHO after the silent connections were dropped";
  EXPECT_NE(node.log().find("no association request within 2 s"), std::string::npos)
      << "dropping a silent connection is not logged:\n" << node.log();
  RecordProperty("echo_beside_silent_ms", static_cast<int>(elapsed->count()));
  node.kill9();  // a clean stop is not under test here; it costs seconds
}

TEST(AbusivePeers, AssociateRequestDribbledByteByByteIsDroppedAndOthersAreServed) {
  TempDir dir("volnode-rel-dribble");
  NodeProcess node(dir / "node", timeouts(dir.path()));
  const std::string pdu = associateRequestPdu("VOLNODE", "DRIBBLER", UID_VerificationSOPClass, UID_LittleEndianImplicitTransferSyntax);
  int fd = connectLoopback(node.dicomPort());
  ASSERT_GE(fd, 0);
  std::atomic<bool> dropped{false};
  std::atomic<int> bytes_sent{0};
  std::atomic<bool> stop{false};
  std::thread dribbler([&] {
    for (char c : pdu) {
      if (stop) return;
      if (::send(fd, &c, 1, MSG_NOSIGNAL) != 1) {
        dropped = true;
        return;
      }
      ++bytes_sent;
      for (int i = 0; i < 10 && !stop; ++i) std::this_thread::sleep_for(100ms);  // one byte per second
    }
  });
  std::this_thread::sleep_for(300ms);
  auto elapsed = echo(node);
  ASSERT_TRUE(elapsed.has_value()) << "C-ECHO failed while a peer dribbled its A-ASSOCIATE-RQ";
  EXPECT_LT(elapsed->count(), 1000) << "a normal peer waited behind a peer dribbling its A-ASSOCIATE-RQ";
  // Within the ACSE timeout (2 s) plus slack the node must give up on the dribbler;
  // at one byte per second the whole PDU would take minutes.
  bool closed = closedByPeer(fd, 10s) || dropped;
  stop = true;
  dribbler.join();
  ::close(fd);
  EXPECT_TRUE(closed) << "the node was still reading the dribbled A-ASSOCIATE-RQ after " << bytes_sent
                      << " bytes / seconds (acse_timeout_s=2)";
  EXPECT_TRUE(node.running());
  EXPECT_TRUE(echo(node).has_value());
  EXPECT_NE(node.log().find("no association request within 2 s"), std::string::npos)
      << "dropping the dribbler is not logged:\n" << node.log();
  RecordProperty("echo_beside_dribbler_ms", static_cast<int>(elapsed->count()));
  node.kill9();
}

TEST(AbusivePeers, IdleAssociationsBeyondTheLimitAreRefusedThenTimedOut) {
  TempDir dir("volnode-rel-idle");
  NodeProcess node(dir / "node", timeouts(dir.path()));
  // Three peers negotiate and then say nothing; max_associations=2.
  std::vector<std::unique_ptr<RawAssociation>> idle;
  int accepted = 0;
  for (int i = 0; i < 3; ++i) {
    idle.push_back(std::make_unique<RawAssociation>());
    if (idle.back()->open(node.dicomPort(), UID_VerificationSOPClass, UID_LittleEndianImplicitTransferSyntax, "VOLNODE", "IDLE" + std::to_string(i)))
      ++accepted;
  }
  EXPECT_EQ(accepted, 2) << "max_associations=2 but " << accepted << " idle associations were accepted";
  // The one beyond the limit is answered with an A-ASSOCIATE-RJ (PDU type 3), not left waiting.
  EXPECT_NE(idle.back()->lastError().find("PDU type 3"), std::string::npos) << idle.back()->lastError();

  // A normal peer is answered at once (refused while the limit is reached, never
  // left hanging), and succeeds as soon as the idle ones were timed out.
  auto started = std::chrono::steady_clock::now();
  bool served = false;
  while (std::chrono::steady_clock::now() - started < 15s) {
    auto attempt_started = std::chrono::steady_clock::now();
    auto result = run(node.scu("echoscu", {"-to", "5", "-ta", "5", "-td", "5"}), 20s);
    auto attempt = std::chrono::steady_clock::now() - attempt_started;
    EXPECT_LT(attempt, 4s) << "an echoscu attempt hung: " << result.output;
    if (result.exit_code == 0) {
      served = true;
      break;
    }
    std::this_thread::sleep_for(250ms);
  }
  auto waited = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started);
  EXPECT_TRUE(served) << "a normal peer was never served while idle associations were held";
  // The idle associations end after idle_timeout_s (3 s) + slack.
  EXPECT_LT(waited.count(), 8000);
  for (auto& a : idle)
    if (a->fd() >= 0) {
      EXPECT_TRUE(closedByPeer(a->fd(), 8s)) << "an idle association was never dropped";
    }
  EXPECT_TRUE(node.running());
  RecordProperty("normal_peer_waited_ms", static_cast<int>(waited.count()));
  node.kill9();
}

// dicom.idle_timeout_s is documented as "an open association with no command for
// this long is dropped"; with a long DIMSE timeout an idle association must still
// end after idle_timeout_s.
TEST(AbusivePeers, IdleTimeoutEndsAnAssociationWithoutCommands) {
  TempDir dir("volnode-rel-idle-timeout");
  NodeProcess node(dir / "node", {noRendering(dir.path()), "dicom.idle_timeout_s=2", "dicom.dimse_timeout_s=30"});
  RawAssociation idle;
  ASSERT_TRUE(idle.open(node.dicomPort(), UID_VerificationSOPClass, UID_LittleEndianImplicitTransferSyntax)) << idle.lastError();
  auto opened = std::chrono::steady_clock::now();
  // Not before idle_timeout_s: the association is kept while it may still be used ...
  EXPECT_FALSE(closedByPeer(idle.fd(), 1500ms)) << "dropped before dicom.idle_timeout_s=2";
  // ... and dropped soon after it (the peer never reads, so nothing waits for it to close).
  bool dropped = closedByPeer(idle.fd(), 4500ms);
  auto lived = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - opened);
  EXPECT_TRUE(dropped) << "an association without commands outlived dicom.idle_timeout_s=2 by more than 4 s";
  EXPECT_NE(node.log().find("no command for 2 s"), std::string::npos) << node.log();
  RecordProperty("idle_association_lived_ms", static_cast<int>(lived.count()));
  node.kill9();
}

// Inside an association DCMTK bounds the reading of each PDU, not of a whole message:
// a peer that sends a C-STORE's data set, or its next command, as one P-DATA-TF PDU
// a second carrying two bytes each (DCMTK refuses odd fragments) holds its association (one of
// dicom.max_associations) for as long as it likes. The node cuts a data set arriving
// slower than dicom.min_receive_kib_per_s once dicom.dimse_timeout_s (3 s here) has
// passed, and a command not complete within idle_timeout_s + dimse_timeout_s (6 s here).
TEST(AbusivePeers, CStoreDataOrCommandDribbledWithinEveryTimeoutIsCut) {
  TempDir dir("volnode-rel-dribble-store");
  auto overrides = timeouts(dir.path());
  overrides.push_back("dicom.min_receive_kib_per_s=4");
  NodeProcess node(dir / "node", overrides);

  RawAssociation data_peer, command_peer;
  ASSERT_TRUE(data_peer.open(node.dicomPort(), UID_CTImageStorage, UID_LittleEndianImplicitTransferSyntax, "VOLNODE", "DATADRIP"))
      << data_peer.lastError();
  ASSERT_TRUE(command_peer.open(node.dicomPort(), UID_CTImageStorage, UID_LittleEndianImplicitTransferSyntax, "VOLNODE", "CMDDRIP"))
      << command_peer.lastError();
  // One peer sends a whole C-STORE command, then its data set two bytes per PDU; the
  // other sends its command two bytes per PDU. A complete PDU a second is within every
  // DCMTK timeout (dimse 3 s, idle 3 s).
  const std::string command = data_peer.storeCommandPdu(UID_CTImageStorage, "1.2.3.4.5.6.7.8.1");
  const std::string slow_command = command_peer.storeCommandPdu(UID_CTImageStorage, "1.2.3.4.5.6.7.8.2");
  const std::string command_content = slow_command.substr(12);  // after the PDU and PDV headers

  std::atomic<bool> stop{false};
  // Sends `content` two bytes per P-DATA-TF PDU, one PDU a second (control: 0x00 data, 0x01 command).
  auto dribble = [&stop](int fd, const std::string& content, uint8_t control) {
    for (size_t i = 0; i + 2 <= content.size() && !stop; i += 2) {
      const std::string pdu = RawAssociation::pDataPdu(content.substr(i, 2), control);
      if (::send(fd, pdu.data(), pdu.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(pdu.size())) return;
      for (int t = 0; t < 10 && !stop; ++t) std::this_thread::sleep_for(100ms);
    }
  };
  ASSERT_EQ(::send(data_peer.fd(), command.data(), command.size(), MSG_NOSIGNAL), static_cast<ssize_t>(command.size()));
  auto started = std::chrono::steady_clock::now();
  std::thread data_thread(dribble, data_peer.fd(), std::string(16000, '\0'), uint8_t(0x00));
  std::thread command_thread(dribble, command_peer.fd(), command_content, uint8_t(0x01));
  const bool data_cut = closedByPeer(data_peer.fd(), 12s);
  const bool command_cut = closedByPeer(command_peer.fd(), 12s);
  auto lasted = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started);
  stop = true;
  data_thread.join();
  command_thread.join();

  EXPECT_TRUE(data_cut) << "a C-STORE data set sent at 2 bytes/s was still being read after 12 s\n" << node.log();
  EXPECT_TRUE(command_cut) << "a command sent at 2 bytes/s was still being read after 12 s\n" << node.log();
  EXPECT_NE(node.log().find("association from 'DATADRIP' at 127.0.0.1: data set arriving too slowly"),
            std::string::npos)
      << node.log();
  EXPECT_NE(node.log().find("association from 'CMDDRIP' at 127.0.0.1: no complete command within 6 s"),
            std::string::npos)
      << node.log();
  // Both association slots are free again; nothing of the cut instance was kept.
  EXPECT_TRUE(node.running());
  EXPECT_TRUE(echo(node).has_value()) << node.log();
  EXPECT_TRUE(indexedInstances(storageDir(node)).empty());
  RecordProperty("dribblers_cut_after_ms", static_cast<int>(lasted.count()));
  node.kill9();
}

// Connections still sending their association request are capped in all (max(32,
// 4 x max_associations)) and per address (a quarter of that): one host opening
// connections without end cannot take every slot and lock out the others.
TEST(AbusivePeers, OneAddressCannotTakeEveryNegotiatingSlot) {
  TempDir dir("volnode-rel-per-host");
  NodeProcess node(dir / "node", timeouts(dir.path()));  // max_associations=2: 32 in all, 8 per address
  Sockets flood;
  for (int i = 0; i < 40; ++i) {
    flood.fds.push_back(connectLoopback(node.dicomPort(), "127.0.0.2"));
    ASSERT_GE(flood.fds.back(), 0) << "cannot connect from 127.0.0.2";
  }
  std::this_thread::sleep_for(300ms);
  int closed_at_once = 0;
  for (int fd : flood.fds) closed_at_once += closedByPeer(fd, 20ms) ? 1 : 0;  // the 8 kept cost 160 ms
  // Another address is served while the flood still holds its 8 slots (acse_timeout_s=2).
  auto elapsed = echo(node);
  EXPECT_EQ(closed_at_once, 32) << "connections from one address beyond its 8 negotiating slots";
  ASSERT_TRUE(elapsed.has_value()) << "a C-ECHO from 127.0.0.1 failed while 127.0.0.2 flooded the listener\n"
                                   << node.log();
  EXPECT_LT(elapsed->count(), 2000);
  EXPECT_NE(node.log().find("connection from 127.0.0.2 closed at once: 8 connections from that address"),
            std::string::npos)
      << node.log();
  node.kill9();
}

// dicom.bind: the listener takes connections on that address only.
TEST(AbusivePeers, ListenerBindsToTheConfiguredAddressOnly) {
  TempDir dir("volnode-rel-bind");
  NodeProcess node(dir / "node", {noRendering(dir.path()), "dicom.bind=\"127.0.0.2\""});
  EXPECT_EQ(connectLoopback(node.dicomPort()), -1) << "the node listens on 127.0.0.1 with dicom.bind = 127.0.0.2";
  auto argv = node.scu("echoscu", {"-to", "5", "-ta", "5", "-td", "5"});
  argv[argv.size() - 2] = "127.0.0.2";
  auto result = run(argv, 20s);
  EXPECT_EQ(result.exit_code, 0) << result.output << node.log();
  EXPECT_NE(node.log().find("on 127.0.0.2:" + std::to_string(node.dicomPort())), std::string::npos) << node.log();
  node.kill9();
}

// dicom.max_associations_per_host: one address (a misbehaving modality) holds at most
// that many associations; more from it are refused at once while other addresses
// are still served, and its slots come back when its associations end.
TEST(AbusivePeers, OneAddressHoldsAtMostItsShareOfAssociations) {
  TempDir dir("volnode-rel-per-host-assoc");
  NodeProcess node(dir / "node", {noRendering(dir.path()), "dicom.max_associations=4",
                                  "dicom.max_associations_per_host=2", "dicom.idle_timeout_s=30"});
  std::vector<std::unique_ptr<RawAssociation>> held;
  int accepted = 0;
  for (int i = 0; i < 3; ++i) {
    held.push_back(std::make_unique<RawAssociation>());
    if (held.back()->open(node.dicomPort(), UID_VerificationSOPClass, UID_LittleEndianImplicitTransferSyntax, "VOLNODE", "BUSY" + std::to_string(i),
                          5000ms, "127.0.0.2"))
      ++accepted;
  }
  EXPECT_EQ(accepted, 2) << "max_associations_per_host=2 but 127.0.0.2 got " << accepted;
  EXPECT_NE(held.back()->lastError().find("PDU type 3"), std::string::npos) << held.back()->lastError();
  auto elapsed = echo(node);
  ASSERT_TRUE(elapsed.has_value()) << "127.0.0.1 was not served while 127.0.0.2 held its share\n" << node.log();
  EXPECT_NE(node.log().find("too many associations from 127.0.0.2 (dicom.max_associations_per_host = 2)"),
            std::string::npos)
      << node.log();
  // One of the two ends: 127.0.0.2 may open one again.
  held.front()->release();
  bool reopened = waitFor(
      [&] {
        RawAssociation again;
        return again.open(node.dicomPort(), UID_VerificationSOPClass, UID_LittleEndianImplicitTransferSyntax, "VOLNODE", "AGAIN", 5000ms, "127.0.0.2");
      },
      5s, 250ms);
  EXPECT_TRUE(reopened) << "the address's slot did not come back after its association was released\n" << node.log();
  node.kill9();
}
