// The roles on one PostgreSQL index and one store: a `volnode serve` node with
// render.workers = 0 receives and completes series, `volnode worker` processes render
// them. A study pushed with storescu is rendered once, by the worker; a worker killed
// with -9 mid-render loses the job when its lease (30 s) runs out and a second worker
// finishes it; /api/cluster shows the members and their heartbeats.
// Small renders (a 128x128x60 phantom) keep each case under 90 s on two cores.
#include <gtest/gtest.h>

#include <regex>

#include <nlohmann/json.hpp>
#include <thread>

#include "support/node_api.hpp"
#include "support/node_process.hpp"
#include "support/postgres_server.hpp"
#include "support/synthetic_series.hpp"
#include "support/worker_process.hpp"

using namespace volnode::test;
using nlohmann::json;
using namespace std::chrono_literals;

namespace {

WrittenSeries workerRolePhantom(const std::filesystem::path& dir) {
  SyntheticSeries s;
  s.rows = s.cols = 128;
  s.slices = 60;
  s.slice_spacing = 2.0;
  s.origin = {-64, -64, -60};
  s.series_description = "cluster phantom";
  s.value = OrientationPhantom{}.function();
  return writeSyntheticSeries(s, dir);
}

// What the node and its workers share: the index, and how the results look.
std::vector<std::string> shared(const std::string& url, int spin_frames) {
  return {"index.backend=postgresql", "index.url=" + url, "render.size=128", "render.spin_frames=" + std::to_string(spin_frames), "outputs.reformats=false"};
}

json renderJob(const NodeProcess& node) {
  auto jobs = apiJson(node, "/api/jobs?kind=render");
  if (!jobs.is_object() || jobs["jobs"].empty()) return nullptr;
  return jobs["jobs"][0];
}

json memberWithPid(const json& cluster, pid_t pid) {
  for (const auto& m : cluster["members"])
    if (m.value("pid", 0) == pid) return m;
  return nullptr;
}

}  // namespace

// `index`: the index settings the node and the worker share.
void renderedOnceByTheWorker(const TempDir& dir, const std::vector<std::string>& index) {
  NodeProcess node(dir / "node", plus(index, {"render.workers=0", "completion.quiet_s=1"}));
  WorkerProcess worker(dir / "worker", dir / "node" / "var", plus(index, {"render.workers=1"}));
  auto health = apiJson(node, "/api/health");
  EXPECT_EQ(health["render"]["workers"], 0) << health.dump();
  EXPECT_NE(health["render"].value("display_state", "").find("not needed"), std::string::npos) << health.dump();

  auto series = workerRolePhantom(dir / "series");
  pushFolder(node, dir / "series");
  json render;
  ASSERT_TRUE(waitFor([&] { return (render = renderJob(node)).is_object() && render["state"] == "succeeded"; }, 60s))
      << render.dump() << "\n" << node.log() << "\n" << worker.log();
  EXPECT_EQ(render["attempts"], 1) << render.dump();
  auto jobs = apiJson(node, "/api/jobs?kind=render");
  EXPECT_EQ(jobs["jobs"].size(), 1u) << "rendered once";
  auto detail = apiJson(node, "/api/jobs/" + std::to_string(render["id"].get<int64_t>()));
  // The lease owner: the worker process's name, after its node's name on a shared database.
  EXPECT_TRUE(std::regex_search(detail.dump(), std::regex("attempt 1 by ([^ /\"]+/)?worker-1-"))) << detail.dump();
  EXPECT_NE(worker.log().find("rendered series " + series.series_instance_uid), std::string::npos) << worker.log();
  EXPECT_EQ(node.log().find("rendered series"), std::string::npos) << "the serve node rendered nothing";

  // Both members, alive, with their heartbeats on the database's clock.
  json cluster;
  ASSERT_TRUE(waitFor([&] {
    cluster = apiJson(node, "/api/cluster");
    return cluster.is_object() && cluster["members"].size() == 2;
  }, 5s)) << cluster.dump();
  auto serve_member = memberWithPid(cluster, node.pid());
  auto worker_member = memberWithPid(cluster, worker.pid());
  ASSERT_TRUE(serve_member.is_object()) << cluster.dump();
  ASSERT_TRUE(worker_member.is_object()) << cluster.dump();
  EXPECT_EQ(serve_member["role"], "serve");
  EXPECT_EQ(serve_member["workers"], 0);
  EXPECT_EQ(cluster["self"], serve_member["id"]);
  EXPECT_EQ(worker_member["role"], "worker");
  EXPECT_EQ(worker_member["workers"], 1);
  for (const auto& m : {serve_member, worker_member}) {
    EXPECT_EQ(m["state"], "alive") << m.dump();
    EXPECT_LE(m["heartbeat_age_s"].get<double>(), 3 * m["heartbeat_s"].get<double>()) << m.dump();
    EXPECT_FALSE(m.value("heartbeat_at", "").empty()) << m.dump();
  }

  auto status = run({VOLNODE_BINARY, "status", "--set", "console.port=" + std::to_string(node.consolePort())});
  EXPECT_NE(status.output.find("cluster:  1 serve node(s), 1 render worker process(es) alive"), std::string::npos)
      << status.output;

  // A clean stop leaves the cluster.
  EXPECT_EQ(worker.stop(), 0) << worker.log();
  cluster = apiJson(node, "/api/cluster");
  EXPECT_TRUE(memberWithPid(cluster, worker.pid()).is_null()) << cluster.dump();
  EXPECT_EQ(node.stop(), 0) << node.log();
}

TEST(WorkerRoleOnPostgresql, AServeNodeWithoutWorkersLeavesTheRenderToAWorkerProcess) {
  TempDir dir;
  renderedOnceByTheWorker(dir, shared(sharedPostgres().freshSchemaUrl(), 4));
}

// On one host the roles work on the embedded index too (SQLite allows several processes).
TEST(WorkerRole, AServeNodeWithoutWorkersLeavesTheRenderToAWorkerProcessOnSqlite) {
  TempDir dir;
  renderedOnceByTheWorker(dir, {"render.size=128", "render.spin_frames=4", "outputs.reformats=false"});
}

TEST(WorkerRoleOnPostgresql, AWorkerKilledMidRenderLosesTheJobToASecondWorker) {
  TempDir dir;
  const std::string url = sharedPostgres().freshSchemaUrl();
  // Enough frames that the render lasts seconds: the kill lands in the middle of it.
  const auto common = shared(url, 48);
  NodeProcess node(dir / "node", plus(common, {"render.workers=0", "completion.quiet_s=1"}));
  auto first = std::make_unique<WorkerProcess>(dir / "first", dir / "node" / "var",
                                               plus(common, {"render.workers=1"}));
  workerRolePhantom(dir / "series");
  pushFolder(node, dir / "series");

  // The first (and only) worker runs the render.
  json render, cluster;
  ASSERT_TRUE(waitFor([&] { return (render = renderJob(node)).is_object() && render["state"] == "running"; }, 60s))
      << render.dump() << "\n" << node.log() << "\n" << first->log();
  const int64_t id = render["id"];
  const pid_t first_pid = first->pid();
  first->kill9();
  ASSERT_EQ(apiJson(node, "/api/jobs/" + std::to_string(id))["state"], "running") << "the render ended before the kill";

  WorkerProcess second(dir / "second", dir / "node" / "var", plus(common, {"render.workers=1"}));
  ASSERT_TRUE(waitFor([&] {
    render = apiJson(node, "/api/jobs/" + std::to_string(id));
    return render.is_object() && render["state"] == "succeeded";
  }, 70s)) << render.dump() << "\n" << node.log() << "\n" << second.log();
  EXPECT_EQ(render["attempts"], 2) << render.dump();
  EXPECT_NE(render.dump().find("lease expired"), std::string::npos) << render.dump();
  EXPECT_EQ(apiJson(node, "/api/jobs?kind=render")["jobs"].size(), 1u);
  EXPECT_NE(second.log().find("rendered series"), std::string::npos) << second.log();

  // The killed worker shows as stale (silent for three heartbeats: the lease outlasts
  // them), the second as alive.
  cluster = apiJson(node, "/api/cluster");
  auto gone = memberWithPid(cluster, first_pid);
  ASSERT_TRUE(gone.is_object()) << cluster.dump();
  EXPECT_EQ(gone["state"], "stale") << cluster.dump();
  auto alive = memberWithPid(cluster, second.pid());
  ASSERT_TRUE(alive.is_object()) << cluster.dump();
  EXPECT_EQ(alive["state"], "alive");
  EXPECT_EQ(cluster["stale"], 1);
  EXPECT_EQ(second.stop(), 0) << second.log();
  EXPECT_EQ(node.stop(), 0) << node.log();
}
