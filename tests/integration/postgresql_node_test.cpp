// A real `volnode serve` whose index and job queue live in PostgreSQL (a server
// started for this executable): instances are received and indexed, completion
// queues route jobs, the worker processes claim them from the shared queue, and the
// console reads it all back; nothing is written to an SQLite file.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <thread>

#include "support/node_process.hpp"
#include "support/postgres_server.hpp"

using namespace volnode::test;
using nlohmann::json;

TEST(NodeOnPostgresql, ReceivesCompletesAndRoutesThroughTheSharedQueue) {
  TempDir dir;
  const std::string url = sharedPostgres().freshSchemaUrl();
  NodeProcess node(dir / "node", {"completion.quiet_s=2", "index.backend=postgresql", "index.url=" + url});
  auto argv = node.scu("storescu", {"+sd", "+r", "-nh"});
  argv.push_back((sharedData() / "edge-cases" / "notavolume").string());
  auto sent = run(argv);
  ASSERT_EQ(sent.exit_code, 0) << sent.output;

  // The route job runs in a worker process, which claims it from PostgreSQL.
  std::string state, reason;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (std::chrono::steady_clock::now() < deadline && state != "refused") {
    auto studies = json::parse(node.get("/api/studies").body);
    for (const auto& study : studies["studies"]) {
      auto detail = json::parse(node.get("/api/studies/" + study["StudyInstanceUID"].get<std::string>()).body);
      for (const auto& s : detail["series"]) {
        state = s["state"];
        reason = s["state_reason"];
      }
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
  }
  ASSERT_EQ(state, "refused") << node.log();
  EXPECT_NE(reason.find("not a volume"), std::string::npos) << reason;
  auto jobs = json::parse(node.get("/api/jobs").body);
  EXPECT_NE(jobs.dump().find("\"route\""), std::string::npos) << jobs.dump();
  EXPECT_FALSE(std::filesystem::exists(dir / "node" / "var" / "index.sqlite")) << "the index is in PostgreSQL";
  EXPECT_NE(node.log().find("index: postgresql://volnode@127.0.0.1:"), std::string::npos) << node.log();
  EXPECT_EQ(node.stop(), 0) << node.log();
}
