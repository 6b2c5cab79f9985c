// RetrieveScu against a real Orthanc holding two series of the chest CT study;
// C-MOVE delivers to DCMTK's storescp, registered in Orthanc as our node's AE title.
#include <gtest/gtest.h>

#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcfilefo.h>

#include <chrono>
#include <map>
#include <memory>

#include "scu_test_support.hpp"
#include "support/orthanc_process.hpp"
#include "volnode/core/error.hpp"
#include "volnode/scp/retrieve_scu.hpp"

using namespace volnode;
using namespace volnode::test;

namespace {

constexpr const char* kOurAet = "VOLNODE";

std::string datasetString(const std::filesystem::path& file, const DcmTagKey& tag) {
  DcmFileFormat dicom;
  OFString value;
  if (dicom.loadFile(file.c_str()).good()) dicom.getDataset()->findAndGetOFString(tag, value);
  return value.c_str();
}

// One Orthanc and one receiver for the whole suite: starting Orthanc and
// uploading 60 instances is the slow part.
class RetrieveScuTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    initDicomNetworking();
    dir_ = new TempDir("volnode-retrievescu");
    // Our node: the calling AE of the queries and the destination of the moves.
    receiver_ = new StorescpProcess(dir_->path() / "receiver", kOurAet, {"+xa"});
    orthanc_ = new OrthancProcess(dir_->path() / "orthanc",
                                  {OrthancModality{"volnode", kOurAet, "127.0.0.1", receiver_->port()}});
    const auto chest = sharedData() / "ct-chest-transfer-syntaxes";
    uploaded_ = new std::map<std::string, std::string>;  // series UID -> folder
    for (const char* folder : {"jpegls_lossless", "implicit_le"}) {
      const auto files = dicomFilesIn(chest / folder);
      for (const auto& file : files) {
        const auto response = orthanc_->post("/instances", readText(file), "application/dicom");
        ASSERT_EQ(response.status, 200) << file << ": " << response.body;
      }
      (*uploaded_)[datasetString(files.front(), DCM_SeriesInstanceUID)] = folder;
      study_uid_ = datasetString(files.front(), DCM_StudyInstanceUID);
    }
  }
  static void TearDownTestSuite() {
    delete orthanc_;
    delete receiver_;
    delete dir_;
    delete uploaded_;
    orthanc_ = nullptr;
    receiver_ = nullptr;
    dir_ = nullptr;
    uploaded_ = nullptr;
  }
  void SetUp() override {
    ASSERT_NE(orthanc_, nullptr);
    std::filesystem::remove_all(receiver_->received());
    std::filesystem::create_directories(receiver_->received());
  }

  static Destination pacs() {
    return {"orthanc", DestinationType::Dimse, orthanc_->aet(), "127.0.0.1", static_cast<uint16_t>(orthanc_->dicomPort()), {}};
  }

  static inline TempDir* dir_ = nullptr;
  static inline StorescpProcess* receiver_ = nullptr;
  static inline OrthancProcess* orthanc_ = nullptr;
  static inline std::map<std::string, std::string>* uploaded_ = nullptr;
  static inline std::string study_uid_;
  RetrieveScu scu_{testSettings(kOurAet)};
};

}  // namespace

TEST_F(RetrieveScuTest, FindSeriesReturnsEverySeriesOfTheStudy) {
  const auto series = scu_.findSeries(pacs(), study_uid_);

  ASSERT_EQ(series.size(), 2u);
  for (const auto& s : series) {
    ASSERT_TRUE(uploaded_->count(s.series_instance_uid)) << s.series_instance_uid;
    const std::string folder = uploaded_->at(s.series_instance_uid);
    EXPECT_EQ(s.modality, "CT");
    EXPECT_NE(s.series_description.find(folder), std::string::npos) << s.series_description;
    ASSERT_TRUE(s.number_of_instances.has_value());
    EXPECT_EQ(*s.number_of_instances, 30);
    EXPECT_TRUE(s.series_number.has_value());
  }
}

TEST_F(RetrieveScuTest, FindSeriesByUidAloneTellsItsStudy) {
  for (const auto& [series_uid, folder] : *uploaded_) {
    const auto found = scu_.findSeriesByUid(pacs(), series_uid);
    ASSERT_TRUE(found.has_value()) << folder;
    EXPECT_EQ(found->series_instance_uid, series_uid);
    EXPECT_EQ(found->study_instance_uid, study_uid_);
    EXPECT_EQ(found->patient_id, datasetString(dicomFilesIn(sharedData() / "ct-chest-transfer-syntaxes" / folder).front(),
                                               DCM_PatientID));
    EXPECT_EQ(found->modality, "CT");
    ASSERT_TRUE(found->number_of_instances.has_value());
    EXPECT_EQ(*found->number_of_instances, 30);
  }
  EXPECT_FALSE(scu_.findSeriesByUid(pacs(), "1.2.826.0.1.3680043.8.498.2").has_value());
  EXPECT_THROW(scu_.findSeriesByUid(pacs(), "not-a-uid"), Error);
  EXPECT_TRUE(receivedIn(receiver_->received()).empty());
}

TEST_F(RetrieveScuTest, FindStudyReturnsTheStudyLevelAttributes) {
  const auto study = scu_.findStudy(pacs(), study_uid_);

  ASSERT_TRUE(study.has_value());
  EXPECT_EQ(study->study_instance_uid, study_uid_);
  EXPECT_FALSE(study->patient_id.empty());
  ASSERT_TRUE(study->number_of_series.has_value());
  EXPECT_EQ(*study->number_of_series, 2);
  ASSERT_TRUE(study->number_of_instances.has_value());
  EXPECT_EQ(*study->number_of_instances, 60);
}

TEST_F(RetrieveScuTest, UnknownStudyHasNoSeriesAndMovesNothing) {
  const std::string unknown = "1.2.826.0.1.3680043.8.498.1";

  EXPECT_TRUE(scu_.findSeries(pacs(), unknown).empty());
  EXPECT_FALSE(scu_.findStudy(pacs(), unknown).has_value());
  const MoveResult moved = scu_.moveStudy(pacs(), unknown, kOurAet);
  EXPECT_FALSE(moved.ok());
  EXPECT_EQ(moved.completed, 0);
  EXPECT_TRUE(moved.nothing_matched) << moved.status_text;
  EXPECT_NE(moved.status_text.find("has no study " + unknown), std::string::npos) << moved.status_text;
  EXPECT_TRUE(receivedIn(receiver_->received()).empty());
}

TEST_F(RetrieveScuTest, MoveStudyDeliversEveryInstanceToOurNode) {
  const MoveResult moved = scu_.moveStudy(pacs(), study_uid_, kOurAet);

  EXPECT_TRUE(moved.ok()) << moved.status_text;
  EXPECT_EQ(moved.status, 0x0000);
  EXPECT_EQ(moved.completed, 60);
  EXPECT_EQ(moved.failed, 0);
  EXPECT_EQ(moved.warning, 0);
  EXPECT_FALSE(moved.nothing_matched);
  EXPECT_EQ(receivedIn(receiver_->received()).size(), 60u);
}

TEST_F(RetrieveScuTest, MoveSeriesDeliversOnlyThatSeries) {
  const auto series = scu_.findSeries(pacs(), study_uid_);
  ASSERT_FALSE(series.empty());
  const auto& chosen = series.front();

  const MoveResult moved = scu_.moveSeries(pacs(), study_uid_, chosen.series_instance_uid, kOurAet);

  EXPECT_TRUE(moved.ok()) << moved.status_text;
  EXPECT_EQ(moved.completed, 30);
  const auto received = receivedIn(receiver_->received());
  EXPECT_EQ(received.size(), 30u);
  const auto folder = sharedData() / "ct-chest-transfer-syntaxes" / uploaded_->at(chosen.series_instance_uid);
  for (const auto& file : dicomFilesIn(folder)) EXPECT_TRUE(received.count(metaOf(file).sop_instance)) << file;
}

TEST_F(RetrieveScuTest, MoveToAnAeTitleThePeerDoesNotKnowFails) {
  const MoveResult moved = scu_.moveStudy(pacs(), study_uid_, "STRANGER");

  EXPECT_FALSE(moved.ok());
  EXPECT_NE(moved.status, 0x0000) << moved.status_text;
  EXPECT_FALSE(moved.status_text.empty());
  EXPECT_FALSE(moved.nothing_matched) << "the study exists; the destination is the problem";
  EXPECT_TRUE(receivedIn(receiver_->received()).empty());
}

TEST_F(RetrieveScuTest, UnreachablePeerThrowsANetworkErrorNamingIt) {
  const Destination nowhere{"nowhere", DestinationType::Dimse, "NOWHERE", "127.0.0.1", static_cast<uint16_t>(freePort()), {}};
  try {
    scu_.findSeries(nowhere, study_uid_);
    FAIL() << "no error for an unreachable peer";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), Errc::Network);
    EXPECT_NE(std::string(e.what()).find("NOWHERE@127.0.0.1"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("unreachable"), std::string::npos) << e.what();
  }
  EXPECT_THROW(scu_.moveStudy(nowhere, study_uid_, kOurAet), Error);
}

TEST_F(RetrieveScuTest, RefusedAssociationThrowsANetworkError) {
  TempDir dir("volnode-refuse");
  StorescpProcess refusing(dir.path(), "REFUSER", {"--refuse"});
  try {
    scu_.findSeries(refusing.destination(), study_uid_);
    FAIL() << "no error for a refused association";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), Errc::Network);
    EXPECT_NE(std::string(e.what()).find("rejected"), std::string::npos) << e.what();
  }
}

TEST_F(RetrieveScuTest, PeerWithoutQueryRetrieveThrowsANetworkError) {
  // storescp is a storage SCP only: it refuses the Study Root FIND context.
  TempDir dir("volnode-nofind");
  StorescpProcess store_only(dir.path(), "STOREONLY");
  try {
    scu_.findSeries(store_only.destination(), study_uid_);
    FAIL() << "no error for a peer without C-FIND";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), Errc::Network);
    EXPECT_NE(std::string(e.what()).find("does not accept"), std::string::npos) << e.what();
  }
}

TEST_F(RetrieveScuTest, MalformedStudyUidIsAnInvalidArgument) {
  try {
    scu_.findSeries(pacs(), "");
    FAIL() << "an empty UID would match every study";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), Errc::InvalidArgument);
  }
  EXPECT_THROW(scu_.moveStudy(pacs(), "not-a-uid", kOurAet), Error);
}
