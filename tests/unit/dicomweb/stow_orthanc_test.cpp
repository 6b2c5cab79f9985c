// STOW-RS against a real origin server: Orthanc with its DICOMweb plugin (Debian's
// orthanc-dicomweb), on loopback.
#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcfilefo.h>
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "support/orthanc_process.hpp"
#include "support/process.hpp"
#include "volnode/core/error.hpp"
#include "volnode/dicomweb/dicomweb_source.hpp"
#include "volnode/dicomweb/stow_client.hpp"

using namespace volnode;
using namespace volnode::dicomweb;
using volnode::test::OrthancFeatures;
using volnode::test::OrthancProcess;
using volnode::test::readBytes;
using volnode::test::TempDir;

namespace {

constexpr char kCtImageStorage[] = "1.2.840.10008.5.1.4.1.1.2";

std::vector<std::filesystem::path> gantryTiltFiles(size_t count) {
  std::vector<std::filesystem::path> files;
  for (const char* name : {"09.dcm", "14.dcm", "28.dcm"})
    if (files.size() < count) files.push_back(volnode::test::sharedData() / "ct-head-gantry-tilt" / name);
  return files;
}

Destination webDestination(const OrthancProcess& orthanc) {
  Destination d;
  d.name = "web";
  d.type = DestinationType::DicomWeb;
  d.url = orthanc.dicomWebUrl();
  d.timeout_s = 30;
  return d;
}

std::string writeSecret(const TempDir& dir, const std::string& name, const std::string& secret) {
  std::ofstream(dir / name) << secret << "\n";
  return (dir / name).string();
}

nlohmann::json orthancJson(const OrthancProcess& orthanc, const std::string& path) {
  auto response = orthanc.get(path);
  EXPECT_EQ(response.status, 200) << path;
  return nlohmann::json::parse(response.body, nullptr, false);
}

// Orthanc's instance id of a SOP Instance UID ("" when it does not have it).
std::string orthancInstance(const OrthancProcess& orthanc, const std::string& sop_uid) {
  auto found = nlohmann::json::parse(orthanc.post("/tools/lookup", sop_uid, "text/plain").body, nullptr, false);
  if (!found.is_array()) return "";
  for (const auto& r : found)
    if (r.value("Type", "") == "Instance") return r.value("ID", "");
  return "";
}

// A copy of `source` in study `study_uid`, without `remove` when it is set.
std::filesystem::path modifiedCopy(const std::filesystem::path& source, const std::filesystem::path& target,
                                   const char* study_uid, const DcmTagKey* remove = nullptr) {
  DcmFileFormat file;
  EXPECT_TRUE(file.loadFile(source.c_str()).good());
  file.getDataset()->putAndInsertString(DCM_StudyInstanceUID, study_uid);
  if (remove) file.getDataset()->findAndDeleteElement(*remove);
  EXPECT_TRUE(file.saveFile(target.c_str(), EXS_LittleEndianExplicit).good());
  return target;
}

// Retrieved instances as files in a folder, as the node's store slots would be.
class FilesInFolder : public RetrievedInstances {
 public:
  explicit FilesInFolder(std::filesystem::path dir) : dir_(std::move(dir)) {}
  std::filesystem::path begin() override { return current_ = dir_ / (std::to_string(kept.size() + 1) + ".dcm"); }
  bool complete() override {
    kept.push_back(current_);
    return true;
  }
  void discard() override { std::filesystem::remove(current_); }
  std::vector<std::filesystem::path> kept;

 private:
  std::filesystem::path dir_, current_;
};

}  // namespace

// The same Orthanc then answers QIDO-RS and WADO-RS: what was stored comes back.
TEST(StowOrthanc, StoredInstancesArriveInTheirStudyByteIdenticalAndOnceAndComeBackByWadoRs) {
  TempDir dir;
  OrthancProcess orthanc(dir / "orthanc", {}, "", OrthancFeatures{true, "", ""});
  auto files = gantryTiltFiles(3);
  StowClient client(webDestination(orthanc), StowSettings{2, 256ull << 20});  // two requests: 2 + 1
  for (int round = 0; round < 2; ++round) {  // the second send must not duplicate anything
    auto report = client.store(files);
    EXPECT_EQ(report.request_error, "");
    ASSERT_EQ(report.files.size(), 3u);
    for (const auto& f : report.files) {
      EXPECT_EQ(f.outcome, StowOutcome::Stored) << f.path << ": " << f.text;
      EXPECT_EQ(f.sop_class_uid, kCtImageStorage);
    }
  }
  auto studies = orthancJson(orthanc, "/studies");
  ASSERT_EQ(studies.size(), 1u);
  EXPECT_EQ(orthancJson(orthanc, "/instances").size(), 3u);
  DcmFileFormat first;
  ASSERT_TRUE(first.loadFile(files[0].c_str()).good());
  OFString study_uid;
  first.getDataset()->findAndGetOFString(DCM_StudyInstanceUID, study_uid);
  EXPECT_EQ(orthancJson(orthanc, "/studies/" + studies[0].get<std::string>())["MainDicomTags"].value("StudyInstanceUID", ""),
            study_uid.c_str());
  auto report = client.store(files);
  for (size_t i = 0; i < files.size(); ++i) {
    std::string id = orthancInstance(orthanc, report.files[i].sop_instance_uid);
    ASSERT_FALSE(id.empty()) << report.files[i].sop_instance_uid;
    EXPECT_TRUE(orthanc.get("/instances/" + id + "/file").body == readBytes(files[i])) << files[i];
  }

  DicomWebSource source(webDestination(orthanc));
  auto series = source.seriesOfStudy(study_uid.c_str());
  ASSERT_EQ(series.size(), 1u);
  EXPECT_EQ(series[0].number_of_instances, 3);
  EXPECT_EQ(series[0].modality, "CT");
  auto by_uid = source.seriesByUid(series[0].series_instance_uid);
  ASSERT_TRUE(by_uid);
  EXPECT_EQ(by_uid->study_instance_uid, study_uid.c_str());
  EXPECT_FALSE(source.seriesByUid("1.2.3.4.5.6"));
  EXPECT_TRUE(source.seriesOfStudy("1.2.3.4.5.6").empty());
  EXPECT_THROW(source.seriesOfStudy("1.2/../x"), Error);

  std::filesystem::create_directories(dir / "retrieved");
  FilesInFolder into(dir / "retrieved");
  auto retrieved = source.retrieve(study_uid.c_str(), series[0].series_instance_uid, into);
  EXPECT_EQ(retrieved.error, "");
  EXPECT_EQ(retrieved.kept, 3);
  std::set<std::string> sent, back;
  for (const auto& f : files) sent.insert(readBytes(f));
  for (const auto& f : into.kept) back.insert(readBytes(f));
  EXPECT_TRUE(sent == back) << "WADO-RS did not return the stored bytes";
  FilesInFolder nothing(dir / "retrieved");
  auto unknown = source.retrieve("1.2.3.4.5.6", "", nothing);
  EXPECT_TRUE(unknown.nothing_matched) << unknown.error;
  EXPECT_EQ(unknown.kept, 0);
}

TEST(StowOrthanc, AnInstanceTheServerRefusesIsFailedWithItsReasonAndTheRestIsStored) {
  TempDir dir;
  OrthancProcess orthanc(dir / "orthanc", {}, "", OrthancFeatures{true, "", ""});
  auto source = gantryTiltFiles(2);
  // Orthanc cannot store an instance without a Series Instance UID: FailureReason 0xC000.
  const DcmTagKey series_uid = DCM_SeriesInstanceUID;
  std::vector<std::filesystem::path> files{modifiedCopy(source[0], dir / "no-series.dcm", "1.2.826.0.1.99.1", &series_uid),
                                           modifiedCopy(source[1], dir / "good.dcm", "1.2.826.0.1.99.1")};
  auto report = StowClient(webDestination(orthanc)).store(files);
  EXPECT_EQ(report.request_error, "");
  ASSERT_EQ(report.files.size(), 2u);
  EXPECT_EQ(report.files[0].outcome, StowOutcome::Failed);
  EXPECT_TRUE(report.files[0].has_reason);
  EXPECT_EQ(report.files[0].reason, 0xC000);
  EXPECT_NE(report.files[0].text.find("FailureReason"), std::string::npos) << report.files[0].text;
  EXPECT_EQ(report.files[1].outcome, StowOutcome::Stored) << report.files[1].text;
  EXPECT_EQ(orthancJson(orthanc, "/instances").size(), 1u);
  EXPECT_FALSE(orthancInstance(orthanc, report.files[1].sop_instance_uid).empty());
}

TEST(StowOrthanc, WrongCredentialsGiveHttp401WithoutTheSecretAndStoreNothing) {
  TempDir dir;
  OrthancProcess orthanc(dir / "orthanc", {}, "", OrthancFeatures{true, "volnode", "right-password"});
  Destination d = webDestination(orthanc);
  d.username = "volnode";
  d.password_file = writeSecret(dir, "password", "wrong-password");
  auto files = gantryTiltFiles(2);
  auto report = StowClient(d).store(files);
  EXPECT_EQ(report.http_status, 401);
  EXPECT_NE(report.request_error.find("HTTP 401"), std::string::npos) << report.request_error;
  EXPECT_EQ(report.request_error.find("wrong-password"), std::string::npos);
  for (const auto& f : report.files) {
    EXPECT_EQ(f.outcome, StowOutcome::Failed);
    EXPECT_EQ(f.text, report.request_error);
  }
  EXPECT_EQ(orthancJson(orthanc, "/instances").size(), 0u);
  auto probe = StowClient(d).probe();
  EXPECT_FALSE(probe.ok);
  EXPECT_EQ(probe.http_status, 401);

  // A bearer token Orthanc does not know is refused the same way.
  Destination bearer = webDestination(orthanc);
  bearer.token_file = writeSecret(dir, "token", "not-a-token");
  EXPECT_EQ(StowClient(bearer).store(files).http_status, 401);

  // The right password (read from its file, trailing newline dropped) stores them.
  d.password_file = writeSecret(dir, "password", "right-password");
  report = StowClient(d).store(files);
  EXPECT_EQ(report.request_error, "");
  for (const auto& f : report.files) EXPECT_EQ(f.outcome, StowOutcome::Stored) << f.text;
  EXPECT_EQ(orthancJson(orthanc, "/instances").size(), 2u);
  EXPECT_TRUE(StowClient(d).probe().ok);
}

TEST(StowOrthanc, KnownRefusedAndUnlistedClassesAreNotSent) {
  TempDir dir;
  OrthancProcess orthanc(dir / "orthanc", {}, "", OrthancFeatures{true, "", ""});
  auto files = gantryTiltFiles(2);
  auto report = StowClient(webDestination(orthanc)).store(files, {kCtImageStorage});
  for (const auto& f : report.files) EXPECT_EQ(f.outcome, StowOutcome::NotAccepted);
  Destination only_sc = webDestination(orthanc);
  only_sc.sop_classes = {"1.2.840.10008.5.1.4.1.1.7"};
  report = StowClient(only_sc).store(files);
  for (const auto& f : report.files) EXPECT_EQ(f.outcome, StowOutcome::NotAccepted);
  EXPECT_EQ(orthancJson(orthanc, "/instances").size(), 0u);
}

TEST(StowOrthanc, NoServerAtTheUrlIsATransportErrorForEveryFile) {
  Destination d;
  d.name = "nobody";
  d.type = DestinationType::DicomWeb;
  d.url = "http://127.0.0.1:" + std::to_string(volnode::test::freePort()) + "/dicom-web";
  d.timeout_s = 5;
  auto report = StowClient(d).store(gantryTiltFiles(2));
  EXPECT_EQ(report.http_status, 0);
  EXPECT_NE(report.request_error.find("cannot connect"), std::string::npos) << report.request_error;
  for (const auto& f : report.files) EXPECT_EQ(f.outcome, StowOutcome::Failed);
}

TEST(StowSettingsCheck, UnreadableSecretOrBadUrlIsNamedByItsKey) {
  TempDir dir;
  Destination d;
  d.name = "cloud";
  d.type = DestinationType::DicomWeb;
  d.url = "https://pacs.example.org:8443/dicom-web";
  d.token_file = (dir / "missing-token").string();
  try {
    checkDicomWebSettings(d);
    FAIL() << "a missing token file was accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("destinations.cloud.token_file"), std::string::npos) << e.what();
  }
  d.token_file = writeSecret(dir, "token", "abc");
  EXPECT_NO_THROW(checkDicomWebSettings(d));
  std::ofstream(dir / "empty");
  d.token_file = (dir / "empty").string();
  EXPECT_THROW(checkDicomWebSettings(d), Error);
  d.token_file.clear();
  d.url = "https://pacs.example.org:99999/dicom-web";
  try {
    checkDicomWebSettings(d);
    FAIL() << "port 99999 was accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("destinations.cloud.url"), std::string::npos) << e.what();
  }
}
