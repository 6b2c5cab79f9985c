// Several `volnode serve` nodes receiving at once on one PostgreSQL index and one store
// directory (docs/scaling.md), with a `volnode worker` rendering for both: a study pushed
// to each node is stored once, rendered once and its results recorded once, and either
// node's console shows both studies and the whole cluster.
// Small renders (a 128x128x60 phantom, 4 frames) keep the case near 30 s on two cores.
#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <iterator>
#include <map>
#include <set>
#include <thread>

#include <nlohmann/json.hpp>

#include "support/node_api.hpp"
#include "support/node_process.hpp"
#include "support/dicom_files.hpp"
#include "support/postgres_server.hpp"
#include "support/storescp_process.hpp"
#include "support/storescu_output.hpp"
#include "support/synthetic_series.hpp"
#include "support/worker_process.hpp"

using namespace volnode::test;
using nlohmann::json;
using namespace std::chrono_literals;

namespace {

WrittenSeries serveNodesPhantom(const std::filesystem::path& dir, const std::string& description) {
  SyntheticSeries s;
  s.rows = s.cols = 128;
  s.slices = 60;
  s.slice_spacing = 2.0;
  s.origin = {-64, -64, -60};
  s.series_description = description;
  s.value = OrientationPhantom{}.function();
  return writeSyntheticSeries(s, dir);
}

// Whether `node` lists at least `count` render jobs and all of them succeeded (`jobs`: the list).
bool rendersSucceeded(const NodeProcess& node, size_t count, json* jobs) {
  *jobs = apiJson(node, "/api/jobs?kind=render");
  if (!jobs->is_object() || (*jobs)["jobs"].size() < count) return false;
  for (const auto& job : (*jobs)["jobs"])
    if (job["state"] != "succeeded") return false;
  return true;
}

// Files in the store that hold data (slots not yet used are empty).
size_t filesWithContent(const std::filesystem::path& store) {
  size_t n = 0;
  for (const auto& e : std::filesystem::recursive_directory_iterator(store))
    if (e.is_regular_file() && e.file_size() > 0) ++n;
  return n;
}

}  // namespace

TEST(SeveralServeNodesOnPostgresql, TwoNodesOnOneStoreReceiveAtOnceAndEachStudyIsRenderedOnce) {
  TempDir dir;
  const auto store_dir = dir / "shared";
  const std::vector<std::string> common{"index.backend=postgresql",
                                        "index.url=" + sharedPostgres().freshSchemaUrl(),
                                        "storage.dir=" + store_dir.string(),
                                        "render.size=128",
                                        "render.spin_frames=4",
                                        "outputs.reformats=false"};
  NodeProcess a(dir / "a", plus(common, {"render.workers=0", "completion.quiet_s=1"}));
  NodeProcess b(dir / "b", plus(common, {"render.workers=0", "completion.quiet_s=1"}));
  WorkerProcess worker(dir / "worker", store_dir, plus(common, {"render.workers=1"}));

  const auto on_a = serveNodesPhantom(dir / "study-a", "pushed to node a");
  const auto on_b = serveNodesPhantom(dir / "study-b", "pushed to node b");
  std::thread push_a([&] { pushFolder(a, dir / "study-a"); });
  pushFolder(b, dir / "study-b");
  push_a.join();

  json jobs;
  auto bothRendered = [&] { return rendersSucceeded(b, 2, &jobs); };
  ASSERT_TRUE(waitFor(bothRendered, 90s, 200ms)) << jobs.dump() << "\n" << a.log() << "\n" << b.log() << "\n" << worker.log();
  ASSERT_EQ(jobs["jobs"].size(), 2u) << "one render per study: " << jobs.dump();
  std::set<std::string> rendered;
  for (const auto& job : jobs["jobs"]) {
    rendered.insert(job["SeriesInstanceUID"].get<std::string>());
    EXPECT_EQ(job["attempts"], 1) << job.dump();
    // Its results, recorded once each.
    auto detail = apiJson(a, "/api/jobs/" + std::to_string(job["id"].get<int64_t>()));
    ASSERT_FALSE(detail["outputs"].empty()) << detail.dump();
    std::set<std::string> outputs;
    for (const auto& o : detail["outputs"]) outputs.insert(o["SOPInstanceUID"].get<std::string>());
    EXPECT_EQ(outputs.size(), detail["outputs"].size()) << detail.dump();
  }
  EXPECT_EQ(rendered, (std::set<std::string>{on_a.series_instance_uid, on_b.series_instance_uid}));

  // Both studies, each stored once, seen from either node.
  for (const NodeProcess* node : {&a, &b}) {
    auto studies = apiJson(*node, "/api/studies");
    ASSERT_TRUE(studies.is_object()) << studies;
    std::map<std::string, int64_t> instances;
    for (const auto& s : studies["studies"]) instances[s["StudyInstanceUID"].get<std::string>()] = s["instances"];
    EXPECT_EQ(instances, (std::map<std::string, int64_t>{{on_a.study_instance_uid, 60}, {on_b.study_instance_uid, 60}}))
        << studies.dump();
  }
  EXPECT_EQ(filesWithContent(store_dir / "store"), 120u);

  // The cluster: two serve nodes and the worker, alive.
  auto cluster = apiJson(a, "/api/cluster");
  EXPECT_EQ(cluster["serve_nodes_alive"], 2) << cluster.dump();
  EXPECT_EQ(cluster["worker_processes_alive"], 1) << cluster.dump();
  std::set<std::string> nodes;
  for (const auto& m : cluster["members"])
    if (m["role"] == "serve") nodes.insert(m["node"].get<std::string>());
  EXPECT_EQ(nodes.size(), 2u) << "each serve node under its own name: " << cluster.dump();
  for (const NodeProcess* node : {&a, &b}) {
    const std::string port = ":" + std::to_string(node->dicomPort());
    EXPECT_TRUE(std::any_of(nodes.begin(), nodes.end(), [&](const std::string& n) {
      return n.size() > port.size() && n.compare(n.size() - port.size(), port.size(), port) == 0;
    })) << port << " in " << cluster.dump();
  }

  // A node with an SQLite index still needs the store to itself: refused while these run.
  auto sqlite_node = run({VOLNODE_BINARY, "serve", "--set", "storage.dir=" + store_dir.string(), "--set",
                          "dicom.port=" + std::to_string(freePort()), "--set",
                          "console.port=" + std::to_string(freePort()), "--set", "log.file="},
                         std::chrono::seconds(20));
  EXPECT_NE(sqlite_node.exit_code, 0) << sqlite_node.output;
  EXPECT_NE(sqlite_node.output.find("is in use by another volnode process"), std::string::npos)
      << sqlite_node.output;

  EXPECT_EQ(worker.stop(), 0) << worker.log();
  EXPECT_EQ(b.stop(), 0) << b.log();
  EXPECT_EQ(a.stop(), 0) << a.log();
}

namespace {

// SOP Instance UIDs the shared index holds for a series, through a node's QIDO-RS.
std::set<std::string> indexedInstances(const NodeProcess& node, const WrittenSeries& series) {
  auto found = apiJson(node, "/dicom-web/studies/" + series.study_instance_uid + "/series/" +
                                 series.series_instance_uid + "/instances");
  std::set<std::string> uids;
  if (found.is_array())
    for (const auto& instance : found) uids.insert(instance["00080018"]["Value"][0].get<std::string>());
  return uids;
}

// SOP Instance UIDs of the objects a storescp received (a file per object received).
std::multiset<std::string> receivedUids(const StorescpProcess& pacs) {
  std::multiset<std::string> uids;
  for (const auto& e : std::filesystem::directory_iterator(pacs.received())) uids.insert(sopInstanceUid(e.path()));
  return uids;
}

}  // namespace

// A serve node killed with -9 while it receives: what it acknowledged is in the shared
// index, and the other node completes the series (quiet period), a worker renders it,
// and the other node's send workers deliver each result exactly once; meanwhile a study
// pushed to the surviving node goes through as usual. Two workers share the renders.
TEST(SeveralServeNodesOnPostgresql, ANodeKilledMidIngestKeepsWhatItAcknowledgedAndItsPeerFinishesTheSeries) {
  TempDir dir;
  const auto store_dir = dir / "shared";
  StorescpProcess pacs(dir / "pacs");
  std::vector<std::string> common{"index.backend=postgresql", "index.url=" + sharedPostgres().freshSchemaUrl(),
                                  "storage.dir=" + store_dir.string(), "render.size=128", "render.spin_frames=4",
                                  "outputs.reformats=false"};
  common = plus(common, pacs.destinationSettings());
  NodeProcess a(dir / "a", plus(common, {"render.workers=0", "completion.quiet_s=3"}));
  NodeProcess b(dir / "b", plus(common, {"render.workers=0", "completion.quiet_s=3"}));
  WorkerProcess worker1(dir / "worker1", store_dir, plus(common, {"render.workers=1"}));
  WorkerProcess worker2(dir / "worker2", store_dir, plus(common, {"render.workers=1"}));

  const auto to_a = serveNodesPhantom(dir / "study-a", "node a killed while it receives");
  const auto to_b = serveNodesPhantom(dir / "study-b", "pushed to node b");
  std::thread push_b([&] { pushFolder(b, dir / "study-b"); });

  // Node a dies once it has acknowledged 40 of the 60 instances (or all, if storescu was faster).
  const auto log = dir / "storescu-a.log";
  // In slice order, so that what was acknowledged is one contiguous stack the rules render.
  auto argv = a.scu("storescu", {"-v", "-nh"});
  for (const auto& f : to_a.files) argv.push_back(f.string());
  ChildProcess storescu(argv, log);
  auto read_log = [&] {
    std::ifstream in(log);
    return std::string(std::istreambuf_iterator<char>(in), {});
  };
  const auto deadline = std::chrono::steady_clock::now() + 30s;
  while (responsesWith(read_log(), "Success") < 40 && storescu.running() && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(1ms);
  a.kill9();
  storescu.wait(20s);
  storescu.kill9();
  push_b.join();

  std::map<std::string, std::string> uid_of;  // file -> SOP Instance UID
  for (const auto& f : to_a.files) uid_of[f.string()] = sopInstanceUid(f);
  std::set<std::string> acknowledged;
  for (const auto& file : acknowledgedFiles(read_log())) acknowledged.insert(uid_of.at(file));
  ASSERT_GE(acknowledged.size(), 40u) << read_log();

  // Both series rendered once, by the workers, and every result at the PACS once.
  json jobs;
  auto bothRendered = [&] { return rendersSucceeded(b, 2, &jobs); };
  ASSERT_TRUE(waitFor(bothRendered, 120s, 200ms))
      << jobs.dump() << "\n" << apiJson(b, "/api/series/" + to_a.series_instance_uid).dump() << "\n"
      << apiJson(b, "/api/jobs").dump() << "\n" << b.log() << "\n" << worker1.log() << "\n" << worker2.log();
  ASSERT_EQ(jobs["jobs"].size(), 2u) << "one render per series: " << jobs.dump();
  std::multiset<std::string> results;
  for (const auto& job : jobs["jobs"]) {
    auto detail = apiJson(b, "/api/jobs/" + std::to_string(job["id"].get<int64_t>()));
    for (const auto& o : detail["outputs"])
      if (o.value("written", false)) results.insert(o["SOPInstanceUID"].get<std::string>());
  }
  ASSERT_FALSE(results.empty());
  ASSERT_TRUE(waitFor([&] { return pacs.files() >= results.size(); }, 60s, 200ms)) << b.log();
  std::this_thread::sleep_for(1s);  // a second copy of any result would arrive now
  EXPECT_EQ(receivedUids(pacs), results) << "each result of both series exactly once";

  // Nothing node a acknowledged is lost; the survivor's study is whole.
  const auto kept = indexedInstances(b, to_a);
  for (const auto& uid : acknowledged) EXPECT_TRUE(kept.count(uid)) << "acknowledged, then lost: " << uid;
  EXPECT_EQ(indexedInstances(b, to_b).size(), 60u);

  EXPECT_EQ(worker1.stop(), 0) << worker1.log();
  EXPECT_EQ(worker2.stop(), 0) << worker2.log();
  EXPECT_EQ(b.stop(), 0) << b.log();
}
