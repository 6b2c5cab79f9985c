// End to end with a real PACS: Orthanc pushes a study to volnode, volnode renders
// it and sends the results back into the same study in Orthanc.
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "support/node_process.hpp"
#include "support/orthanc_process.hpp"

using namespace volnode::test;
using nlohmann::json;

namespace {

std::string readBytes(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  std::stringstream content;
  content << in.rdbuf();
  return content.str();
}

// Uploads every DICOM file of a folder to Orthanc over REST; returns Orthanc's study id.
std::string upload(const OrthancProcess& orthanc, const std::filesystem::path& folder) {
  std::string study;
  for (const auto& entry : std::filesystem::directory_iterator(folder)) {
    auto response = orthanc.post("/instances", readBytes(entry.path()), "application/dicom");
    if (response.status != 200) continue;  // non-DICOM files are refused by Orthanc too
    study = json::parse(response.body).value("ParentStudy", study);
  }
  return study;
}

json orthancJson(const OrthancProcess& orthanc, const std::string& path) {
  auto response = orthanc.get(path);
  EXPECT_EQ(response.status, 200) << path;
  return json::parse(response.body.empty() ? "null" : response.body);
}

// Series descriptions of the study in Orthanc, waiting until `count` series exist.
std::vector<json> waitForSeries(const OrthancProcess& orthanc, const std::string& study, size_t count,
                                std::chrono::seconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  std::vector<json> series;
  while (std::chrono::steady_clock::now() < deadline) {
    series.clear();
    for (const auto& s : orthancJson(orthanc, "/studies/" + study + "/series?expand")) series.push_back(s);
    if (series.size() >= count) return series;
    std::this_thread::sleep_for(std::chrono::seconds(1));
  }
  return series;
}

}  // namespace

TEST(EndToEnd, StudyPushedFromOrthancComesBackWithRendersAndModelInTheSameStudy) {
  TempDir dir;
  int node_port = freePort();
  OrthancProcess orthanc(dir / "orthanc", {{"volnode", "VOLNODE", "127.0.0.1", node_port}});
  // The node under test listens on node_port (so Orthanc can be told about it first).
  NodeProcess node(dir / "node",
                   {"dicom.port=" + std::to_string(node_port), "completion.quiet_s=5", "render.spin_frames=8",
                    "render.size=256", "destinations.pacs.aet=ORTHANC", "destinations.pacs.host=127.0.0.1",
                    "destinations.pacs.port=" + std::to_string(orthanc.dicomPort())});
  std::string study = upload(orthanc, sharedData() / "ct-chest-transfer-syntaxes" / "implicit_le");
  ASSERT_FALSE(study.empty());
  auto source = orthancJson(orthanc, "/studies/" + study);
  std::string patient_id = source["PatientMainDicomTags"]["PatientID"];
  std::string study_uid = source["MainDicomTags"]["StudyInstanceUID"];

  auto pushed = orthanc.post("/modalities/volnode/store", json{{"Resources", {study}}}.dump());
  ASSERT_EQ(pushed.status, 200) << pushed.body;

  // 1 source series + spin VR + spin MIP + key views + STL model.
  auto series = waitForSeries(orthanc, study, 5, std::chrono::seconds(180));
  ASSERT_EQ(series.size(), 5u) << node.log();
  std::set<std::string> descriptions;
  for (const auto& s : series) descriptions.insert(s["MainDicomTags"].value("SeriesDescription", ""));
  EXPECT_TRUE(descriptions.count("3D VR Bone spin")) << json(descriptions).dump();
  EXPECT_TRUE(descriptions.count("3D MIP spin")) << json(descriptions).dump();
  // Every result is in the source study of the same patient, no duplicates.
  auto instances = orthancJson(orthanc, "/studies/" + study + "/instances?expand");
  size_t results = 0;
  for (const auto& i : instances) {
    auto tags = orthancJson(orthanc, "/instances/" + i["ID"].get<std::string>() + "/simplified-tags");
    EXPECT_EQ(tags["StudyInstanceUID"], study_uid);
    EXPECT_EQ(tags["PatientID"], patient_id);
    if (tags.value("SOPClassUID", "") != "1.2.840.10008.5.1.4.1.1.2") ++results;
  }
  EXPECT_EQ(results, 4u);
  EXPECT_EQ(orthancJson(orthanc, "/patients").size(), 1u);
}
