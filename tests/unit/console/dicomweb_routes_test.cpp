// DICOMweb on the node (/dicom-web) against a real ConsoleServer on a free loopback
// port, a temporary index and real CT files (../shared/data) in its store: QIDO-RS
// answers match the index, WADO-RS returns the stored bytes, frames match the pixels
// DCMTK decodes, and the console's access rules apply.
#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcfilefo.h>
#include <dcmtk/dcmdata/dcmetinf.h>
#include <gtest/gtest.h>
#include <httplib.h>

#include <cstring>
#include <fstream>
#include <map>
#include <set>
#include <nlohmann/json.hpp>
#include <sstream>

#include "../../../console/src/auth.hpp"
#include "../../../storage/src/instance_attributes.hpp"
#include "support/process.hpp"
#include "support/suite_index_location.hpp"
#include "volnode/console/console_server.hpp"
#include "volnode/core/clock.hpp"
#include "volnode/core/ids.hpp"
#include "volnode/encode/encode.hpp"
#include "volnode/storage/index.hpp"
#include "volnode/storage/job_queue.hpp"

namespace volnode {
namespace {

using nlohmann::json;
const std::string kDicomwebToken = "dicomweb-token-0123456789";
const std::string kDicomwebLaunchSecret = "dicomweb-launch-secret-0123";

// A launch renders when the study has no results yet; here that is only accepted.
class AcceptingActions : public NodeActions {
 public:
  OnDemandResult renderStudy(const std::string&, const std::string&, const std::string&) override {
    return {true, 202, "render queued", {1}, "held", ""};
  }
  OnDemandResult renderSeries(const std::string&, const std::string&, const std::string&) override {
    return {true, 202, "render queued", {1}, "held", ""};
  }
  void wakeWorkers() override {}
  std::vector<DestinationStatus> destinations() override { return {}; }
};
const char* kFiles[] = {"09.dcm", "14.dcm", "28.dcm"};

// The parts of a multipart/related body (boundary from its Content-Type).
std::vector<std::string> multipartParts(const std::string& body, const std::string& content_type) {
  auto at = content_type.find("boundary=");
  if (at == std::string::npos) return {};
  const std::string delimiter = "--" + content_type.substr(at + 9);
  std::vector<std::string> parts;
  size_t pos = body.find(delimiter);
  while (pos != std::string::npos) {
    size_t start = body.find("\r\n\r\n", pos);
    size_t next = body.find("\r\n" + delimiter, pos + delimiter.size());
    if (start == std::string::npos || next == std::string::npos) break;
    parts.push_back(body.substr(start + 4, next - start - 4));
    pos = next + 2;
  }
  return parts;
}

std::string value(const json& item, const char* tag) {
  if (!item.contains(tag) || !item[tag].contains("Value")) return "";
  const auto& v = item[tag]["Value"][0];
  if (v.is_object()) return v.value("Alphabetic", "");
  return v.is_string() ? v.get<std::string>() : v.dump();
}

class DicomWebRoutes : public ::testing::Test {
 protected:
  void SetUp() override {
    index = std::make_unique<Index>(test::suiteIndexLocation(dir.path()));
    jobs = std::make_unique<JobQueue>(test::suiteIndexLocation(dir.path()));
    std::filesystem::create_directories(dir / "store" / "in");
    for (const char* name : kFiles) {
      auto source = test::sharedData() / "ct-head-gantry-tilt" / name;
      std::filesystem::copy_file(source, dir / "store" / "in" / name);
      NewInstance n;
      n.attributes = readInstanceAttributes(source);
      n.file_path = std::string("in/") + name;
      n.file_size = std::filesystem::file_size(source);
      index->addInstance(n);
      sop_uids.push_back(n.attributes.sop_uid);
      study_uid = n.attributes.study_uid;
      series_uid = n.attributes.series_uid;
      patient_id = n.attributes.patient_id;
    }
    ASSERT_EQ(index->counts().instances, 3);
    ASSERT_EQ(index->listStudies(StudyQuery{}).size(), 1u);
  }

  void start(bool exposed = false) {
    ConsoleConfig config;
    config.port = 0;
    if (exposed) {
      config.bind = "127.0.0.2";
      config.token = kDicomwebToken;
      config.allow_plain_http = true;
    }
    ConsoleContext context{config, *index, *jobs, [] { return HealthReport{}; }};
    context.store_root = dir / "store";
    context.results_root = dir / "results";
    context.actions = &actions;
    context.launch_secret = kDicomwebLaunchSecret;
    server = std::make_unique<ConsoleServer>(context);
    server->start();
    host = exposed ? "127.0.0.2" : "127.0.0.1";
  }

  // What a render job of the series leaves, written by the node's encoder: a grey spin
  // of 3 frames, two single-frame key views in one series and an STL model, recorded
  // in job_outputs as the render job records them; and one key view still unwritten.
  void addResults() {
    const int64_t job = jobs->enqueue({JobKind::Render, study_uid, series_uid, "ct"});
    const auto out_dir = dir / "results" / std::to_string(job) / "dicom";
    std::vector<JobOutput> planned;
    auto plan = [&](const std::string& key, const std::string& series, int number, const std::string& what) {
      JobOutput o;
      o.job_id = job;
      o.output_key = key;
      o.kind = key.substr(0, key.find(':'));
      o.series_uid = series;
      o.sop_uid = newDicomUid("");
      o.series_number = number;
      o.description = what;
      o.created = "20260101120000";
      planned.push_back(o);
      return ObjectPlan{o.series_uid, o.sop_uid, number, 1, what, o.created};
    };
    auto frame = [](int n, int channels) {
      RenderedFrame f;
      f.view = "spin-00" + std::to_string(n);
      f.width = 8;
      f.height = 6;
      f.channels = channels;
      for (int i = 0; i < 8 * 6 * channels; ++i) f.pixels.push_back(static_cast<uint8_t>(n * 50 + i));
      return f;
    };
    const auto identity = readOutputIdentity(dir / "store" / "in" / kFiles[0]);
    FramesInfo info;
    info.kind = RenderKind::Mip;
    std::vector<EncodedObject> written;
    written.push_back(encodeSpin(identity, plan("mip_spin:ct-mip", newDicomUid(""), 9001, "3D MIP spin"),
                                 {frame(0, 1), frame(1, 1), frame(2, 1)}, info, out_dir));
    const std::string views_series = newDicomUid("");
    auto anterior = plan("key_views:ct-bone:anterior", views_series, 9002, "3D VR Bone key views");
    auto left = plan("key_views:ct-bone:left", views_series, 9002, "3D VR Bone key views");
    left.instance_number = 2;
    for (auto& e : encodeKeyViews(identity, {anterior, left}, {frame(3, 3), frame(4, 3)}, FramesInfo{},
                                  KeyViewsMode::Single, out_dir))
      written.push_back(e);
    plan("key_views:ct-bone:right", views_series, 9002, "3D VR Bone key views");  // not written
    std::ofstream(dir / "model.stl", std::ios::binary)
        << std::string(80, ' ') << std::string("\x01\0\0\0", 4) << std::string(12, '\0') << std::string(36, '\0')
        << std::string(2, '\0');
    written.push_back(encodeStl(identity, plan("mesh:ct-bone", newDicomUid(""), 9003, "3D model Bone"),
                                dir / "model.stl", MeshInfo{}, out_dir));
    jobs->planOutputs(job, planned);
    for (const auto& e : written)
      for (const auto& o : planned)
        if (o.sop_uid == e.sop_instance_uid) {
          jobs->recordOutputFile(job, o.output_key, e.sop_class_uid,
                                 std::filesystem::relative(e.path, dir / "results").string(),
                                 static_cast<int64_t>(e.size_bytes), e.frames);
          result_files[o.sop_uid] = e.path;
        }
  }

  httplib::Result get(const std::string& path, httplib::Headers headers = {}) {
    httplib::Client client(host, server->port());
    client.set_read_timeout(30);
    return client.Get(path, headers);
  }

  json qido(const std::string& path) {
    auto r = get(path);
    EXPECT_TRUE(r) << path;
    if (!r) return json();
    EXPECT_EQ(r->status, 200) << path << ": " << r->body;
    EXPECT_EQ(r->get_header_value("Content-Type"), "application/dicom+json");
    return json::parse(r->body, nullptr, false);
  }

  test::TempDir dir;
  std::unique_ptr<Index> index;
  std::unique_ptr<JobQueue> jobs;
  AcceptingActions actions;
  std::unique_ptr<ConsoleServer> server;
  std::string host;
  std::vector<std::string> sop_uids;
  std::string study_uid, series_uid, patient_id;
  std::map<std::string, std::filesystem::path> result_files;  // by SOP Instance UID
};

// An attribute of a file's data set as DCMTK reads it ("" when absent).
std::string fileValue(const std::filesystem::path& file, const DcmTagKey& tag) {
  DcmFileFormat f;
  if (!f.loadFile(file.c_str()).good()) return "";
  OFString text;
  if (tag == DCM_TransferSyntaxUID) {
    f.getMetaInfo()->findAndGetOFString(tag, text);
  } else {
    f.getDataset()->findAndGetOFStringArray(tag, text);
  }
  return text.c_str();
}

TEST_F(DicomWebRoutes, QidoStudiesMatchTheIndexWithTheStandardMatchingKinds) {
  start();
  auto all = qido("/dicom-web/studies");
  ASSERT_EQ(all.size(), 1u);
  EXPECT_EQ(value(all[0], "0020000D"), study_uid);
  EXPECT_EQ(value(all[0], "00100020"), patient_id);
  EXPECT_EQ(all[0]["00201208"]["Value"][0], 3);
  EXPECT_EQ(all[0]["00080061"]["Value"][0], "CT");
  auto study = index->study(study_uid);
  ASSERT_TRUE(study);
  EXPECT_EQ(value(all[0], "00100010"), study->patient_name);
  // Single value, wildcard (any case), UID list, date range, modality: all find it...
  EXPECT_EQ(qido("/dicom-web/studies?PatientID=" + patient_id).size(), 1u);
  std::string name_start = study->patient_name.substr(0, 2);
  for (auto& c : name_start) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  EXPECT_EQ(qido("/dicom-web/studies?PatientName=" + name_start + "*").size(), 1u) << study->patient_name;
  EXPECT_EQ(qido("/dicom-web/studies?0020000D=1.2.3," + study_uid).size(), 1u);
  EXPECT_EQ(qido("/dicom-web/studies?ModalitiesInStudy=MR,CT").size(), 1u);
  if (!study->study_date.empty()) {  // the gantry-tilt series carries none: then a range excludes it
    EXPECT_EQ(qido("/dicom-web/studies?StudyDate=" + study->study_date + "-").size(), 1u);
    EXPECT_EQ(qido("/dicom-web/studies?StudyDate=" + study->study_date).size(), 1u);
  } else {
    EXPECT_EQ(qido("/dicom-web/studies?StudyDate=19000101-").size(), 0u);
    EXPECT_EQ(qido("/dicom-web/studies?StudyDate=-29991231").size(), 0u);
  }
  // ...and the same kinds exclude it.
  EXPECT_EQ(qido("/dicom-web/studies?PatientID=" + patient_id + "X").size(), 0u);
  EXPECT_EQ(qido("/dicom-web/studies?PatientName=zz*").size(), 0u);
  EXPECT_EQ(qido("/dicom-web/studies?ModalitiesInStudy=MR").size(), 0u);
  EXPECT_EQ(qido("/dicom-web/studies?offset=1").size(), 0u);
  EXPECT_EQ(qido("/dicom-web/studies?includefield=all&fuzzymatching=false").size(), 1u);
  auto bad = get("/dicom-web/studies?Foo=1");
  ASSERT_TRUE(bad);
  EXPECT_EQ(bad->status, 400);
  EXPECT_NE(bad->body.find("PatientName"), std::string::npos) << bad->body;
  bad = get("/dicom-web/studies?StudyDate=2020");
  ASSERT_TRUE(bad);
  EXPECT_EQ(bad->status, 400);
}

TEST_F(DicomWebRoutes, QidoSeriesAndInstancesMatchTheIndex) {
  start();
  auto series = qido("/dicom-web/studies/" + study_uid + "/series");
  ASSERT_EQ(series.size(), 1u);
  EXPECT_EQ(value(series[0], "0020000E"), series_uid);
  EXPECT_EQ(series[0]["00201209"]["Value"][0], 3);
  EXPECT_EQ(qido("/dicom-web/series?Modality=CT").size(), 1u);
  EXPECT_EQ(qido("/dicom-web/series?Modality=MR").size(), 0u);
  auto instances = qido("/dicom-web/studies/" + study_uid + "/series/" + series_uid + "/instances");
  ASSERT_EQ(instances.size(), 3u);
  std::set<std::string> found;
  for (const auto& i : instances) found.insert(value(i, "00080018"));
  EXPECT_EQ(found, std::set<std::string>(sop_uids.begin(), sop_uids.end()));
  EXPECT_EQ(qido("/dicom-web/studies/" + study_uid + "/instances?SOPInstanceUID=" + sop_uids[1]).size(), 1u);
  EXPECT_EQ(qido("/dicom-web/studies/" + study_uid + "/instances?limit=2").size(), 2u);
  EXPECT_EQ(qido("/dicom-web/studies/1.2.3/instances").size(), 0u);
}

TEST_F(DicomWebRoutes, WadoReturnsTheStoredBytesAndRefusesSyntaxesItWouldHaveToTranscode) {
  start();
  auto r = get("/dicom-web/studies/" + study_uid + "/series/" + series_uid,
               {{"Accept", "multipart/related; type=\"application/dicom\"; transfer-syntax=*"}});
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  auto parts = multipartParts(r->body, r->get_header_value("Content-Type"));
  ASSERT_EQ(parts.size(), 3u);
  std::set<std::string> expected, got(parts.begin(), parts.end());
  for (const char* name : kFiles) expected.insert(test::readBytes(test::sharedData() / "ct-head-gantry-tilt" / name));
  EXPECT_TRUE(got == expected);
  // No transfer-syntax parameter means Explicit VR Little Endian: how these files are stored.
  r = get("/dicom-web/studies/" + study_uid + "/series/" + series_uid + "/instances/" + sop_uids[0],
          {{"Accept", "multipart/related; type=\"application/dicom\""}});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(multipartParts(r->body, r->get_header_value("Content-Type")).size(), 1u);
  r = get("/dicom-web/studies/" + study_uid,
          {{"Accept", "multipart/related; type=\"application/dicom\"; transfer-syntax=1.2.840.10008.1.2.4.90"}});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 406) << r->body;
  r = get("/dicom-web/studies/1.2.3");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 404);
}

TEST_F(DicomWebRoutes, FramesAreThePixelsDcmtkDecodesAndMetadataComesFromTheIndex) {
  start();
  const std::string instance = "/dicom-web/studies/" + study_uid + "/series/" + series_uid + "/instances/" + sop_uids[0];
  auto r = get(instance + "/frames/1", {{"Accept", "multipart/related; type=\"application/octet-stream\"; transfer-syntax=*"}});
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  auto parts = multipartParts(r->body, r->get_header_value("Content-Type"));
  ASSERT_EQ(parts.size(), 1u);
  DcmFileFormat file;
  ASSERT_TRUE(file.loadFile((test::sharedData() / "ct-head-gantry-tilt" / kFiles[0]).c_str()).good());
  const Uint16* pixels = nullptr;
  unsigned long count = 0;
  ASSERT_TRUE(file.getDataset()->findAndGetUint16Array(DCM_PixelData, pixels, &count).good());
  ASSERT_EQ(parts[0].size(), count * 2);
  EXPECT_EQ(std::memcmp(parts[0].data(), pixels, parts[0].size()), 0);  // little endian host, as on the wire
  r = get(instance + "/frames/2");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 404);  // a single-frame image

  auto metadata = qido(instance + "/metadata");
  ASSERT_EQ(metadata.size(), 1u);
  auto attributes = index->firstInstanceAttributes(series_uid);
  ASSERT_TRUE(attributes);
  EXPECT_EQ(value(metadata[0], "00080018"), sop_uids[0]);
  EXPECT_EQ(metadata[0]["00280010"]["Value"][0], *attributes->rows);
  EXPECT_EQ(metadata[0]["00200037"]["Value"].size(), 6u);
  EXPECT_EQ(qido("/dicom-web/studies/" + study_uid + "/metadata").size(), 3u);
}

TEST_F(DicomWebRoutes, PixelDataBulkDataOfTheMetadataIsThePixelsDcmtkDecodes) {
  start();
  const std::string instance = "/dicom-web/studies/" + study_uid + "/series/" + series_uid + "/instances/" + sop_uids[1];
  auto metadata = qido(instance + "/metadata");
  ASSERT_EQ(metadata.size(), 1u);
  const std::string uri = metadata[0]["7FE00010"].value("BulkDataURI", "");
  EXPECT_EQ(metadata[0]["7FE00010"].value("vr", ""), "OW");
  ASSERT_EQ(uri, instance + "/bulkdata/7FE00010");
  auto r = get(uri, {{"Accept", "multipart/related; type=\"application/octet-stream\""}});
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  auto parts = multipartParts(r->body, r->get_header_value("Content-Type"));
  ASSERT_EQ(parts.size(), 1u);
  DcmFileFormat file;
  ASSERT_TRUE(file.loadFile((test::sharedData() / "ct-head-gantry-tilt" / kFiles[1]).c_str()).good());
  const Uint16* pixels = nullptr;
  unsigned long count = 0;
  ASSERT_TRUE(file.getDataset()->findAndGetUint16Array(DCM_PixelData, pixels, &count).good());
  ASSERT_EQ(parts[0].size(), count * 2);
  EXPECT_EQ(std::memcmp(parts[0].data(), pixels, parts[0].size()), 0);
  // Another transfer syntax than the stored one would need decoding or transcoding here: refused.
  r = get(uri, {{"Accept", "multipart/related; type=\"application/octet-stream\"; transfer-syntax=1.2.840.10008.1.2.4.70"}});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 406) << r->body;
  r = get("/dicom-web/studies/" + study_uid + "/series/" + series_uid + "/instances/1.2.3/bulkdata/7FE00010");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 404);
}

// The node's own results (written outputs of its render jobs) are in their source's
// study: QIDO-RS lists them with the attributes their files hold, WADO-RS returns
// their bytes, frames and metadata as for a received instance.
TEST_F(DicomWebRoutes, TheNodesResultsAreQueriedAndRetrievedLikeReceivedInstances) {
  addResults();
  ASSERT_EQ(result_files.size(), 4u);
  start();
  auto studies = qido("/dicom-web/studies");
  ASSERT_EQ(studies.size(), 1u);
  EXPECT_EQ(studies[0]["00201206"]["Value"][0], 1 + 3);
  EXPECT_EQ(studies[0]["00201208"]["Value"][0], 3 + 4);
  EXPECT_EQ(studies[0]["00080061"]["Value"], json::array({"CT", "M3D"}));

  auto series = qido("/dicom-web/studies/" + study_uid + "/series");
  ASSERT_EQ(series.size(), 4u);
  EXPECT_EQ(value(series[0], "0020000E"), series_uid);
  std::map<std::string, json> result_series;
  for (size_t i = 1; i < series.size(); ++i) result_series[value(series[i], "0020000E")] = series[i];
  for (const auto& [sop, file] : result_files) {
    const auto found = result_series.find(fileValue(file, DCM_SeriesInstanceUID));
    ASSERT_NE(found, result_series.end()) << file;
    EXPECT_EQ(value(found->second, "00080060"), fileValue(file, DCM_Modality));
    EXPECT_EQ(value(found->second, "00200011"), fileValue(file, DCM_SeriesNumber));
    EXPECT_EQ(value(found->second, "0008103E"), fileValue(file, DCM_SeriesDescription));
    EXPECT_EQ(value(found->second, "00180015"), fileValue(file, DCM_BodyPartExamined));
  }
  EXPECT_EQ(qido("/dicom-web/series?Modality=M3D").size(), 1u);
  EXPECT_EQ(qido("/dicom-web/studies/" + study_uid + "/series?SeriesNumber=9002")[0]["00201209"]["Value"][0], 2);

  auto instances = qido("/dicom-web/studies/" + study_uid + "/instances");
  ASSERT_EQ(instances.size(), 3u + 4u);
  size_t compared = 0;
  for (const auto& i : instances) {
    const auto file = result_files.find(value(i, "00080018"));
    if (file == result_files.end()) continue;
    ++compared;
    for (const auto& [tag, key] : std::vector<std::pair<const char*, DcmTagKey>>{
             {"00080016", DCM_SOPClassUID}, {"00200013", DCM_InstanceNumber}, {"00280010", DCM_Rows},
             {"00280011", DCM_Columns}, {"00280008", DCM_NumberOfFrames}, {"00280100", DCM_BitsAllocated},
             {"00083002", DCM_TransferSyntaxUID}, {"0020000E", DCM_SeriesInstanceUID}})
      EXPECT_EQ(value(i, tag), fileValue(file->second, key)) << tag << " of " << file->second;
    const std::string url = "/dicom-web/studies/" + study_uid + "/series/" + value(i, "0020000E") + "/instances/" +
                            value(i, "00080018");
    EXPECT_EQ(value(i, "00081190"), url);
    auto r = get(url, {{"Accept", "multipart/related; type=\"application/dicom\""}});
    ASSERT_TRUE(r);
    ASSERT_EQ(r->status, 200) << r->body;
    auto parts = multipartParts(r->body, r->get_header_value("Content-Type"));
    ASSERT_EQ(parts.size(), 1u);
    EXPECT_TRUE(parts[0] == test::readBytes(file->second)) << file->second;
  }
  EXPECT_EQ(compared, 4u);
  const std::string views_series = fileValue(std::next(result_files.begin())->second, DCM_SeriesInstanceUID);
  for (const auto& [sop, file] : result_files) {
    if (fileValue(file, DCM_InstanceNumber) != "2") continue;
    auto second = qido("/dicom-web/studies/" + study_uid + "/series/" + fileValue(file, DCM_SeriesInstanceUID) +
                       "/instances?InstanceNumber=2");
    ASSERT_EQ(second.size(), 1u);
    EXPECT_EQ(value(second[0], "00080018"), sop);
  }

  // The spin's second frame is the second frame the encoder wrote; a mesh has no pixels.
  for (const auto& [sop, file] : result_files) {
    const std::string base = "/dicom-web/studies/" + study_uid + "/series/" + fileValue(file, DCM_SeriesInstanceUID) +
                             "/instances/" + sop;
    auto metadata = qido(base + "/metadata");
    ASSERT_EQ(metadata.size(), 1u);
    if (fileValue(file, DCM_SOPClassUID) == kSopClassEncapsulatedStl) {
      EXPECT_FALSE(metadata[0].contains("7FE00010"));
      auto r = get(base + "/frames/1");
      ASSERT_TRUE(r);
      EXPECT_EQ(r->status, 404) << r->body;
      continue;
    }
    if (fileValue(file, DCM_NumberOfFrames) != "3") continue;
    auto r = get(base + "/frames/2");
    ASSERT_TRUE(r);
    ASSERT_EQ(r->status, 200) << r->body;
    auto parts = multipartParts(r->body, r->get_header_value("Content-Type"));
    ASSERT_EQ(parts.size(), 1u);
    std::string expected;
    for (int k = 0; k < 8 * 6; ++k) expected.push_back(static_cast<char>(static_cast<uint8_t>(50 + k)));
    EXPECT_TRUE(parts[0] == expected);
  }
}


TEST_F(DicomWebRoutes, BeyondLoopbackReadsNeedTheConsoleToken) {
  start(true);
  auto r = get("/dicom-web/studies");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 401);
  r = get("/dicom-web/studies/" + study_uid + "/series/" + series_uid + "/instances/" + sop_uids[0] + "/frames/1");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 401);
  r = get("/dicom-web/studies", {{"Authorization", "Bearer " + kDicomwebToken}});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(json::parse(r->body).size(), 1u);
}

// A signed launch link's session reads its own study over DICOMweb, nothing else.
TEST_F(DicomWebRoutes, ALaunchSessionReadsOnlyItsStudy) {
  start(true);
  auto launch = get("/launch?studyUID=" + study_uid + "&token=" +
                    console::signLaunchToken(kDicomwebLaunchSecret, study_uid, static_cast<int64_t>(unixSecondsNow()) + 60));
  ASSERT_TRUE(launch);
  ASSERT_EQ(launch->status, 303) << launch->body;
  std::string cookie = launch->get_header_value("Set-Cookie");
  cookie = cookie.substr(0, cookie.find(';'));
  ASSERT_FALSE(cookie.empty());
  httplib::Headers with_session{{"Cookie", cookie}};
  auto r = get("/dicom-web/studies/" + study_uid + "/series", with_session);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  r = get("/dicom-web/studies?StudyInstanceUID=" + study_uid, with_session);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(json::parse(r->body).size(), 1u);
  r = get("/dicom-web/studies/" + study_uid + "/series/" + series_uid + "/instances/" + sop_uids[0] + "/frames/1",
          with_session);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  for (const std::string& other : {std::string("/dicom-web/studies"), std::string("/dicom-web/studies?PatientID=*"),
                                   std::string("/dicom-web/studies?StudyInstanceUID=1.2.3,") + study_uid,
                                   std::string("/dicom-web/studies/1.2.3/series"), std::string("/dicom-web/series")}) {
    r = get(other, with_session);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 403) << other;  // a known session, outside its scope
  }
}

}  // namespace
}  // namespace volnode
