// The node receives and keeps: real `volnode serve` driven by the DCMTK tools.
#include <gtest/gtest.h>

#include <fstream>
#include <future>
#include <nlohmann/json.hpp>

#include "support/dicom_files.hpp"
#include "support/node_process.hpp"
#include "support/synthetic_series.hpp"

using namespace volnode::test;
using nlohmann::json;

namespace {

std::filesystem::path storeDir(const NodeProcess& node) { return node.dir() / "var" / "store"; }

// Stored instances by SOP Instance UID (temp folder excluded).
std::map<std::string, std::filesystem::path> storedInstances(const NodeProcess& node) {
  std::map<std::string, std::filesystem::path> stored;
  for (const auto& [uid, file] : instancesUnder(storeDir(node)))
    if (file.parent_path().filename() != "tmp") stored[uid] = file;
  return stored;
}

// storescu proposes only uncompressed transfer syntaxes unless told which
// compressed one the files use; it cannot transcode them itself.
std::string proposalFor(const std::filesystem::path& folder) {
  static const std::map<std::string, std::string> options{
      {"rle", "-xr"},         {"jpegls_lossless", "-xt"}, {"jpeg_lossless_sv1", "-xs"},
      {"j2k_lossless", "-xv"}, {"implicit_le", "-xi"},     {"explicit_be", "-xb"}};
  auto found = options.find(folder.filename().string());
  return found == options.end() ? "-x=" : found->second;
}

RunResult storeFolder(const NodeProcess& node, const std::filesystem::path& folder) {
  std::vector<std::string> options{"+sd", "+r", "-R", "-nh", proposalFor(folder)};
  auto argv = node.scu("storescu", options);
  argv.push_back(folder.string());
  return run(argv, std::chrono::seconds(300));
}

json getJson(const NodeProcess& node, const std::string& path) {
  auto response = node.get(path);
  EXPECT_EQ(response.status, 200) << path << ": " << response.body;
  return json::parse(response.body);
}

}  // namespace

TEST(Ingest, EchoSucceeds) {
  TempDir dir;
  NodeProcess node(dir.path(), {noRendering(dir.path())});
  auto result = run(node.scu("echoscu"));
  EXPECT_EQ(result.exit_code, 0) << result.output;
}

TEST(Ingest, EveryTransferSyntaxIsStoredByteIdentical) {
  TempDir dir;
  NodeProcess node(dir.path(), {noRendering(dir.path())});
  auto source = sharedData() / "ct-chest-transfer-syntaxes";
  for (const auto& folder : std::filesystem::directory_iterator(source)) {
    auto result = storeFolder(node, folder.path());
    ASSERT_EQ(result.exit_code, 0) << folder.path() << "\n" << result.output;
  }

  auto sent = instancesUnder(source);
  auto stored = storedInstances(node);
  ASSERT_EQ(sent.size(), 180u);
  ASSERT_EQ(stored.size(), sent.size());
  for (const auto& [uid, file] : sent) {
    ASSERT_TRUE(stored.count(uid)) << "not stored: " << file;
    EXPECT_TRUE(datasetBytes(file) == datasetBytes(stored[uid])) << "stored bytes differ from " << file;
  }
  // File names come from the node, never from the data.
  for (const auto& [uid, file] : stored) EXPECT_EQ(file.string().find(uid), std::string::npos);

  auto studies = getJson(node, "/api/studies")["studies"];
  ASSERT_EQ(studies.size(), 1u);
  EXPECT_EQ(studies[0]["series"], 6);
  EXPECT_EQ(studies[0]["instances"], 180);
}

TEST(Ingest, EverySharedDataFolderIsStoredAndNonDicomFilesDisturbNothing) {
  TempDir dir;
  NodeProcess node(dir.path(), {noRendering(dir.path())});
  std::map<std::string, std::filesystem::path> sent;
  std::vector<std::filesystem::path> folders;
  for (const auto& entry : std::filesystem::directory_iterator(sharedData())) {
    if (!entry.is_directory()) continue;
    if (entry.path().filename() == "ct-chest-transfer-syntaxes")
      for (const auto& sub : std::filesystem::directory_iterator(entry.path())) folders.push_back(sub.path());
    else
      folders.push_back(entry.path());
  }
  for (const auto& folder : folders) {
    storeFolder(node, folder);  // non-DICOM files make storescu report failures, by design
    for (const auto& [uid, file] : instancesUnder(folder)) sent[uid] = file;
  }
  // (Byte identity is checked where storescu sends files unchanged, in the test
  // above; for some of these files storescu itself re-encodes sequence lengths.)
  auto stored = storedInstances(node);
  for (const auto& [uid, file] : sent) EXPECT_TRUE(stored.count(uid)) << "not stored: " << file;
  EXPECT_EQ(stored.size(), sent.size());
  auto health = getJson(node, "/api/health");
  EXPECT_EQ(health["index"]["instances"], static_cast<int64_t>(sent.size()));
  EXPECT_EQ(health["status"], "ok");
  // The node is still healthy and answers.
  EXPECT_EQ(run(node.scu("echoscu")).exit_code, 0);
}

TEST(Ingest, FourParallelAssociationsAreAllKept) {
  TempDir dir;
  NodeProcess node(dir.path(), {noRendering(dir.path())});
  auto base = sharedData() / "ct-chest-transfer-syntaxes";
  std::vector<std::future<RunResult>> senders;
  for (const char* folder : {"implicit_le", "explicit_be", "rle", "jpegls_lossless"})
    senders.push_back(std::async(std::launch::async, [&, folder] { return storeFolder(node, base / folder); }));
  for (auto& sender : senders) EXPECT_EQ(sender.get().exit_code, 0);
  EXPECT_EQ(storedInstances(node).size(), 120u);
  auto study = getJson(node, "/api/studies")["studies"][0];
  EXPECT_EQ(study["instances"], 120);
  EXPECT_EQ(study["series"], 4);
}

TEST(Ingest, UnlistedCallingAeTitleIsRefusedAndLogged) {
  TempDir dir;
  NodeProcess node(dir.path(), {noRendering(dir.path()), "dicom.allowed_peers=[{aet=\"PACS\",host=\"127.0.0.1\"}]"});
  auto refused = run(node.scu("echoscu", {"-aet", "INTRUDER"}));
  EXPECT_NE(refused.exit_code, 0);
  EXPECT_NE(refused.output.find("Association Rejected"), std::string::npos) << refused.output;
  EXPECT_NE(refused.output.find("Calling AE Title Not Recognized"), std::string::npos) << refused.output;
  auto allowed = run(node.scu("echoscu", {"-aet", "PACS"}));
  EXPECT_EQ(allowed.exit_code, 0) << allowed.output;
  EXPECT_NE(node.log().find("refused association from 'INTRUDER'"), std::string::npos);
  EXPECT_EQ(getJson(node, "/api/health")["dicom"]["associations_refused"], 1);
}

TEST(Ingest, WrongCalledAeTitleIsRefused) {
  TempDir dir;
  NodeProcess node(dir.path(), {noRendering(dir.path())});
  auto argv = node.scu("echoscu");
  argv[2] = "SOMEONEELSE";
  auto refused = run(argv);
  EXPECT_NE(refused.exit_code, 0);
  EXPECT_NE(refused.output.find("Called AE Title Not Recognized"), std::string::npos) << refused.output;
}

TEST(Ingest, BelowFreeSpaceWatermarkStoreIsRefusedWithOutOfResources) {
  TempDir dir;
  // A watermark no disk can meet: every C-STORE must be refused with 0xA700.
  NodeProcess node(dir.path(), {noRendering(dir.path()), "storage.min_free_mb=1000000000"});
  auto argv = node.scu("storescu", {"-v"});
  argv.push_back((sharedData() / "ct-chest-transfer-syntaxes/implicit_le/1-01.dcm").string());
  auto result = run(argv);
  EXPECT_NE(result.exit_code, 0);
  EXPECT_NE(result.output.find("Refused: OutOfResources"), std::string::npos) << result.output;
  EXPECT_NE(node.log().find("refused (0xA700): free disk space"), std::string::npos);
  EXPECT_TRUE(storedInstances(node).empty());
  auto health = getJson(node, "/api/health");
  EXPECT_FALSE(health["storage"]["accepting_instances"].get<bool>());
  EXPECT_EQ(health["status"], "degraded");
}

TEST(Ingest, AnInstanceOverTheSizeLimitIsRefusedAndTheAssociationGoesOn) {
  TempDir source;
  SyntheticSeries series;
  series.rows = series.cols = 512;
  series.slices = 8;  // 4 MB of pixel data
  const auto large = writeSyntheticEnhancedCt(series, source / "large.dcm").files.at(0);
  const auto small = sharedData() / "ct-chest-transfer-syntaxes/implicit_le/1-01.dcm";

  TempDir dir;
  NodeProcess node(dir.path(), {noRendering(dir.path()), "dicom.max_instance_mb=1"});
  // One association: the large instance first, then one within the limit (-nh: storescu
  // goes on after a refused store).
  auto argv = node.scu("storescu", {"-v", "-nh"});
  argv.push_back(large.string());
  argv.push_back(small.string());
  const auto result = run(argv);
  EXPECT_NE(result.output.find("Refused: OutOfResources"), std::string::npos) << result.output;
  EXPECT_NE(node.log().find("larger than dicom.max_instance_mb = 1"), std::string::npos) << node.log();
  EXPECT_NE(node.log().find("at 127.0.0.1 answered 0xA700"), std::string::npos) << node.log();
  const auto stored = storedInstances(node);
  ASSERT_EQ(stored.size(), 1u) << result.output;
  EXPECT_EQ(stored.begin()->first, sopInstanceUid(small));
  // Nothing of the refused instance stays behind, not even a part in a reusable slot.
  for (const auto& file : filesUnder(storeDir(node)))
    EXPECT_LT(std::filesystem::file_size(file), uintmax_t(1) << 20) << file;
}

TEST(Ingest, SameInstanceAgainIsANoOpAndDifferentContentIsKeptAsConflict) {
  TempDir dir;
  NodeProcess node(dir.path(), {noRendering(dir.path())});
  auto file = sharedData() / "ct-chest-transfer-syntaxes/implicit_le/1-01.dcm";
  auto send = [&](const std::filesystem::path& f) {
    auto argv = node.scu("storescu", {proposalFor(f.parent_path())});
    argv.push_back(f.string());
    return run(argv);
  };
  ASSERT_EQ(send(file).exit_code, 0);
  ASSERT_EQ(send(file).exit_code, 0);
  EXPECT_EQ(storedInstances(node).size(), 1u);
  // The same SOP Instance UID in another transfer syntax: other bytes, both kept.
  auto other = sharedData() / "ct-chest-transfer-syntaxes/explicit_be/1-01.dcm";
  if (sopInstanceUid(other) == sopInstanceUid(file)) {
    ASSERT_EQ(send(other).exit_code, 0);
    EXPECT_EQ(filesUnder(storeDir(node)).size(), 2u);
    EXPECT_NE(node.log().find("conflict"), std::string::npos);
  }
}

namespace {

// VmHWM of a running process, in MiB.
double peakResidentMb(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("VmHWM:", 0) == 0) return std::stod(line.substr(6)) / 1024.0;
  return -1;
}

}  // namespace

TEST(Ingest, ALargeInstanceIsReceivedAndComparedInConstantMemory) {
  // One Enhanced CT object of 256 frames of 512x512 (134 MB), sent twice (the second
  // time it is compared with the first as a duplicate). The node's peak memory may grow
  // by a small constant, not by the size of what a peer sends.
  TempDir source;
  SyntheticSeries series;
  series.rows = series.cols = 512;
  series.slices = 256;
  series.origin = {-179, -179, -100};
  series.row_spacing = series.col_spacing = 0.7;
  series.value = OrientationPhantom{{0, 0, 0}, {150, 110, 90}}.function();
  const auto file = writeSyntheticEnhancedCt(series, source / "enhanced-ct.dcm").files.at(0);
  const double object_mb = double(std::filesystem::file_size(file)) / (1 << 20);

  TempDir dir;
  NodeProcess node(dir.path(), {noRendering(dir.path())});
  ASSERT_EQ(run(node.scu("echoscu")).exit_code, 0);
  const double baseline_mb = peakResidentMb(node.pid());
  ASSERT_GT(baseline_mb, 0);
  for (int attempt = 0; attempt < 2; ++attempt) {
    auto argv = node.scu("storescu");
    argv.push_back(file.string());
    const auto sent = run(argv, std::chrono::seconds(120));
    ASSERT_EQ(sent.exit_code, 0) << sent.output;
  }
  const auto stored = storedInstances(node);
  ASSERT_EQ(stored.size(), 1u);
  EXPECT_EQ(stored.begin()->first, sopInstanceUid(file));
  const double growth_mb = peakResidentMb(node.pid()) - baseline_mb;
  EXPECT_LT(growth_mb, 48.0) << "receiving a " << object_mb << " MB instance raised the node's peak memory by "
                             << growth_mb << " MB";
}

TEST(Ingest, RestartKeepsEverythingAcknowledgedEvenAfterKill9) {
  TempDir dir;
  auto node = std::make_unique<NodeProcess>(dir.path(), std::vector<std::string>{noRendering(dir.path())});
  ASSERT_EQ(storeFolder(*node, sharedData() / "ct-chest-transfer-syntaxes/rle").exit_code, 0);
  auto before = getJson(*node, "/api/studies");
  node->kill9();
  node->start();
  ASSERT_TRUE(node->waitUntilReady());
  EXPECT_EQ(getJson(*node, "/api/studies"), before);
  EXPECT_EQ(storedInstances(*node).size(), 30u);
  EXPECT_EQ(node->stop(), 0);
  node->start();
  ASSERT_TRUE(node->waitUntilReady());
  EXPECT_EQ(getJson(*node, "/api/studies"), before);
}

TEST(Ingest, SeriesAndStudyEndpointsDescribeWhatWasReceived) {
  TempDir dir;
  NodeProcess node(dir.path(), {noRendering(dir.path())});
  auto source = sharedData() / "ct-chest-transfer-syntaxes/jpeg_lossless_sv1";
  ASSERT_EQ(storeFolder(node, source).exit_code, 0);
  auto study = getJson(node, "/api/studies")["studies"][0];
  auto detail = getJson(node, "/api/studies/" + study["StudyInstanceUID"].get<std::string>());
  ASSERT_EQ(detail["series"].size(), 1u);
  auto series_uid = detail["series"][0]["SeriesInstanceUID"].get<std::string>();
  auto series = getJson(node, "/api/series/" + series_uid);
  EXPECT_EQ(series["SeriesInstanceUID"], series_uid);
  EXPECT_EQ(series["Modality"], "CT");
  EXPECT_EQ(series["instances"], 30);
  EXPECT_EQ(series["Rows"], 512);
  EXPECT_EQ(series["TransferSyntaxUID"], "1.2.840.10008.1.2.4.70");
  EXPECT_FALSE(series["state"].get<std::string>().empty());

  auto missing = node.get("/api/series/1.2.3.4");
  EXPECT_EQ(missing.status, 404);
  EXPECT_NE(json::parse(missing.body)["error"].get<std::string>().find("1.2.3.4"), std::string::npos);
  EXPECT_EQ(node.get("/api/studies/1.2.3.4").status, 404);
  EXPECT_EQ(node.get("/api/studies?limit=abc").status, 400);
}
