// End to end with a DICOMweb destination: Orthanc (Debian's package with its
// DICOMweb plugin) pushes a study to a real `volnode serve` by C-STORE; the results
// go back by STOW-RS to Orthanc's /dicom-web, through the same send jobs (resume,
// retries, refusal cache) as C-STORE. The same Orthanc then serves as a DICOMweb
// source: a second node's on-demand render retrieves the study by QIDO-RS and
// WADO-RS, and a DICOMweb client of the first node: through its DicomWeb.Servers,
// Orthanc queries and retrieves the study, results included, from the node's
// /dicom-web (one Orthanc per test keeps the suite's cost down).
#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcfilefo.h>
#include <gtest/gtest.h>
#include <httplib.h>

#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <thread>
#include <dcmtk/dcmdata/dcuid.h>

#include "support/node_api.hpp"
#include "support/node_process.hpp"
#include "support/orthanc_process.hpp"
#include "support/orthanc_studies.hpp"
#include "volnode/viewer/frame_encoding.hpp"

using namespace volnode::test;
using nlohmann::json;
using namespace std::chrono_literals;

namespace {

constexpr char kDicomwebToken[] = "e2e-dicomweb-token";

std::vector<json> sendJobs(const NodeProcess& node) { return nodeJobs(node, "send"); }

json waitForFinishedSend(const NodeProcess& node, std::chrono::seconds timeout) {
  return waitForFinishedJob(node, "send", timeout);
}

std::vector<std::string> dicomwebNodeSettings(int node_port, const OrthancProcess& orthanc, std::vector<std::string> more = {}) {
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

// The DICOM files under `folder`, by SOP Instance UID.
std::map<std::string, std::filesystem::path> dicomFilesBySopUid(const std::filesystem::path& folder) {
  std::map<std::string, std::filesystem::path> out;
  for (const auto& e : std::filesystem::recursive_directory_iterator(folder)) {
    if (!e.is_regular_file()) continue;
    const std::string bytes = readBytes(e.path());
    if (bytes.size() < 132 || bytes.compare(128, 4, "DICM") != 0) continue;  // PNG views, meshes, empty slots
    DcmFileFormat file;
    if (!file.loadFile(e.path().c_str()).good()) continue;
    OFString uid;
    if (file.getDataset()->findAndGetOFString(DCM_SOPInstanceUID, uid).good()) out[uid.c_str()] = e.path();
  }
  return out;
}

// The result files the node wrote, by SOP Instance UID.
std::map<std::string, std::filesystem::path> nodeResults(const std::filesystem::path& node_dir) {
  return dicomFilesBySopUid(node_dir / "var" / "results");
}

// A node whose only peer is Orthanc's DICOMweb service as [sources.archive].
std::vector<std::string> retrieverSettings(const OrthancProcess& orthanc, std::vector<std::string> more = {}) {
  std::vector<std::string> settings{std::string("console.token=") + kDicomwebToken, "completion.quiet_s=5",
                                    "render.spin_frames=8", "render.size=256", "outputs.reformats=false",
                                    "sources.archive.type=\"dicomweb\"",
                                    "sources.archive.url=\"" + orthanc.dicomWebUrl() + "\""};
  settings.insert(settings.end(), more.begin(), more.end());
  return settings;
}

}  // namespace

TEST(EndToEndDicomWeb, ResultsArriveByStowByteIdenticalAndOnceThenTheStudyIsRetrievedByWadoRs) {
  TempDir dir;
  int node_port = freePort();
  OrthancProcess orthanc(dir / "orthanc", {{"volnode", "VOLNODE", "127.0.0.1", node_port}}, "",
                         OrthancFeatures{true, "", ""});
  // Its DICOMweb service (read later by Orthanc) needs the console token even on loopback.
  NodeProcess node(dir / "node", dicomwebNodeSettings(node_port, orthanc, {std::string("console.token=") + kDicomwebToken,
                                                                   "console.read_requires_token=true"}));
  std::string study = uploadToOrthanc(orthanc, sharedData() / "ct-chest-transfer-syntaxes" / "implicit_le");
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
    if (tags.value("SOPClassUID", "") == UID_CTImageStorage) continue;
    auto local = results.find(tags.value("SOPInstanceUID", ""));
    ASSERT_NE(local, results.end()) << "Orthanc has a result the node did not write";
    EXPECT_TRUE(orthanc.get("/instances/" + id + "/file").body == readBytes(local->second)) << local->second;
    ++compared;
  }
  EXPECT_EQ(compared, kResultsPerCtSeries);
  // The node's own results over its DICOMweb service: each image's first frame rendered
  // as PNG (by a pixel worker) is the frame as the node wrote it.
  size_t rendered = 0;
  for (const auto& [sop, file] : results) {
    DcmFileFormat format;
    ASSERT_TRUE(format.loadFile(file.c_str()).good());
    DcmDataset* d = format.getDataset();
    Uint16 rows = 0, columns = 0, samples = 1;
    if (d->findAndGetUint16(DCM_Rows, rows).bad()) continue;  // the STL model
    d->findAndGetUint16(DCM_Columns, columns);
    d->findAndGetUint16(DCM_SamplesPerPixel, samples);
    OFString series;
    d->findAndGetOFString(DCM_SeriesInstanceUID, series);
    const Uint8* pixels = nullptr;
    ASSERT_TRUE(d->findAndGetUint8Array(DCM_PixelData, pixels).good());
    httplib::Client console("127.0.0.1", node.consolePort());
    auto png = console.Get("/dicom-web/studies/" + study_uid + "/series/" + series.c_str() + "/instances/" + sop +
                               "/frames/1/rendered",
                           {{"Authorization", std::string("Bearer ") + kDicomwebToken}, {"Accept", "image/png"}});
    ASSERT_TRUE(png);
    ASSERT_EQ(png->status, 200) << png->body;
    auto image = volnode::viewer::decodeImage(png->body);
    ASSERT_EQ(image.width, columns);
    ASSERT_EQ(image.height, rows);
    ASSERT_EQ(image.channels, samples);
    EXPECT_EQ(std::memcmp(image.pixels.data(), pixels, image.pixels.size()), 0) << file;
    ++rendered;
  }
  EXPECT_EQ(rendered, kResultsPerCtSeries - 1);
  std::this_thread::sleep_for(3s);  // no second delivery
  EXPECT_EQ(orthancJson(orthanc, "/studies/" + study + "/instances").size(), 30u + kResultsPerCtSeries);
  EXPECT_EQ(sendJobs(node).size(), 1u);

  // The same Orthanc as a DICOMweb source: another node retrieves the study, now
  // with the results, by QIDO-RS + WADO-RS, and keeps every instance as sent.
  NodeProcess retriever(dir / "retriever", retrieverSettings(orthanc));
  auto accepted = retriever.post("/api/studies/" + study_uid + "/render", json{{"source", "archive"}}.dump(), kDicomwebToken);
  ASSERT_EQ(accepted.status, 202) << accepted.body;
  EXPECT_NE(accepted.body.find("retrieving 5 series from archive"), std::string::npos) << accepted.body;
  auto retrieved = waitForFinishedJob(retriever, "retrieve", 120s);
  ASSERT_EQ(retrieved.value("state", ""), "succeeded") << retrieved.dump() << retriever.log();
  EXPECT_EQ(retrieved["progress"].value("stage", ""), "WADO-RS from archive: 34 instance(s) kept, 0 not") << retrieved.dump();
  auto held = dicomFilesBySopUid(retriever.dir() / "var" / "store");
  ASSERT_EQ(held.size(), 30u + kResultsPerCtSeries);
  for (const auto& i : instances) {
    std::string id = i["ID"];
    auto tags = orthancJson(orthanc, "/instances/" + id + "/simplified-tags");
    auto local = held.find(tags.value("SOPInstanceUID", ""));
    ASSERT_NE(local, held.end()) << "not retrieved: " << tags.dump();
    EXPECT_TRUE(orthanc.get("/instances/" + id + "/file").body == readBytes(local->second)) << local->second;
  }
  auto held_study = json::parse(retriever.get("/api/studies/" + study_uid).body, nullptr, false);
  EXPECT_TRUE(held_study.is_object()) << "the retrieved study is not in the index";

  // Orthanc as a DICOMweb client of the first node. Without the token the node refuses it...
  httplib::Client orthanc_api("127.0.0.1", orthanc.httpPort());
  orthanc_api.set_read_timeout(120);
  const std::string node_url = "http://127.0.0.1:" + std::to_string(node.consolePort()) + "/dicom-web";
  auto added = orthanc_api.Put("/dicom-web/servers/volnode-anonymous", json{{"Url", node_url}}.dump(), "application/json");
  ASSERT_TRUE(added && added->status == 200);
  auto refused = orthanc.post("/dicom-web/servers/volnode-anonymous/qido", json{{"Uri", "/studies"}}.dump());
  EXPECT_EQ(refused.status, 401) << refused.body;
  // ...with it (an HTTP header of its DicomWeb.Servers entry) it finds the study and retrieves
  // it, deleted on Orthanc's side first: every instance comes back as the node holds it.
  added = orthanc_api.Put("/dicom-web/servers/volnode",
                          json{{"Url", node_url}, {"HttpHeaders", {{"Authorization", std::string("Bearer ") + kDicomwebToken}}}}.dump(),
                          "application/json");
  ASSERT_TRUE(added && added->status == 200);
  auto found = json::parse(orthanc.post("/dicom-web/servers/volnode/qido",
                                        json{{"Uri", "/studies"}, {"Arguments", {{"StudyInstanceUID", study_uid}}}}.dump())
                               .body,
                           nullptr, false);
  ASSERT_TRUE(found.is_array() && found.size() == 1) << found.dump();
  // (Orthanc shows string values only: the counts, JSON numbers as PS3.18 F.2.3 has them, come empty.)
  EXPECT_EQ(found[0]["0020000D"].value("Value", ""), study_uid) << found[0].dump();
  auto series = json::parse(orthanc.post("/dicom-web/servers/volnode/qido",
                                         json{{"Uri", "/studies/" + study_uid + "/series"}}.dump()).body, nullptr, false);
  EXPECT_EQ(series.size(), 1 + kResultsPerCtSeries) << series.dump();
  auto deleted = orthanc_api.Delete("/studies/" + study);
  ASSERT_TRUE(deleted && deleted->status == 200);
  ASSERT_EQ(orthancJson(orthanc, "/instances").size(), 0u);
  auto retrieve = orthanc.post("/dicom-web/servers/volnode/retrieve",
                               json{{"Resources", {{{"Study", study_uid}}}}}.dump());
  ASSERT_EQ(retrieve.status, 200) << retrieve.body;
  auto node_files = dicomFilesBySopUid(node.dir() / "var" / "store");
  node_files.merge(results);
  auto back = orthancJson(orthanc, "/instances");
  EXPECT_EQ(back.size(), 30u + kResultsPerCtSeries);
  size_t identical = 0;
  for (const auto& id : back) {
    auto tags = orthancJson(orthanc, "/instances/" + id.get<std::string>() + "/simplified-tags");
    EXPECT_EQ(tags.value("StudyInstanceUID", ""), study_uid);
    auto local = node_files.find(tags.value("SOPInstanceUID", ""));
    ASSERT_NE(local, node_files.end()) << "Orthanc retrieved what the node does not hold: " << tags.dump();
    identical += orthanc.get("/instances/" + id.get<std::string>() + "/file").body == readBytes(local->second);
  }
  EXPECT_EQ(identical, 30u + kResultsPerCtSeries);
}

TEST(EndToEndDicomWeb, RefusedCredentialsFailTheSendJobWithHttp401AndNotTheSecret) {
  TempDir dir;
  int node_port = freePort();
  OrthancProcess orthanc(dir / "orthanc", {{"volnode", "VOLNODE", "127.0.0.1", node_port}}, "",
                         OrthancFeatures{true, "volnode", "the-right-one"});
  std::filesystem::create_directories(dir / "secrets");
  std::ofstream(dir / "secrets" / "password") << "not-the-password\n";
  // Retrieval with refused credentials: the render request says so, without the secret.
  {
    NodeProcess retriever(dir / "retriever",
                          retrieverSettings(orthanc, {"sources.archive.username=\"volnode\"",
                                                      "sources.archive.password_file=\"" +
                                                          (dir / "secrets" / "password").string() + "\""}));
    auto refused = retriever.post("/api/studies/1.2.3.4/render", json{{"source", "archive"}}.dump(), kDicomwebToken);
    EXPECT_EQ(refused.status, 502) << refused.body;
    EXPECT_NE(refused.body.find("HTTP 401"), std::string::npos) << refused.body;
    EXPECT_NE(refused.body.find("sources.archive.username"), std::string::npos) << refused.body;
    EXPECT_EQ(retriever.log().find("not-the-password"), std::string::npos);
  }
  NodeProcess node(dir / "node",
                   dicomwebNodeSettings(node_port, orthanc,
                                {"destinations.pacs.username=\"volnode\"",
                                 "destinations.pacs.password_file=\"" + (dir / "secrets" / "password").string() + "\"",
                                 "sending.max_attempts=2", "sending.retry_initial_s=1", "sending.retry_max_s=1"}));
  std::string study = uploadToOrthanc(orthanc, sharedData() / "ct-chest-transfer-syntaxes" / "implicit_le");
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
