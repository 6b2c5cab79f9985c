// End to end with a real PACS: Orthanc (Debian's package, on loopback, with a
// generated configuration in which volnode is a DICOM modality) pushes studies to
// a real `volnode serve`, which renders them and sends the results back.
//
// Small renders keep every test under a minute on two cores: 8 spin frames of
// 256 px (one test uses 36 of 512 px), a series is complete after 5 s without new
// instances (or 2 s after the delivering association released).
#include <dcmtk/dcmdata/dcfilefo.h>
#include <dcmtk/dcmnet/dimse.h>
#include <dcmtk/dcmnet/dstorscp.h>
#include <gtest/gtest.h>

#include <array>
#include <atomic>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <future>
#include <map>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <sstream>
#include <thread>
#include <dcmtk/dcmdata/dcuid.h>

#include "support/cta_phantom.hpp"
#include "support/node_api.hpp"
#include "support/node_process.hpp"
#include "support/orthanc_process.hpp"
#include "support/orthanc_studies.hpp"
#include "support/suite_index.hpp"
#include "support/synthetic_series.hpp"

using namespace volnode::test;
using nlohmann::json;
using namespace std::chrono_literals;

namespace {
constexpr char kEncapsulatedStl[] = "1.2.840.10008.5.1.4.1.1.104.3";
constexpr char kMultiframeTrueColorSc[] = "1.2.840.10008.5.1.4.1.1.7.4";
constexpr char kMultiframeGrayscaleByteSc[] = "1.2.840.10008.5.1.4.1.1.7.2";
constexpr char kE2eToken[] = "e2e-console-token";

json nodeJson(const NodeProcess& node, const std::string& path) {
  auto response = node.get(path);
  if (response.status != 200) return json();
  return json::parse(response.body, nullptr, false);
}

// Orthanc pushes a study to volnode (C-STORE, synchronous).
void pushFromOrthanc(const OrthancProcess& orthanc, const std::string& study) {
  auto pushed = orthanc.post("/modalities/volnode/store", json{{"Resources", {study}}}.dump());
  ASSERT_EQ(pushed.status, 200) << pushed.body;
}

// Series of the study in Orthanc, waiting until `count` series exist.
std::vector<json> waitForSeries(const OrthancProcess& orthanc, const std::string& study, size_t count,
                                std::chrono::seconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  std::vector<json> series;
  while (std::chrono::steady_clock::now() < deadline) {
    series.clear();
    for (const auto& s : orthancJson(orthanc, "/studies/" + study + "/series?expand")) series.push_back(s);
    if (series.size() >= count) return series;
    std::this_thread::sleep_for(500ms);
  }
  return series;
}

// Simplified tags of every instance of the study in Orthanc.
std::vector<json> instanceTags(const OrthancProcess& orthanc, const std::string& study) {
  std::vector<json> out;
  for (const auto& i : orthancJson(orthanc, "/studies/" + study + "/instances"))
    out.push_back(orthancJson(orthanc, "/instances/" + i["ID"].get<std::string>() + "/simplified-tags"));
  return out;
}

std::vector<json> results(const std::vector<json>& tags) {
  std::vector<json> out;
  for (const auto& t : tags)
    if (t.value("SOPClassUID", "") != UID_CTImageStorage) out.push_back(t);
  return out;
}

std::set<std::string> sopUids(const std::vector<json>& tags) {
  std::set<std::string> out;
  for (const auto& t : tags) out.insert(t.value("SOPInstanceUID", ""));
  return out;
}

// Waits until some job of `kind` satisfies `wanted`; returns it (null on timeout).
template <typename Pred>
json waitForJob(const NodeProcess& node, const std::string& kind, Pred wanted, std::chrono::milliseconds timeout,
                std::chrono::milliseconds poll = 200ms) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    for (const auto& j : nodeJobs(node, kind))
      if (wanted(j)) return j;
    std::this_thread::sleep_for(poll);
  }
  return json();
}

// The overrides every test uses: small renders, short completion, Orthanc as "pacs",
// no reformat series (their own test turns them on; the others count the 3D results).
std::vector<std::string> e2eNodeSettings(int node_port, const std::string& pacs_aet, int pacs_port,
                                      std::vector<std::string> more = {}) {
  std::vector<std::string> settings{"dicom.port=" + std::to_string(node_port),
                                    "completion.quiet_s=5",
                                    "render.spin_frames=8",
                                    "outputs.reformats=false",
                                    "render.size=256",
                                    "destinations.pacs.aet=" + pacs_aet,
                                    "destinations.pacs.host=127.0.0.1",
                                    "destinations.pacs.port=" + std::to_string(pacs_port)};
  settings.insert(settings.end(), more.begin(), more.end());
  return settings;
}

// A CT series of another patient, written to `dir` (rendered by the default CT rule).
WrittenSeries otherPatientSeries(const std::filesystem::path& dir) {
  SyntheticSeries s;
  s.rows = s.cols = 128;
  s.slices = 40;
  s.slice_spacing = 3.0;
  s.origin = {-64, -64, -60};
  s.patient_name = "OTHER^PATIENT";
  s.patient_id = "E2E-OTHER-42";
  s.series_description = "synthetic head";
  s.value = OrientationPhantom{}.function();
  return writeSyntheticSeries(s, dir);
}

// The results of one source study in Orthanc: each in that study, of that patient,
// once; returns them.
std::vector<json> expectResultsInStudy(const OrthancProcess& orthanc, const std::string& study,
                                       size_t source_instances) {
  auto source = orthancJson(orthanc, "/studies/" + study);
  const std::string patient_id = source["PatientMainDicomTags"].value("PatientID", "");
  const std::string patient_name = source["PatientMainDicomTags"].value("PatientName", "");
  const std::string study_uid = source["MainDicomTags"].value("StudyInstanceUID", "");
  auto tags = instanceTags(orthanc, study);
  EXPECT_EQ(tags.size(), source_instances + kResultsPerCtSeries) << "duplicates or missing results";
  EXPECT_EQ(sopUids(tags).size(), tags.size());
  for (const auto& t : tags) {
    EXPECT_EQ(t.value("StudyInstanceUID", ""), study_uid);
    EXPECT_EQ(t.value("PatientID", ""), patient_id);
    EXPECT_EQ(t.value("PatientName", ""), patient_name);
  }
  auto found = results(tags);
  std::multiset<std::string> classes;
  for (const auto& r : found) classes.insert(r.value("SOPClassUID", ""));
  EXPECT_EQ(classes.count(kEncapsulatedStl), 1u);
  EXPECT_EQ(classes.count(kMultiframeTrueColorSc) + classes.count(kMultiframeGrayscaleByteSc), 3u);
  return found;
}

// DCMTK's storescp as a destination that takes only the Secondary Capture classes
// volnode produces (and Verification): Encapsulated STL is refused at association level.
class ScOnlyStorescp {
 public:
  explicit ScOnlyStorescp(const std::filesystem::path& dir) : dir_(dir), port_(freePort()) {
    std::filesystem::create_directories(received());
    std::ofstream cfg(dir_ / "sc-only.cfg");
    cfg << "[[TransferSyntaxes]]\n[Uncompressed]\nTransferSyntax1 = LocalEndianExplicit\n"
           "TransferSyntax2 = LittleEndianImplicit\n"
           "[[PresentationContexts]]\n[ScOnly]\n"
           "PresentationContext1 = VerificationSOPClass\\Uncompressed\n"
           "PresentationContext2 = " << kMultiframeTrueColorSc << "\\Uncompressed\n"
           "PresentationContext3 = " << kMultiframeGrayscaleByteSc << "\\Uncompressed\n"
           "[[Profiles]]\n[ScOnly]\nPresentationContexts = ScOnly\n";
    cfg.close();
    process_ = std::make_unique<ChildProcess>(
        std::vector<std::string>{"storescp", "-d", "-aet", "SCONLY", "-od", received().string(), "--config-file",
                                 (dir_ / "sc-only.cfg").string(), "ScOnly", std::to_string(port_)},
        log());
    if (!waitForPort(port_, 10000ms)) throw std::runtime_error("storescp did not listen: " + readBytes(log()));
  }
  ~ScOnlyStorescp() { process_->terminate(10s); }
  int port() const { return port_; }
  std::filesystem::path received() const { return dir_ / "received"; }
  std::filesystem::path log() const { return dir_ / "storescp.log"; }
  std::vector<std::filesystem::path> files() const {
    std::vector<std::filesystem::path> out;
    for (const auto& e : std::filesystem::directory_iterator(received())) out.push_back(e.path());
    return out;
  }
  // How often the STL class appeared in a proposal (storescp -d logs each context).
  size_t stlProposals() const {
    const std::string text = readBytes(log());
    size_t n = 0;
    for (size_t at = text.find("EncapsulatedSTLStorage"); at != std::string::npos;
         at = text.find("EncapsulatedSTLStorage", at + 1))
      ++n;
    return n;
  }

 private:
  std::filesystem::path dir_;
  int port_;
  std::unique_ptr<ChildProcess> process_;
};

// [start, end] in seconds of the day of every association the node logged as
// "association from '..' at ..: N instances, .., D s, released".
std::vector<std::pair<double, double>> associationIntervals(const std::string& log) {
  static const std::regex line(R"((\d\d):(\d\d):(\d\d\.\d+) .*association from .* ([0-9.]+) s, released)");
  std::vector<std::pair<double, double>> out;
  std::istringstream in(log);
  for (std::string text; std::getline(in, text);) {
    std::smatch m;
    if (!std::regex_search(text, m, line)) continue;
    double end = std::stod(m[1]) * 3600 + std::stod(m[2]) * 60 + std::stod(m[3]);
    out.emplace_back(end - std::stod(m[4]), end);
  }
  return out;
}

// A Storage SCP (DCMTK, in this process) that takes every class volnode sends but
// answers each C-STORE of Encapsulated STL with 0xA700 (Refused: Out of Resources):
// a failure status, not an association-level refusal.
class StlFailingScp : public DcmStorageSCP {
 public:
  explicit StlFailingScp(const std::filesystem::path& dir) : dir_(dir), port_(freePort()) {
    std::filesystem::create_directories(dir_);
    setOutputDirectory(dir_.c_str());
    setAETitle("FAILSTL");
    setPort(static_cast<Uint16>(port_));
    setConnectionBlockingMode(DUL_NOBLOCK);
    setConnectionTimeout(1);
    setHostLookupEnabled(false);
    const auto cfg = dir_.parent_path() / "stl-failing.cfg";
    std::ofstream(cfg) << "[[TransferSyntaxes]]\n[Uncompressed]\nTransferSyntax1 = LocalEndianExplicit\n"
                          "TransferSyntax2 = LittleEndianImplicit\n"
                          "[[PresentationContexts]]\n[Results]\n"
                          "PresentationContext1 = VerificationSOPClass\\Uncompressed\n"
                          "PresentationContext2 = " << kMultiframeTrueColorSc << "\\Uncompressed\n"
                          "PresentationContext3 = " << kMultiframeGrayscaleByteSc << "\\Uncompressed\n"
                          "PresentationContext4 = " << kEncapsulatedStl << "\\Uncompressed\n"
                          "[[Profiles]]\n[Results]\nPresentationContexts = Results\n";
    OFCondition loaded = loadAssociationConfiguration(cfg.c_str(), "Results");
    if (loaded.bad()) throw std::runtime_error(std::string("association configuration: ") + loaded.text());
    thread_ = std::thread([this] { listen(); });
    if (!waitForPort(port_, 10000ms)) {
      stop_ = true;
      thread_.join();
      throw std::runtime_error("the STL-failing SCP did not listen");
    }
  }
  ~StlFailingScp() override {
    stop_ = true;
    thread_.join();
  }
  int port() const { return port_; }
  int stlRequests() const { return stl_requests_; }
  size_t storedFiles() const {
    size_t n = 0;
    for (const auto& e : std::filesystem::recursive_directory_iterator(dir_)) n += e.is_regular_file() ? 1 : 0;
    return n;
  }

 protected:
  Uint16 checkAndProcessSTORERequest(const T_DIMSE_C_StoreRQ& request, DcmFileFormat& file) override {
    if (std::string(request.AffectedSOPClassUID) == kEncapsulatedStl) {
      ++stl_requests_;
      return STATUS_STORE_Refused_OutOfResources;
    }
    return DcmStorageSCP::checkAndProcessSTORERequest(request, file);
  }
  OFBool stopAfterConnectionTimeout() override { return stop_.load(); }

 private:
  std::filesystem::path dir_;
  int port_;
  std::atomic<bool> stop_{false};
  std::atomic<int> stl_requests_{0};
  std::thread thread_;
};

std::string indexQuery(const NodeProcess& node, const std::string& query) {
  return suiteIndexQuery(node.dir() / "var", query);
}

}  // namespace

TEST(EndToEnd, StudyPushedFromOrthancComesBackWithRendersAndModelInTheSameStudy) {
  TempDir dir;
  int node_port = freePort();
  OrthancProcess orthanc(dir / "orthanc", {{"volnode", "VOLNODE", "127.0.0.1", node_port}});
  // The node under test listens on node_port (so Orthanc can be told about it first).
  NodeProcess node(dir / "node", e2eNodeSettings(node_port, "ORTHANC", orthanc.dicomPort()));
  std::string study = uploadToOrthanc(orthanc, sharedData() / "ct-chest-transfer-syntaxes" / "implicit_le");
  ASSERT_FALSE(study.empty());
  auto source = orthancJson(orthanc, "/studies/" + study);
  std::string patient_id = source["PatientMainDicomTags"]["PatientID"];
  std::string study_uid = source["MainDicomTags"]["StudyInstanceUID"];

  pushFromOrthanc(orthanc, study);

  // 1 source series + spin VR + spin MIP + key views + STL model.
  auto series = waitForSeries(orthanc, study, 5, std::chrono::seconds(180));
  ASSERT_EQ(series.size(), 5u) << node.log();
  std::set<std::string> descriptions;
  for (const auto& s : series) descriptions.insert(s["MainDicomTags"].value("SeriesDescription", ""));
  EXPECT_TRUE(descriptions.count("3D VR Bone spin")) << json(descriptions).dump();
  EXPECT_TRUE(descriptions.count("3D MIP spin")) << json(descriptions).dump();
  EXPECT_TRUE(descriptions.count("3D VR Bone key views")) << json(descriptions).dump();
  EXPECT_TRUE(descriptions.count("3D model Bone")) << json(descriptions).dump();
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

// Reformats arrive in the source study as CT image series in the source's Frame of
// Reference, and Orthanc can order their slices by position (what viewers need to
// scroll them and draw reference lines).
TEST(EndToEnd, ReformatsArriveInTheSourceStudyAsImageSeriesOrthancOrdersBySlicePosition) {
  TempDir dir;
  int node_port = freePort();
  OrthancProcess orthanc(dir / "orthanc", {{"volnode", "VOLNODE", "127.0.0.1", node_port}});
  NodeProcess node(dir / "node", e2eNodeSettings(node_port, "ORTHANC", orthanc.dicomPort(), {"outputs.reformats=true"}));
  // 128 x 128 x 40 slices, 1 x 1 x 3 mm: 127 mm wide and deep, so 43 slices 3 mm apart.
  const WrittenSeries source = otherPatientSeries(dir / "source");
  std::string study = uploadToOrthanc(orthanc, dir / "source");
  ASSERT_FALSE(study.empty());
  DcmFileFormat head_file;
  ASSERT_TRUE(head_file.loadFile(source.files.front().c_str()).good());
  OFString head_frame;
  head_file.getDataset()->findAndGetOFString(DCM_FrameOfReferenceUID, head_frame);
  const std::string frame_of_reference = head_frame.c_str();
  // A CT angiogram in the same study and Frame of Reference (the CTA phantom, 1.6 x 1.6 x 2 mm):
  // its bone-removed MIP slabs arrive beside the head's reformats.
  SyntheticSeries cta;
  cta.rows = 95;
  cta.cols = 100;
  cta.row_spacing = cta.col_spacing = 1.6;
  cta.slices = 45;
  cta.slice_spacing = 2.0;
  cta.origin = {-80, -70, 1};
  cta.patient_name = "OTHER^PATIENT";
  cta.patient_id = "E2E-OTHER-42";
  cta.study_instance_uid = source.study_instance_uid;
  cta.frame_of_reference_uid = frame_of_reference;
  cta.series_number = 2;
  cta.series_description = "CTA Aorta 2.0";
  cta.body_part = "CHEST";
  cta.contrast_bolus_agent = "OMNIPAQUE 350";
  cta.value = [](const Vec3& p) { return ctaPhantomAt(p[0], p[1], p[2]).hu; };
  writeSyntheticSeries(cta, dir / "cta");
  ASSERT_EQ(uploadToOrthanc(orthanc, dir / "cta"), study);
  pushFromOrthanc(orthanc, study);
  const auto deadline = std::chrono::steady_clock::now() + 300s;  // both series' results sent
  size_t sent = 0;
  while (std::chrono::steady_clock::now() < deadline) {
    const auto jobs = nodeJobs(node, "send");
    sent = size_t(std::count_if(jobs.begin(), jobs.end(), jobFinished));
    if (sent >= 2) break;
    std::this_thread::sleep_for(500ms);
  }
  ASSERT_EQ(sent, 2u) << node.log();
  for (const auto& job : nodeJobs(node, "send")) EXPECT_EQ(job.value("state", ""), "succeeded") << job.dump();
  std::map<std::string, json> by_description;
  for (const auto& s : orthancJson(orthanc, "/studies/" + study + "/series?expand"))
    by_description[s["MainDicomTags"].value("SeriesDescription", "")] = s;
  // The synthetic series is a head (BodyPartExamined HEAD): brain-window reformats.
  for (const char* description : {"COR 3mm BRAIN", "SAG 3mm BRAIN"}) {
    ASSERT_TRUE(by_description.count(description)) << description << " missing\n" << node.log();
    const json& series = by_description[description];
    EXPECT_EQ(series["Instances"].size(), 43u) << description;
    const std::string id = series["ID"];
    const json ordered = orthancJson(orthanc, "/series/" + id + "/ordered-slices");
    EXPECT_EQ(ordered.value("Type", ""), "Volume") << description << ": Orthanc did not order by 3D position";
    ASSERT_EQ(ordered["Dicom"].size(), 43u) << ordered.dump();
    // Consecutive slices in Orthanc's order are 3 mm apart along the slice normal.
    std::vector<std::array<double, 3>> positions;
    std::array<double, 6> orientation{};
    for (const auto& path : ordered["Dicom"]) {
      // "/instances/<id>/file" -> simplified tags of that instance.
      std::string instance = path.get<std::string>();
      instance = instance.substr(0, instance.rfind('/'));
      const json tags = orthancJson(orthanc, instance + "/simplified-tags");
      EXPECT_EQ(tags.value("SOPClassUID", ""), UID_CTImageStorage);
      EXPECT_EQ(tags.value("FrameOfReferenceUID", ""), frame_of_reference);
      EXPECT_EQ(tags.value("PatientID", ""), "E2E-OTHER-42");
      std::array<double, 3> p{};
      std::sscanf(tags.value("ImagePositionPatient", "").c_str(), "%lf\\%lf\\%lf", &p[0], &p[1], &p[2]);
      std::sscanf(tags.value("ImageOrientationPatient", "").c_str(), "%lf\\%lf\\%lf\\%lf\\%lf\\%lf", &orientation[0],
                  &orientation[1], &orientation[2], &orientation[3], &orientation[4], &orientation[5]);
      positions.push_back(p);
    }
    const std::array<double, 3> normal{orientation[1] * orientation[5] - orientation[2] * orientation[4],
                                       orientation[2] * orientation[3] - orientation[0] * orientation[5],
                                       orientation[0] * orientation[4] - orientation[1] * orientation[3]};
    for (size_t i = 1; i < positions.size(); ++i) {
      double step = 0;
      for (int a = 0; a < 3; ++a) step += (positions[i][a] - positions[i - 1][a]) * normal[a];
      EXPECT_NEAR(std::abs(step), 3.0, 1e-3) << description << " slice " << i;
    }
  }
  // The CT angiogram: vessels rendered without bone, bone-removed MIP slabs as CT images
  // in the source's Frame of Reference, ordered by position.
  EXPECT_TRUE(by_description.count("3D VR Angio Vessels bone removed spin")) << node.log();
  EXPECT_TRUE(by_description.count("3D MIP Angio bone removed spin")) << node.log();
  for (const char* description : {"COR MIP 20mm bone removed", "SAG MIP 20mm bone removed", "AX MIP 10mm bone removed"}) {
    ASSERT_TRUE(by_description.count(description)) << description << " missing\n" << node.log();
    const json& series = by_description[description];
    EXPECT_GE(series["Instances"].size(), 5u) << description;
    const json ordered = orthancJson(orthanc, "/series/" + series["ID"].get<std::string>() + "/ordered-slices");
    EXPECT_EQ(ordered.value("Type", ""), "Volume") << description << ": Orthanc did not order by 3D position";
    const std::string first = series["Instances"][0];
    const json tags = orthancJson(orthanc, "/instances/" + first + "/simplified-tags");
    EXPECT_EQ(tags.value("SOPClassUID", ""), UID_CTImageStorage) << description;
    EXPECT_EQ(tags.value("FrameOfReferenceUID", ""), frame_of_reference) << description;
    EXPECT_EQ(tags.value("WindowCenter", ""), "350") << description;
  }
  // The render keeps the volume with the bone removed (written as the job ends), for
  // the viewer's bone-removed presets.
  auto boneRemovedVolumes = [&] {
    int kept = 0;
    for (const auto& job : std::filesystem::directory_iterator(dir / "node" / "var" / "results"))
      kept += std::filesystem::exists(job.path() / "volume-bone-removed.vol");
    return kept;
  };
  for (int wait = 0; wait < 300 && boneRemovedVolumes() == 0; ++wait) std::this_thread::sleep_for(100ms);
  EXPECT_EQ(boneRemovedVolumes(), 1) << "one CT angiogram, one bone-removed volume";
}

// The PACS is down when the results are ready: the send job waits in `retry`, and
// once the PACS is back the results arrive once and completely.
TEST(EndToEnd, PacsDownWhileSendingGetsTheResultsOnceWhenItIsBack) {
  TempDir dir;
  int node_port = freePort();
  OrthancProcess orthanc(dir / "orthanc", {{"volnode", "VOLNODE", "127.0.0.1", node_port}});
  NodeProcess node(dir / "node", e2eNodeSettings(node_port, "ORTHANC", orthanc.dicomPort(),
                                              {"sending.retry_initial_s=2", "sending.retry_max_s=4"}));
  std::string study = uploadToOrthanc(orthanc, sharedData() / "ct-chest-transfer-syntaxes" / "implicit_le");
  ASSERT_FALSE(study.empty());
  pushFromOrthanc(orthanc, study);
  orthanc.stop();  // before the series is even complete (quiet_s=5)

  auto waiting = waitForJob(
      node, "send", [](const json& j) { return j.value("state", "") == "retry"; }, 90s);
  ASSERT_TRUE(waiting.is_object()) << node.log();
  EXPECT_GE(waiting.value("attempts", 0), 1);
  EXPECT_FALSE(waiting.value("last_error", "").empty());

  orthanc.start();
  ASSERT_TRUE(orthanc.waitUntilReady());
  auto series = waitForSeries(orthanc, study, 5, 60s);
  ASSERT_EQ(series.size(), 5u) << node.log();
  auto done = waitForJob(node, "send", jobFinished, 30s);
  ASSERT_TRUE(done.is_object());
  EXPECT_EQ(done.value("state", ""), "succeeded") << done.dump();
  EXPECT_GE(done.value("attempts", 0), 2);
  EXPECT_EQ(nodeJobs(node, "send").size(), 1u);
  expectResultsInStudy(orthanc, study, 30);
  // Still once a little later (no second send of the same results).
  std::this_thread::sleep_for(3s);
  EXPECT_EQ(instanceTags(orthanc, study).size(), 30u + kResultsPerCtSeries);
}

// A destination that does not take Encapsulated STL (association-level refusal of
// the presentation context): the SC results are delivered, the refusal is recorded,
// the send job succeeds with a warning, and the next send does not propose STL again.
TEST(EndToEnd, DestinationRefusingStlGetsTheRestAndTheRefusalIsRemembered) {
  TempDir dir;
  int node_port = freePort();
  ScOnlyStorescp storescp(dir / "storescp");
  OrthancProcess orthanc(dir / "orthanc", {{"volnode", "VOLNODE", "127.0.0.1", node_port}});
  NodeProcess node(dir / "node", e2eNodeSettings(node_port, "SCONLY", storescp.port()));
  std::string study = uploadToOrthanc(orthanc, sharedData() / "ct-chest-transfer-syntaxes" / "implicit_le");
  ASSERT_FALSE(study.empty());
  pushFromOrthanc(orthanc, study);

  auto done = waitForJob(node, "send", jobFinished, 90s);
  ASSERT_TRUE(done.is_object()) << node.log();
  EXPECT_EQ(done.value("state", ""), "succeeded") << done.dump();
  EXPECT_EQ(done.value("attempts", 0), 1);
  EXPECT_NE(done.value("warning", "").find("SOP class it does not accept"), std::string::npos) << done.dump();
  auto received = storescp.files();
  EXPECT_EQ(received.size(), 3u);  // VR spin, MIP spin, key views
  for (const auto& f : received) EXPECT_EQ(f.filename().string().rfind("SC", 0), 0u) << f;
  EXPECT_NE(indexQuery(node, "SELECT destination || '|' || sop_class_uid FROM destination_refusals")
                .find(std::string("pacs|") + kEncapsulatedStl),
            std::string::npos);
  const size_t proposals = storescp.stlProposals();
  EXPECT_GT(proposals, 0u) << "storescp -d did not log the proposal; cannot check the next one";

  // The next study for this destination: STL is not proposed again.
  otherPatientSeries(dir / "other");
  std::string other_study = uploadToOrthanc(orthanc, dir / "other");
  ASSERT_FALSE(other_study.empty());
  pushFromOrthanc(orthanc, other_study);
  auto second = waitForJob(
      node, "send", [&](const json& j) { return jobFinished(j) && j.value("id", 0) != done.value("id", 0); }, 90s);
  ASSERT_TRUE(second.is_object()) << node.log();
  EXPECT_EQ(second.value("state", ""), "succeeded") << second.dump();
  EXPECT_NE(second.value("warning", "").find("does not accept"), std::string::npos) << second.dump();
  EXPECT_EQ(storescp.files().size(), 6u);
  EXPECT_EQ(storescp.stlProposals(), proposals) << "Encapsulated STL was proposed again";
}

// A destination that negotiates Encapsulated STL but answers its C-STORE with a
// failure status (0xA700): the SC results are delivered once, the job retries the
// STL object until its attempts run out and then fails; the failure status is not
// recorded as a refusal (so the next study proposes STL again).
TEST(EndToEnd, DestinationFailingStlWithAStatusGetsTheRestAndTheJobFailsAfterItsRetries) {
  TempDir dir;
  int node_port = freePort();
  StlFailingScp scp(dir / "received");
  OrthancProcess orthanc(dir / "orthanc", {{"volnode", "VOLNODE", "127.0.0.1", node_port}});
  NodeProcess node(dir / "node", e2eNodeSettings(node_port, "FAILSTL", scp.port(),
                                              {"sending.retry_initial_s=1", "sending.retry_max_s=1",
                                               "sending.max_attempts=3"}));
  std::string study = uploadToOrthanc(orthanc, sharedData() / "ct-chest-transfer-syntaxes" / "implicit_le");
  ASSERT_FALSE(study.empty());
  pushFromOrthanc(orthanc, study);

  auto done = waitForJob(node, "send", jobFinished, 120s);
  ASSERT_TRUE(done.is_object()) << node.log();
  EXPECT_EQ(done.value("state", ""), "failed") << done.dump();
  EXPECT_EQ(done.value("attempts", 0), 3) << done.dump();
  EXPECT_NE(done.value("last_error", "").find("0xA700"), std::string::npos) << done.dump();
  EXPECT_EQ(scp.storedFiles(), 3u);  // the SC objects, each once (resume)
  EXPECT_EQ(scp.stlRequests(), 3);   // the STL object once per attempt
  EXPECT_EQ(indexQuery(node, "SELECT COUNT(*) FROM destination_refusals"), "0\n");
}

// Orthanc 1.10's Lua ReceivedInstanceFilter drops an instance but answers the
// C-STORE with Success: the sender cannot tell. This pins what volnode then
// does (records a delivery) so that a change is noticed.
TEST(EndToEnd, OrthancFilteringStlSilentlyIsIndistinguishableFromDelivery) {
  TempDir dir;
  int node_port = freePort();
  std::filesystem::create_directories(dir / "lua");
  std::ofstream(dir / "lua" / "filter.lua")
      << "function ReceivedInstanceFilter(dicom, origin, info)\n"
      << "  return dicom.SOPClassUID ~= '" << kEncapsulatedStl << "'\n"
      << "end\n";
  OrthancProcess orthanc(dir / "orthanc", {{"volnode", "VOLNODE", "127.0.0.1", node_port}},
                         "\"LuaScripts\": [\"" + (dir / "lua" / "filter.lua").string() + "\"]");
  NodeProcess node(dir / "node", e2eNodeSettings(node_port, "ORTHANC", orthanc.dicomPort()));
  std::string study = uploadToOrthanc(orthanc, sharedData() / "ct-chest-transfer-syntaxes" / "implicit_le");
  ASSERT_FALSE(study.empty());
  pushFromOrthanc(orthanc, study);

  auto done = waitForJob(node, "send", jobFinished, 90s);
  ASSERT_TRUE(done.is_object()) << node.log();
  EXPECT_EQ(done.value("state", ""), "succeeded") << done.dump();
  EXPECT_EQ(done.value("warning", ""), "");
  auto found = results(instanceTags(orthanc, study));
  EXPECT_EQ(found.size(), 3u);
  for (const auto& r : found) EXPECT_NE(r.value("SOPClassUID", ""), kEncapsulatedStl);
  EXPECT_EQ(indexQuery(node, "SELECT COUNT(*) FROM destination_refusals"), "0\n");
}

// On demand: the study is only in Orthanc. The console's render call makes volnode
// find it (C-FIND), fetch it (C-MOVE to itself), render it and send the results back.
TEST(EndToEnd, OnDemandRenderRetrievesTheStudyFromOrthancAndSendsTheResultsBack) {
  TempDir dir;
  int node_port = freePort();
  OrthancProcess orthanc(dir / "orthanc", {{"volnode", "VOLNODE", "127.0.0.1", node_port}});
  NodeProcess node(dir / "node", e2eNodeSettings(node_port, "ORTHANC", orthanc.dicomPort(),
                                              {std::string("console.token=") + kE2eToken}));
  std::string study = uploadToOrthanc(orthanc, sharedData() / "ct-chest-transfer-syntaxes" / "implicit_le");
  ASSERT_FALSE(study.empty());
  const std::string study_uid = orthancJson(orthanc, "/studies/" + study)["MainDicomTags"]["StudyInstanceUID"];
  EXPECT_EQ(node.get("/api/studies/" + study_uid).status, 404);

  EXPECT_EQ(node.post("/api/studies/" + study_uid + "/render").status, 401);
  auto accepted = node.post("/api/studies/" + study_uid + "/render", "", kE2eToken);
  ASSERT_EQ(accepted.status, 202) << accepted.body;
  EXPECT_EQ(json::parse(accepted.body).value("retrieve_state", ""), "retrieving") << accepted.body;
  auto unknown = node.post("/api/studies/1.2.3.4.5.6.7.8.9/render", "", kE2eToken);
  EXPECT_EQ(unknown.status, 404) << unknown.body;

  auto series = waitForSeries(orthanc, study, 5, 90s);
  ASSERT_EQ(series.size(), 5u) << node.log();
  expectResultsInStudy(orthanc, study, 30);
  EXPECT_EQ(node.get("/api/studies/" + study_uid).status, 200);
  auto render = waitForJob(node, "render", jobFinished, 10s);
  EXPECT_EQ(render.value("priority", 0), 10) << render.dump();
}

// A C-MOVE that fails after the request was answered (here Orthanc knows volnode's
// AE title at a port where nothing listens, so every sub-operation fails): the
// viewer of a launched study polls its results, and the 404 says why nothing comes.
TEST(EndToEnd, FailedBackgroundRetrievalIsReportedWhereTheViewerWaits) {
  TempDir dir;
  int node_port = freePort();
  int nothing_listens = freePort();
  OrthancProcess orthanc(dir / "orthanc", {{"volnode", "VOLNODE", "127.0.0.1", nothing_listens}});
  NodeProcess node(dir / "node", e2eNodeSettings(node_port, "ORTHANC", orthanc.dicomPort(),
                                              {std::string("console.token=") + kE2eToken}));
  std::string study = uploadToOrthanc(orthanc, sharedData() / "ct-chest-transfer-syntaxes" / "implicit_le");
  ASSERT_FALSE(study.empty());
  const std::string study_uid = orthancJson(orthanc, "/studies/" + study)["MainDicomTags"]["StudyInstanceUID"];
  auto accepted = node.post("/api/studies/" + study_uid + "/render", "", kE2eToken);
  ASSERT_EQ(accepted.status, 202) << accepted.body;

  json last;
  auto deadline = std::chrono::steady_clock::now() + 60s;
  while (std::chrono::steady_clock::now() < deadline) {
    auto r = node.get("/api/studies/" + study_uid + "/results");
    ASSERT_EQ(r.status, 404) << r.body;
    last = json::parse(r.body, nullptr, false);
    if (last.is_object() && last.contains("retrieve") && last["retrieve"].value("state", "") == "failed") break;
    std::this_thread::sleep_for(250ms);
  }
  ASSERT_EQ(last["retrieve"].value("state", ""), "failed") << last.dump() << "\n" << node.log();
  EXPECT_EQ(last["retrieve"].value("source", ""), "pacs") << last.dump();
  const std::string error = last.value("error", "");
  EXPECT_NE(error.find("retrieving it from pacs failed"), std::string::npos) << error;
  EXPECT_FALSE(last["retrieve"].value("message", "").empty()) << last.dump();
  EXPECT_EQ(node.get("/api/studies/" + study_uid).status, 404);
}

// A retrieval is a job: it outlives the node. The first node (AE title OTHER,
// which Orthanc knows at a port where nothing listens) has its C-MOVE fail and
// stops while the job waits for its retry; the next node on the same storage,
// now as VOLNODE, resumes the same job, receives the study, renders it and sends
// the results back.
TEST(EndToEnd, RetrievalPendingAtARestartIsResumedByTheNextNode) {
  TempDir dir;
  const int node_port = freePort();
  OrthancProcess orthanc(dir / "orthanc", {{"volnode", "VOLNODE", "127.0.0.1", node_port},
                                           {"other", "OTHER", "127.0.0.1", freePort()}});
  std::string study = uploadToOrthanc(orthanc, sharedData() / "ct-chest-transfer-syntaxes" / "implicit_le");
  ASSERT_FALSE(study.empty());
  const std::string study_uid = orthancJson(orthanc, "/studies/" + study)["MainDicomTags"]["StudyInstanceUID"];
  auto retrieveJob = [](const NodeProcess& node) {
    auto body = nodeJson(node, "/api/jobs");
    if (body.is_object())
      for (const auto& j : body["jobs"])
        if (j.value("kind", "") == "retrieve") return j;
    return json::object();
  };

  json waiting = json::object();
  {
    NodeProcess first(dir / "node", e2eNodeSettings(freePort(), "ORTHANC", orthanc.dicomPort(),
                                                 {std::string("console.token=") + kE2eToken, "dicom.aet=OTHER"}));
    auto accepted = first.post("/api/studies/" + study_uid + "/render", "", kE2eToken);
    ASSERT_EQ(accepted.status, 202) << accepted.body;
    auto deadline = std::chrono::steady_clock::now() + 60s;
    while (std::chrono::steady_clock::now() < deadline && waiting.value("state", "") != "retry") {
      waiting = retrieveJob(first);
      std::this_thread::sleep_for(100ms);
    }
    ASSERT_EQ(waiting.value("state", ""), "retry") << waiting.dump() << "\n" << first.log();
    EXPECT_EQ(waiting.value("StudyInstanceUID", ""), study_uid);
    EXPECT_EQ(waiting.value("destination", ""), "pacs");
    EXPECT_FALSE(waiting.value("last_error", "").empty()) << waiting.dump();
    EXPECT_EQ(first.stop(), 0);
  }

  NodeProcess next(dir / "node", e2eNodeSettings(node_port, "ORTHANC", orthanc.dicomPort(),
                                              {std::string("console.token=") + kE2eToken}));
  auto series = waitForSeries(orthanc, study, 5, 120s);
  ASSERT_EQ(series.size(), 5u) << next.log();
  auto resumed = nodeJson(next, "/api/jobs/" + std::to_string(waiting.value("id", 0)));
  EXPECT_EQ(resumed.value("kind", ""), "retrieve") << resumed.dump();
  EXPECT_EQ(resumed.value("state", ""), "succeeded") << resumed.dump();
  EXPECT_GE(resumed.value("attempts", 0), 2) << resumed.dump();
  EXPECT_NE(next.log().find("retrieve job " + std::to_string(waiting.value("id", 0)) + " (study " + study_uid),
            std::string::npos)
      << "start-up repair names the resumed retrieval";
  auto render = waitForJob(next, "render", jobFinished, 30s);
  EXPECT_EQ(render.value("state", ""), "succeeded") << render.dump();
  EXPECT_EQ(render.value("priority", 0), 10) << "routed as the request asked, before the restart";
}

// On demand, one series: Orthanc holds two series of the chest study and volnode
// none. Asked for one series by its UID alone, volnode finds its study (C-FIND at
// SERIES level), moves only that series (C-MOVE at SERIES level), renders it and
// sends the results back into the same study. An unknown series answers 404, a
// PACS that does not answer 502.
TEST(EndToEnd, OnDemandSeriesRenderRetrievesOnlyThatSeriesAndSendsTheResultsBackIntoItsStudy) {
  TempDir dir;
  int node_port = freePort();
  const int closed_port = freePort();  // nothing listens here
  OrthancProcess orthanc(dir / "orthanc", {{"volnode", "VOLNODE", "127.0.0.1", node_port}});
  NodeProcess node(dir / "node", e2eNodeSettings(node_port, "ORTHANC", orthanc.dicomPort(),
                                              {std::string("console.token=") + kE2eToken, "destinations.down.aet=DOWN",
                                               "destinations.down.host=127.0.0.1",
                                               "destinations.down.port=" + std::to_string(closed_port)}));
  // The series asked for (uploaded first), then another series of the same study.
  std::string study = uploadToOrthanc(orthanc, sharedData() / "ct-chest-transfer-syntaxes" / "implicit_le");
  ASSERT_FALSE(study.empty());
  const std::string wanted = orthancJson(orthanc, "/studies/" + study + "/series")
                                 .at(0)["MainDicomTags"].value("SeriesInstanceUID", "");
  ASSERT_EQ(uploadToOrthanc(orthanc, sharedData() / "ct-chest-transfer-syntaxes" / "rle"), study);
  std::string other;
  for (const auto& s : orthancJson(orthanc, "/studies/" + study + "/series"))
    if (s["MainDicomTags"].value("SeriesInstanceUID", "") != wanted) other = s["MainDicomTags"].value("SeriesInstanceUID", "");
  ASSERT_FALSE(wanted.empty());
  ASSERT_FALSE(other.empty());
  const std::string study_uid = orthancJson(orthanc, "/studies/" + study)["MainDicomTags"]["StudyInstanceUID"];
  EXPECT_EQ(node.get("/api/series/" + wanted).status, 404);

  const std::string path = "/api/series/" + wanted + "/render";
  EXPECT_EQ(node.post(path).status, 401);
  auto accepted = node.post(path, "", kE2eToken);
  ASSERT_EQ(accepted.status, 202) << accepted.body;
  auto answer = json::parse(accepted.body);
  EXPECT_EQ(answer.value("retrieve_state", ""), "retrieving") << accepted.body;
  EXPECT_EQ(answer.value("StudyInstanceUID", ""), study_uid) << accepted.body;
  EXPECT_EQ(answer.value("progress_url", ""), "/api/series/" + wanted) << accepted.body;
  EXPECT_EQ(answer.value("viewer_url", ""), "/view/" + study_uid) << accepted.body;
  EXPECT_NE(answer.value("message", "").find("30 instances"), std::string::npos) << accepted.body;

  auto unknown = node.post("/api/series/1.2.3.4.5.6.7.8.9.10/render", "", kE2eToken);
  EXPECT_EQ(unknown.status, 404) << unknown.body;
  EXPECT_NE(json::parse(unknown.body).value("error", "").find("neither held here nor known to pacs"), std::string::npos)
      << unknown.body;
  auto down = node.post("/api/series/1.2.3.4.5.6.7.8.9.11/render", R"({"source": "down"})", kE2eToken);
  EXPECT_EQ(down.status, 502) << down.body;
  EXPECT_NE(json::parse(down.body).value("error", "").find("cannot query down"), std::string::npos) << down.body;

  // 2 source series + VR spin, MIP spin, key views, model: in the study Orthanc had.
  auto series = waitForSeries(orthanc, study, 6, 120s);
  ASSERT_EQ(series.size(), 6u) << node.log();
  expectResultsInStudy(orthanc, study, 60);
  auto render = waitForJob(node, "render", jobFinished, 10s);
  EXPECT_EQ(render.value("state", ""), "succeeded") << render.dump();
  EXPECT_EQ(render.value("SeriesInstanceUID", ""), wanted) << render.dump();
  EXPECT_EQ(render.value("priority", 0), 10) << render.dump();
  // Only the requested series came over: the other one is still only in Orthanc.
  auto held = nodeJson(node, "/api/studies/" + study_uid);
  ASSERT_TRUE(held.is_object()) << node.log();
  ASSERT_EQ(held["series"].size(), 1u) << held.dump();
  EXPECT_EQ(held["series"][0].value("SeriesInstanceUID", ""), wanted);
  EXPECT_EQ(held["series"][0].value("instances", 0), 30);
  EXPECT_EQ(node.get("/api/series/" + other).status, 404);
  EXPECT_EQ(nodeJobs(node, "render").size(), 1u);
  // Asked again once it is held: the existing render, no second retrieval.
  auto again = node.post(path, "", kE2eToken);
  EXPECT_EQ(again.status, 202) << again.body;
  EXPECT_EQ(json::parse(again.body).value("retrieve_state", ""), "held") << again.body;
  EXPECT_EQ(json::parse(again.body)["job_ids"], json({render.value("id", 0)})) << again.body;
}

// Two studies of two patients pushed at the same time: each result lands in its own
// study with its own patient's identifiers.
TEST(EndToEnd, TwoPatientsPushedTogetherKeepTheirOwnResults) {
  TempDir dir;
  int node_port = freePort();
  OrthancProcess orthanc(dir / "orthanc", {{"volnode", "VOLNODE", "127.0.0.1", node_port}});
  NodeProcess node(dir / "node", e2eNodeSettings(node_port, "ORTHANC", orthanc.dicomPort()));
  std::string chest = uploadToOrthanc(orthanc, sharedData() / "ct-chest-transfer-syntaxes" / "implicit_le");
  otherPatientSeries(dir / "other");
  std::string other = uploadToOrthanc(orthanc, dir / "other");
  ASSERT_FALSE(chest.empty());
  ASSERT_FALSE(other.empty());
  ASSERT_EQ(orthancJson(orthanc, "/patients").size(), 2u);

  auto first = std::async(std::launch::async, [&] { pushFromOrthanc(orthanc, chest); });
  auto second = std::async(std::launch::async, [&] { pushFromOrthanc(orthanc, other); });
  first.get();
  second.get();

  ASSERT_EQ(waitForSeries(orthanc, chest, 5, 120s).size(), 5u) << node.log();
  ASSERT_EQ(waitForSeries(orthanc, other, 5, 120s).size(), 5u) << node.log();
  auto chest_results = expectResultsInStudy(orthanc, chest, 30);
  auto other_results = expectResultsInStudy(orthanc, other, 40);
  for (const auto& r : other_results) {
    EXPECT_EQ(r.value("PatientID", ""), "E2E-OTHER-42");
    EXPECT_EQ(r.value("PatientName", ""), "OTHER^PATIENT");
  }
  for (const auto& r : chest_results) EXPECT_NE(r.value("PatientID", ""), "E2E-OTHER-42");
  EXPECT_EQ(orthancJson(orthanc, "/patients").size(), 2u);
  EXPECT_EQ(orthancJson(orthanc, "/studies").size(), 2u);
  // The two deliveries really overlapped (the node logs each association's end and length).
  auto received = associationIntervals(node.log());
  ASSERT_EQ(received.size(), 2u) << node.log();
  EXPECT_LT(std::max(received[0].first, received[1].first), std::min(received[0].second, received[1].second))
      << "the two studies arrived one after the other";
}

// kill -9 while rendering, restart: the PACS gets exactly one complete set of
// results, with the SOP Instance UIDs planned before the crash.
TEST(EndToEnd, KilledWhileRenderingRestartsAndDeliversOneSetWithThePlannedUids) {
  TempDir dir;
  int node_port = freePort();
  OrthancProcess orthanc(dir / "orthanc", {{"volnode", "VOLNODE", "127.0.0.1", node_port}});
  // A render of a complete series: one started on release and killed before its grace
  // confirmed it is withdrawn at the restart instead (speculative_start_test.cpp).
  NodeProcess node(dir / "node",
                   e2eNodeSettings(node_port, "ORTHANC", orthanc.dicomPort(), {"completion.speculative_start=false"}));
  std::string study = uploadToOrthanc(orthanc, sharedData() / "ct-chest-transfer-syntaxes" / "implicit_le");
  ASSERT_FALSE(study.empty());
  pushFromOrthanc(orthanc, study);

  auto running = waitForJob(
      node, "render", [](const json& j) { return j.value("state", "") == "running"; }, 60s, 20ms);
  ASSERT_TRUE(running.is_object()) << node.log();
  const int64_t render_id = running.value("id", int64_t{0});
  // The outputs (and their UIDs) are planned after the volume is prepared and
  // before anything is rendered: kill the node as soon as they are.
  std::set<std::string> planned;
  auto deadline = std::chrono::steady_clock::now() + 30s;
  while (planned.empty() && std::chrono::steady_clock::now() < deadline) {
    auto job = nodeJson(node, "/api/jobs/" + std::to_string(render_id));
    ASSERT_EQ(job.value("state", ""), "running") << "the render ended before its outputs were seen";
    for (const auto& o : job["outputs"]) planned.insert(o.value("SOPInstanceUID", ""));
    if (planned.empty()) std::this_thread::sleep_for(10ms);
  }
  ASSERT_EQ(planned.size(), kResultsPerCtSeries) << "no planned outputs while the render ran";
  node.kill9();
  const size_t before = results(instanceTags(orthanc, study)).size();

  node.start();
  ASSERT_TRUE(node.waitUntilReady()) << node.log();
  ASSERT_EQ(waitForSeries(orthanc, study, 5, 120s).size(), 5u) << node.log();
  auto send = waitForJob(node, "send", jobFinished, 30s);
  EXPECT_EQ(send.value("state", ""), "succeeded") << send.dump();
  auto delivered = expectResultsInStudy(orthanc, study, 30);
  auto job = nodeJson(node, "/api/jobs/" + std::to_string(render_id));
  EXPECT_EQ(job.value("state", ""), "succeeded") << job.dump();
  EXPECT_GE(job.value("attempts", 0), 2) << "the render was not interrupted: " << job.dump();
  EXPECT_NE(node.log().find("interrupted by the last stop are queued again"), std::string::npos);
  std::set<std::string> outputs;
  for (const auto& o : job["outputs"]) outputs.insert(o.value("SOPInstanceUID", ""));
  EXPECT_EQ(sopUids(delivered), outputs);
  EXPECT_EQ(outputs, planned) << "the restarted render made new UIDs";
  EXPECT_EQ(nodeJobs(node, "render").size(), 1u);
  RecordProperty("results_in_pacs_at_kill", static_cast<int>(before));
}

// kill -9 while the results are being sent, restart: the send resumes and the PACS
// ends up with exactly one complete set, the same SOP Instance UIDs.
TEST(EndToEnd, KilledWhileSendingResumesAndThePacsHoldsOneCompleteSet) {
  TempDir dir;
  int node_port = freePort();
  OrthancProcess orthanc(dir / "orthanc", {{"volnode", "VOLNODE", "127.0.0.1", node_port}});
  // Default-size spins (36 frames of 512 px, 28 MB for the VR spin): a send long
  // enough to be caught with some but not all results in the PACS.
  NodeProcess node(dir / "node", e2eNodeSettings(node_port, "ORTHANC", orthanc.dicomPort(),
                                              {"render.size=512", "render.spin_frames=36"}));
  std::string study = uploadToOrthanc(orthanc, sharedData() / "ct-chest-transfer-syntaxes" / "implicit_le");
  ASSERT_FALSE(study.empty());
  pushFromOrthanc(orthanc, study);

  auto sending = waitForJob(
      node, "send", [](const json& j) { return j.value("state", "") != "queued"; }, 60s, 5ms);
  ASSERT_TRUE(sending.is_object()) << node.log();
  ASSERT_EQ(sending.value("state", ""), "running") << "the send was over before it could be interrupted";
  // Kill once the PACS acknowledged the first result object.
  auto deadline = std::chrono::steady_clock::now() + 30s;
  while (orthancJson(orthanc, "/studies/" + study + "/instances").size() <= 30 &&
         std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(2ms);
  node.kill9();
  const size_t at_kill = results(instanceTags(orthanc, study)).size();
  EXPECT_GE(at_kill, 1u);
  EXPECT_LT(at_kill, kResultsPerCtSeries) << "the send was over before it could be interrupted";
  RecordProperty("results_in_pacs_at_kill", static_cast<int>(at_kill));

  node.start();
  ASSERT_TRUE(node.waitUntilReady()) << node.log();
  auto done = waitForJob(node, "send", jobFinished, 60s);
  ASSERT_TRUE(done.is_object()) << node.log();
  EXPECT_EQ(done.value("state", ""), "succeeded") << done.dump();
  EXPECT_EQ(nodeJobs(node, "send").size(), 1u);
  auto delivered = expectResultsInStudy(orthanc, study, 30);
  auto render = nodeJobs(node, "render").at(0);
  auto job = nodeJson(node, "/api/jobs/" + std::to_string(render.value("id", 0)));
  std::set<std::string> outputs;
  for (const auto& o : job["outputs"]) outputs.insert(o.value("SOPInstanceUID", ""));
  EXPECT_EQ(sopUids(delivered), outputs);
}
