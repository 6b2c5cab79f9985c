// End to end with a DICOMweb destination: Orthanc (Debian's package with its
// DICOMweb plugin) pushes a study to a real `volnode serve` by C-STORE; the results
// go back by STOW-RS to Orthanc's /dicom-web, through the same send jobs (resume,
// retries, refusal cache) as C-STORE.
#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcfilefo.h>
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <thread>

#include "support/node_process.hpp"
#include "support/orthanc_process.hpp"

using namespace volnode::test;
using nlohmann::json;
using namespace std::chrono_literals;

namespace {

constexpr char kCtImageStorage[] = "1.2.840.10008.5.1.4.1.1.2";
constexpr size_t kResultsPerCtSeries = 4;  // VR spin, MIP spin, key views, STL model

std::string readBytes(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  std::stringstream content;
  content << in.rdbuf();
  return content.str();
}

std::string upload(const OrthancProcess& orthanc, const std::filesystem::path& folder) {
  std::string study;
  for (const auto& entry : std::filesystem::directory_iterator(folder)) {
    auto response = orthanc.post("/instances", readBytes(entry.path()), "application/dicom");
    if (response.status == 200) study = json::parse(response.body).value("ParentStudy", study);
  }
  return study;
}

json orthancJson(const OrthancProcess& orthanc, const std::string& path) {
  auto response = orthanc.get(path);
  EXPECT_EQ(response.status, 200) << path;
  return json::parse(response.body.empty() ? "null" : response.body, nullptr, false);
}

std::vector<json> sendJobs(const NodeProcess& node) {
  std::vector<json> out;
  auto response = node.get("/api/jobs?kind=send");
  auto body = json::parse(response.status == 200 ? response.body : "{}", nullptr, false);
  if (body.is_object() && body.contains("jobs"))
    for (const auto& j : body["jobs"]) out.push_back(j);
  return out;
}

json waitForFinishedSend(const NodeProcess& node, std::chrono::seconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    for (const auto& j : sendJobs(node)) {
      std::string state = j.value("state", "");
      if (state == "succeeded" || state == "failed" || state == "canceled") return j;
    }
    std::this_thread::sleep_for(500ms);
  }
  return json();
}

std::vector<std::string> nodeSettings(int node_port, const OrthancProcess& orthanc, std::vector<std::string> more = {}) {
  std::vector<std::string> settings{"dicom.port=" + std::to_string(node_port),
                                    "completion.quiet_s=5",
                                    "render.spin_frames=8",
                                    "render.size=256",
                                    "outputs.reformats=false",  // the four 3D results; reformats are tested with C-STORE
                                    "destinations.pacs.type=\"dicomweb\"",
                                    "destinations.pacs.url=\"" + orthanc.dicomWebUrl() + "\""};
  settings.insert(settings.end(), more.begin(), more.end());
  return settings;
}

// The result files the node wrote, by SOP Instance UID.
std::map<std::string, std::filesystem::path> nodeResults(const std::filesystem::path& node_dir) {
  std::map<std::string, std::filesystem::path> out;
  for (const auto& e : std::filesystem::recursive_directory_iterator(node_dir)) {
    if (!e.is_regular_file() || e.path().string().find("/results/") == std::string::npos) continue;
    DcmFileFormat file;
    if (!file.loadFile(e.path().c_str()).good()) continue;
    OFString uid;
    if (file.getDataset()->findAndGetOFString(DCM_SOPInstanceUID, uid).good()) out[uid.c_str()] = e.path();
  }
  return out;
}

}  // namespace

TEST(EndToEndDicomWeb, ResultsArriveByStowInTheSourceStudyByteIdenticalAndOnce) {
  TempDir dir;
  int node_port = freePort();
  OrthancProcess orthanc(dir / "orthanc", {{"volnode", "VOLNODE", "127.0.0.1", node_port}}, "",
                         OrthancFeatures{true, "", ""});
  NodeProcess node(dir / "node", nodeSettings(node_port, orthanc));
  std::string study = upload(orthanc, sharedData() / "ct-chest-transfer-syntaxes" / "implicit_le");
  ASSERT_FALSE(study.empty());
  std::string study_uid = orthancJson(orthanc, "/studies/" + study)["MainDicomTags"].value("StudyInstanceUID", "");
  ASSERT_EQ(orthanc.post("/modalities/volnode/store", json{{"Resources", {study}}}.dump()).status, 200);

  auto done = waitForFinishedSend(node, 240s);
  ASSERT_TRUE(done.is_object()) << node.log();
  EXPECT_EQ(done.value("state", ""), "succeeded") << done.dump() << node.log();
  EXPECT_EQ(done.value("attempts", 0), 1);

  auto results = nodeResults(node.dir());
  ASSERT_EQ(results.size(), kResultsPerCtSeries);
  auto instances = orthancJson(orthanc, "/studies/" + study + "/instances");
  EXPECT_EQ(instances.size(), 30u + kResultsPerCtSeries) << "duplicates or missing results";
  EXPECT_EQ(orthancJson(orthanc, "/studies").size(), 1u);
  size_t compared = 0;
  for (const auto& i : instances) {
    std::string id = i["ID"];
    auto tags = orthancJson(orthanc, "/instances/" + id + "/simplified-tags");
    EXPECT_EQ(tags.value("StudyInstanceUID", ""), study_uid);
    if (tags.value("SOPClassUID", "") == kCtImageStorage) continue;
    auto local = results.find(tags.value("SOPInstanceUID", ""));
    ASSERT_NE(local, results.end()) << "Orthanc has a result the node did not write";
    EXPECT_TRUE(orthanc.get("/instances/" + id + "/file").body == readBytes(local->second)) << local->second;
    ++compared;
  }
  EXPECT_EQ(compared, kResultsPerCtSeries);
  std::this_thread::sleep_for(3s);  // no second delivery
  EXPECT_EQ(orthancJson(orthanc, "/studies/" + study + "/instances").size(), 30u + kResultsPerCtSeries);
  EXPECT_EQ(sendJobs(node).size(), 1u);
}

TEST(EndToEndDicomWeb, RefusedCredentialsFailTheSendJobWithHttp401AndNotTheSecret) {
  TempDir dir;
  int node_port = freePort();
  OrthancProcess orthanc(dir / "orthanc", {{"volnode", "VOLNODE", "127.0.0.1", node_port}}, "",
                         OrthancFeatures{true, "volnode", "the-right-one"});
  std::filesystem::create_directories(dir / "secrets");
  std::ofstream(dir / "secrets" / "password") << "not-the-password\n";
  NodeProcess node(dir / "node",
                   nodeSettings(node_port, orthanc,
                                {"destinations.pacs.username=\"volnode\"",
                                 "destinations.pacs.password_file=\"" + (dir / "secrets" / "password").string() + "\"",
                                 "sending.max_attempts=2", "sending.retry_initial_s=1", "sending.retry_max_s=1"}));
  std::string study = upload(orthanc, sharedData() / "ct-chest-transfer-syntaxes" / "implicit_le");
  ASSERT_FALSE(study.empty());
  ASSERT_EQ(orthanc.post("/modalities/volnode/store", json{{"Resources", {study}}}.dump()).status, 200);

  auto done = waitForFinishedSend(node, 240s);
  ASSERT_TRUE(done.is_object()) << node.log();
  EXPECT_EQ(done.value("state", ""), "failed") << done.dump();
  EXPECT_EQ(done.value("attempts", 0), 2);
  const std::string error = done.value("last_error", "");
  EXPECT_NE(error.find("HTTP 401"), std::string::npos) << error;
  EXPECT_NE(error.find("4 object(s) not sent"), std::string::npos) << error;
  EXPECT_EQ(node.log().find("not-the-password"), std::string::npos);
  EXPECT_EQ(orthancJson(orthanc, "/studies/" + study + "/instances").size(), 30u);
}
