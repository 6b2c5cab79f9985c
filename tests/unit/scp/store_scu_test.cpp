// StoreScu against real peers on loopback: DCMTK's storescp as the destination.
#include <gtest/gtest.h>

#include <chrono>
#include <set>

#include <dcmtk/dcmdata/dccodec.h>

#include "scu_test_support.hpp"
#include "volnode/scp/store_scu.hpp"

using namespace volnode;
using namespace volnode::test;

namespace {

class StoreScuTest : public ::testing::Test {
 protected:
  void SetUp() override { initDicomNetworking(); }
  TempDir dir_{"volnode-storescu"};
  StoreScu scu_{testSettings()};
  std::filesystem::path chest_ = sharedData() / "ct-chest-transfer-syntaxes";
  std::filesystem::path phantom_ = sharedData() / "ct-head-phantom-study";
};

std::set<std::string> uidsOf(const std::vector<std::filesystem::path>& files) {
  std::set<std::string> uids;
  for (const auto& file : files) uids.insert(metaOf(file).sop_instance);
  return uids;
}

}  // namespace

TEST_F(StoreScuTest, SeriesArrivesCompleteInItsOwnTransferSyntax) {
  StorescpProcess storescp(dir_.path(), "RECEIVER", {"+xa"});
  for (const char* folder : {"jpegls_lossless", "implicit_le"}) {
    const auto files = dicomFilesIn(chest_ / folder);
    ASSERT_EQ(files.size(), 30u) << folder;
    const std::string expected_syntax = metaOf(files.front()).transfer_syntax;

    const SendReport report = scu_.send(storescp.destination(), files);

    EXPECT_EQ(report.association, AssociationFailure::None) << report.association_error;
    ASSERT_EQ(report.files.size(), files.size());
    EXPECT_TRUE(report.allDelivered());
    for (const auto& result : report.files) {
      EXPECT_EQ(result.outcome, SendOutcome::Delivered) << result.path << ": " << result.text;
      EXPECT_EQ(result.status, 0x0000);
      EXPECT_EQ(result.transfer_syntax_uid, expected_syntax);
      EXPECT_EQ(result.sop_class_uid, kCtImageStorage);
    }
    auto received = receivedIn(storescp.received());
    for (const auto& uid : uidsOf(files)) {
      ASSERT_TRUE(received.count(uid)) << folder << ": " << uid << " did not arrive";
      EXPECT_EQ(received[uid].transfer_syntax, expected_syntax) << folder;
    }
  }
  EXPECT_EQ(receivedIn(storescp.received()).size(), 60u);
}

TEST_F(StoreScuTest, CompressedFileIsDecodedWhenDestinationTakesOnlyUncompressed) {
  // storescp without +xa accepts uncompressed syntaxes only; RLE is decoded by dcmdata.
  StorescpProcess storescp(dir_.path(), "RECEIVER");
  const auto files = dicomFilesIn(chest_ / "rle");
  ASSERT_EQ(metaOf(files.front()).transfer_syntax, kRleLossless);

  const SendReport report = scu_.send(storescp.destination(), files);

  ASSERT_TRUE(report.allDelivered()) << report.files.front().text;
  for (const auto& result : report.files) EXPECT_EQ(result.transfer_syntax_uid, kExplicitLittleEndian);
  auto received = receivedIn(storescp.received());
  EXPECT_EQ(received.size(), files.size());
  for (const auto& [uid, meta] : received) EXPECT_EQ(meta.transfer_syntax, kExplicitLittleEndian);
}

TEST_F(StoreScuTest, UnreachableDestinationIsReportedQuicklyWithoutSendingAnything) {
  const int closed_port = freePort();  // nothing listens there
  const Destination nowhere{"nowhere", DestinationType::Dimse, "NOWHERE", "127.0.0.1", static_cast<uint16_t>(closed_port), {}};
  const auto files = dicomFilesIn(chest_ / "implicit_le");

  const auto started = std::chrono::steady_clock::now();
  const SendReport report = scu_.send(nowhere, files);
  const auto elapsed = std::chrono::steady_clock::now() - started;

  EXPECT_LT(elapsed, std::chrono::seconds(5));
  EXPECT_EQ(report.association, AssociationFailure::Unreachable);
  EXPECT_NE(report.association_error.find("unreachable"), std::string::npos) << report.association_error;
  EXPECT_NE(report.association_error.find("NOWHERE@127.0.0.1:" + std::to_string(closed_port)), std::string::npos)
      << report.association_error;
  ASSERT_EQ(report.files.size(), files.size());
  for (const auto& result : report.files) {
    EXPECT_EQ(result.outcome, SendOutcome::Failed);
    EXPECT_FALSE(result.has_status);
    EXPECT_EQ(result.text, report.association_error);
  }
}

TEST_F(StoreScuTest, RejectedAssociationIsReportedWithItsReason) {
  StorescpProcess storescp(dir_.path(), "RECEIVER", {"--refuse"});
  const auto files = dicomFilesIn(chest_ / "implicit_le");

  const SendReport report = scu_.send(storescp.destination(), {files.front()});

  EXPECT_EQ(report.association, AssociationFailure::Rejected);
  EXPECT_NE(report.association_error.find("rejected"), std::string::npos) << report.association_error;
  EXPECT_EQ(report.files.front().outcome, SendOutcome::Failed);
  EXPECT_TRUE(receivedIn(storescp.received()).empty());
}

TEST_F(StoreScuTest, RefusedSopClassIsNotAcceptedWhileOthersAreDelivered) {
  StorescpProcess storescp(dir_.path(), "CTONLY", {"--config-file", writeCtOnlyProfile(dir_.path()).string(), "CTOnly"});
  const auto ct = dicomFilesIn(phantom_ / "S2010");
  const auto secondary_capture = dicomFilesIn(phantom_ / "S4010");
  ASSERT_EQ(metaOf(secondary_capture.front()).sop_class, kSecondaryCaptureStorage);
  std::vector<std::filesystem::path> files = secondary_capture;
  files.insert(files.end(), ct.begin(), ct.end());

  const SendReport report = scu_.send(storescp.destination(), files);

  EXPECT_EQ(report.association, AssociationFailure::None) << report.association_error;
  EXPECT_EQ(report.refused_sop_classes, std::set<std::string>{kSecondaryCaptureStorage});
  EXPECT_EQ(report.count(SendOutcome::NotAccepted), secondary_capture.size());
  EXPECT_EQ(report.count(SendOutcome::Delivered), ct.size());
  for (const auto& result : report.files) {
    if (result.sop_class_uid == kSecondaryCaptureStorage) {
      EXPECT_EQ(result.outcome, SendOutcome::NotAccepted);
      EXPECT_NE(result.text.find("does not accept"), std::string::npos) << result.text;
    } else {
      EXPECT_EQ(result.outcome, SendOutcome::Delivered) << result.text;
    }
  }
  auto received = receivedIn(storescp.received());
  EXPECT_EQ(received.size(), ct.size());
  for (const auto& [uid, meta] : received) EXPECT_EQ(meta.sop_class, kCtImageStorage);
}

TEST_F(StoreScuTest, DestinationRefusingEverySopClassMakesAllFilesNotAccepted) {
  StorescpProcess storescp(dir_.path(), "CTONLY", {"--config-file", writeCtOnlyProfile(dir_.path()).string(), "CTOnly"});
  const auto secondary_capture = dicomFilesIn(phantom_ / "S4010");

  const SendReport report = scu_.send(storescp.destination(), secondary_capture);

  EXPECT_EQ(report.association, AssociationFailure::None) << report.association_error;
  EXPECT_EQ(report.count(SendOutcome::NotAccepted), secondary_capture.size());
  EXPECT_EQ(report.refused_sop_classes, std::set<std::string>{kSecondaryCaptureStorage});
}

TEST_F(StoreScuTest, KnownRefusedSopClassIsNotProposed) {
  // This storescp would take Secondary Capture; the caller's cache says not to offer it.
  StorescpProcess storescp(dir_.path(), "RECEIVER");
  const auto ct = dicomFilesIn(phantom_ / "S2010");
  const auto secondary_capture = dicomFilesIn(phantom_ / "S4010");
  std::vector<std::filesystem::path> files{secondary_capture.front(), ct.front(), ct.back()};

  const SendReport report = scu_.send(storescp.destination(), files, {kSecondaryCaptureStorage});

  EXPECT_EQ(report.files[0].outcome, SendOutcome::NotAccepted);
  EXPECT_NE(report.files[0].text.find("not proposed"), std::string::npos) << report.files[0].text;
  EXPECT_EQ(report.files[1].outcome, SendOutcome::Delivered) << report.files[1].text;
  EXPECT_EQ(report.files[2].outcome, SendOutcome::Delivered) << report.files[2].text;
  EXPECT_TRUE(report.refused_sop_classes.empty());
  EXPECT_EQ(receivedIn(storescp.received()).size(), 2u);
  // storescp -d logs every proposed abstract syntax, by name.
  const std::string log = readText(storescp.log());
  EXPECT_NE(log.find("CTImageStorage"), std::string::npos) << "the proposal was not logged; cannot check it";
  EXPECT_EQ(log.find("SecondaryCapture"), std::string::npos) << "Secondary Capture was proposed";
  EXPECT_EQ(log.find(kSecondaryCaptureStorage), std::string::npos) << "Secondary Capture was proposed";
}

TEST_F(StoreScuTest, SopClassOutsideDestinationListIsNotProposed) {
  StorescpProcess storescp(dir_.path(), "RECEIVER");
  Destination destination = storescp.destination();
  destination.sop_classes = {kCtImageStorage};
  const auto files = std::vector<std::filesystem::path>{dicomFilesIn(phantom_ / "S4010").front(),
                                                        dicomFilesIn(phantom_ / "S2010").front()};

  const SendReport report = scu_.send(destination, files);

  EXPECT_EQ(report.files[0].outcome, SendOutcome::NotAccepted);
  EXPECT_EQ(report.files[1].outcome, SendOutcome::Delivered) << report.files[1].text;
  EXPECT_EQ(receivedIn(storescp.received()).size(), 1u);
}

TEST_F(StoreScuTest, UnreadableFileFailsAloneAndTheRestIsDelivered) {
  StorescpProcess storescp(dir_.path(), "RECEIVER", {"+xa"});
  const auto not_dicom = dir_.path() / "notes.txt";
  { std::ofstream(not_dicom) << "not a DICOM file"; }
  const auto good = dicomFilesIn(chest_ / "implicit_le").front();

  const SendReport report = scu_.send(storescp.destination(), {not_dicom, good, phantom_ / "S4010" / "DIRFILE"});

  ASSERT_EQ(report.files.size(), 3u);
  EXPECT_EQ(report.files[0].outcome, SendOutcome::Failed);
  EXPECT_FALSE(report.files[0].text.empty());
  EXPECT_EQ(report.files[1].outcome, SendOutcome::Delivered) << report.files[1].text;
  EXPECT_EQ(report.files[2].outcome, SendOutcome::Failed);
  EXPECT_NE(report.files[2].text.find("DICOMDIR"), std::string::npos) << report.files[2].text;
}

TEST_F(StoreScuTest, EchoSucceedsAgainstALivePeerAndFailsClearlyOtherwise) {
  StorescpProcess storescp(dir_.path(), "RECEIVER");
  const EchoResult live = scu_.echo(storescp.destination());
  EXPECT_TRUE(live.ok) << live.error;

  const Destination nowhere{"nowhere", DestinationType::Dimse, "NOWHERE", "127.0.0.1", static_cast<uint16_t>(freePort()), {}};
  const EchoResult dead = scu_.echo(nowhere);
  EXPECT_FALSE(dead.ok);
  EXPECT_EQ(dead.association, AssociationFailure::Unreachable);
  EXPECT_NE(dead.error.find("NOWHERE"), std::string::npos) << dead.error;
}

TEST_F(StoreScuTest, PeerAbortDuringStoreFailsThatFileAndLeavesTheRestUnsent) {
  StorescpProcess storescp(dir_.path(), "RECEIVER", {"--abort-during"});
  const auto files = dicomFilesIn(chest_ / "implicit_le");

  const SendReport report = scu_.send(storescp.destination(), files);

  EXPECT_EQ(report.association, AssociationFailure::Failed);
  EXPECT_NE(report.association_error.find("lost"), std::string::npos) << report.association_error;
  EXPECT_EQ(report.files.front().outcome, SendOutcome::Failed);
  EXPECT_NE(report.files.front().text.find("C-STORE to RECEIVER@"), std::string::npos) << report.files.front().text;
  for (std::size_t i = 1; i < report.files.size(); ++i) {
    EXPECT_EQ(report.files[i].outcome, SendOutcome::Failed);
    EXPECT_EQ(report.files[i].text.rfind("not sent: ", 0), 0u) << report.files[i].text;
  }
}

TEST_F(StoreScuTest, SilentPeerIsGivenUpAfterTheDimseTimeout) {
  StorescpProcess storescp(dir_.path(), "RECEIVER", {"--sleep-during", "20"});
  ScuSettings settings = testSettings();
  settings.dimse_timeout_s = 1;
  const StoreScu impatient(settings);
  const auto file = dicomFilesIn(chest_ / "implicit_le").front();

  const auto started = std::chrono::steady_clock::now();
  const SendReport report = impatient.send(storescp.destination(), {file});
  const auto elapsed = std::chrono::steady_clock::now() - started;

  EXPECT_LT(elapsed, std::chrono::seconds(8));
  EXPECT_EQ(report.files.front().outcome, SendOutcome::Failed);
  EXPECT_EQ(report.association, AssociationFailure::Failed);
  EXPECT_FALSE(report.files.front().has_status);
}

TEST_F(StoreScuTest, UndecodableFileFailsWithReasonWhenDestinationTakesOnlyUncompressed) {
  // Free DCMTK's dcmdata decodes RLE only; JPEG-LS needs dcmjpls, which this binary
  // does not register. Such a file is Failed (its class was accepted), not NotAccepted.
  StorescpProcess storescp(dir_.path(), "RECEIVER");
  const auto file = dicomFilesIn(chest_ / "jpegls_lossless").front();

  const SendReport report = scu_.send(storescp.destination(), {file});

  const auto& result = report.files.front();
  if (DcmCodecList::canChangeCoding(EXS_JPEGLSLossless, EXS_LittleEndianExplicit)) {
    EXPECT_EQ(result.outcome, SendOutcome::Delivered) << result.text;
    return;
  }
  EXPECT_EQ(result.outcome, SendOutcome::Failed);
  EXPECT_NE(result.text.find("cannot be decoded"), std::string::npos) << result.text;
  EXPECT_TRUE(report.refused_sop_classes.empty());
  EXPECT_TRUE(receivedIn(storescp.received()).empty());
}
