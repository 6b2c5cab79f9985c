// A real `volnode serve` on PostgreSQL whose database goes away: PostgreSQL is
// stopped (by pid) while storescu streams a series, the C-STOREs after it are
// answered with a failure status, never Success; the health check says the index
// is unreachable; PostgreSQL comes back on the same port and data, the sender sends
// again, and every instance ever acknowledged is indexed and its series rendered.
// And a node started while the database is away waits for it instead of exiting.
#include <gtest/gtest.h>

#include <libpq-fe.h>

#include <fstream>
#include <set>
#include <sstream>
#include <thread>

#include <nlohmann/json.hpp>

#include "support/dicom_files.hpp"
#include "support/node_process.hpp"
#include "support/postgres_server.hpp"
#include "support/worker_process.hpp"
#include "support/synthetic_series.hpp"

using namespace volnode::test;
using namespace std::chrono_literals;
using nlohmann::json;

namespace {

std::string readText(const std::filesystem::path& file) {
  std::ifstream in(file);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// SOP Instance UIDs of the files storescu -v reported "Received Store Response (Success)" for.
std::set<std::string> acknowledged(const std::string& storescu_output, const std::map<std::string, std::string>& uid_of) {
  std::set<std::string> out;
  std::string current;
  std::istringstream lines(storescu_output);
  for (std::string line; std::getline(lines, line);) {
    const std::string sending = "Sending file: ";
    if (auto at = line.find(sending); at != std::string::npos) {
      current = line.substr(at + sending.size());
      continue;
    }
    if (line.find("Received Store Response") == std::string::npos || current.empty()) continue;
    if (line.find("(Success)") != std::string::npos) out.insert(uid_of.at(current));
    current.clear();
  }
  return out;
}

int count(const std::string& text, const std::string& what) {
  int n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + what.size())) ++n;
  return n;
}

struct Series {
  WrittenSeries written;
  std::map<std::string, std::string> uid_of;  // file -> SOP Instance UID
};

Series outageHeadSeries(const std::filesystem::path& dir, const std::string& patient, int slices) {
  SyntheticSeries s;
  s.rows = s.cols = 64;
  s.slices = slices;
  s.slice_spacing = 3.0;
  s.origin = {-32, -32, -60};
  s.patient_id = patient;
  s.patient_name = patient + "^TEST";
  s.series_description = "synthetic head";
  s.value = OrientationPhantom{}.function();
  Series out{writeSyntheticSeries(s, dir), {}};
  for (size_t i = 0; i < out.written.files.size(); ++i)
    out.uid_of[out.written.files[i].string()] = sopInstanceUid(out.written.files[i]);
  return out;
}

std::vector<std::string> storescu(const NodeProcess& node, const Series& series) {
  auto argv = node.scu("storescu", {"-v", "-nh"});
  for (const auto& file : series.written.files) argv.push_back(file.string());
  return argv;
}

// The SOP Instance UIDs the index holds, read from PostgreSQL directly.
std::set<std::string> indexedSops(const PostgresServer& server) {
  PGconn* conn = PQconnectdb(server.url().c_str());
  std::set<std::string> out;
  if (PQstatus(conn) == CONNECTION_OK) {
    PGresult* result = PQexec(conn, "SELECT sop_uid FROM instances");
    if (PQresultStatus(result) == PGRES_TUPLES_OK)
      for (int row = 0; row < PQntuples(result); ++row) out.insert(PQgetvalue(result, row, 0));
    PQclear(result);
  }
  PQfinish(conn);
  return out;
}

json seriesNow(const NodeProcess& node, const std::string& uid) {
  auto answer = node.get("/api/series/" + uid);
  return answer.status == 200 ? json::parse(answer.body) : json();
}

// Waits until every series is done (rendered); false at the deadline.
bool allRendered(const NodeProcess& node, const std::vector<std::string>& uids, std::chrono::seconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    bool done = true;
    for (const auto& uid : uids) done = done && seriesNow(node, uid).value("state", "") == "done";
    if (done) return true;
    std::this_thread::sleep_for(300ms);
  }
  return false;
}

}  // namespace

TEST(IngestOutageOnPostgresql, StoppedDuringIngestFailsTheCStoresAndEveryAcknowledgedInstanceIsRenderedAfterItsReturn) {
  TempDir dir;
  PostgresServer server;  // its own: this test stops it
  NodeProcess node(dir / "node", {"index.backend=postgresql", "index.url=" + server.url(), "completion.quiet_s=2",
                                  "render.spin_frames=8", "render.size=256", "outputs.reformats=false"});
  const Series before = outageHeadSeries(dir / "before", "OUTAGE-1", 20);
  const Series during = outageHeadSeries(dir / "during", "OUTAGE-2", 200);

  auto first = run(storescu(node, before), 60s);
  ASSERT_EQ(first.exit_code, 0) << first.output;
  std::set<std::string> acked = acknowledged(first.output, before.uid_of);
  EXPECT_EQ(acked.size(), before.written.files.size()) << first.output;
  // The first series' render is under way when the outage begins (unless it is that quick).
  const auto rendering_deadline = std::chrono::steady_clock::now() + 30s;
  while (json::parse(node.get("/api/jobs?kind=render").body)["jobs"].empty() &&
         std::chrono::steady_clock::now() < rendering_deadline)
    std::this_thread::sleep_for(50ms);

  // PostgreSQL stops while storescu streams the second series.
  const auto scu_log = dir / "storescu-during.log";
  {
    ChildProcess sender(storescu(node, during), scu_log);
    const auto deadline = std::chrono::steady_clock::now() + 30s;
    while (count(readText(scu_log), "(Success)") < 10 && sender.running() &&
           std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(5ms);
    ASSERT_TRUE(sender.running()) << "storescu ended before the outage could begin: " << readText(scu_log);
    server.stop();
    sender.wait(60s);
  }
  const std::string during_output = readText(scu_log);
  const auto acked_during = acknowledged(during_output, during.uid_of);
  ASSERT_GE(acked_during.size(), 10u) << during_output;
  EXPECT_LT(acked_during.size(), during.written.files.size()) << "the outage failed none: " << during_output;
  EXPECT_EQ(count(during_output, "Received Store Response"), static_cast<int>(during.written.files.size()))
      << "every C-STORE was answered: " << during_output;
  EXPECT_NE(node.log().find("answered 0xA700"), std::string::npos) << node.log();
  acked.insert(acked_during.begin(), acked_during.end());

  // While the database is away the node runs and says so.
  auto health = json::parse(node.get("/api/health").body);
  EXPECT_FALSE(health["index"]["reachable"].get<bool>()) << health.dump();
  EXPECT_EQ(health["status"], "degraded") << health.dump();
  EXPECT_NE(health["index"]["error"].get<std::string>().find("127.0.0.1:" + std::to_string(server.port())),
            std::string::npos)
      << health.dump();
  EXPECT_TRUE(node.running());

  // It comes back on the same port and data; the sender sends its series again.
  server.start();
  auto again = run(storescu(node, during), 60s);
  EXPECT_EQ(again.exit_code, 0) << again.output;
  const auto acked_again = acknowledged(again.output, during.uid_of);
  EXPECT_EQ(acked_again.size(), during.written.files.size()) << again.output;
  EXPECT_TRUE(json::parse(node.get("/api/health").body)["index"]["reachable"].get<bool>());

  ASSERT_TRUE(allRendered(node, {before.written.series_instance_uid, during.written.series_instance_uid}, 45s))
      << seriesNow(node, before.written.series_instance_uid).dump() << "\n"
      << seriesNow(node, during.written.series_instance_uid).dump() << "\n"
      << node.log();
  const auto indexed = indexedSops(server);
  for (const auto& sop : acked) EXPECT_TRUE(indexed.count(sop)) << "acknowledged but not indexed: " << sop;
  EXPECT_EQ(seriesNow(node, during.written.series_instance_uid)["instances"], during.written.files.size());
  EXPECT_EQ(seriesNow(node, before.written.series_instance_uid)["instances"], before.written.files.size());
  const auto failed = json::parse(node.get("/api/jobs?state=failed").body);
  EXPECT_TRUE(failed["jobs"].empty()) << "no job failed for the outage: " << failed.dump();
  // A render the outage cut off went back to the queue uncounted (not by its lease running out).
  const auto renders = json::parse(node.get("/api/jobs?kind=render").body);  // kept: the loop reads into it
  for (const auto& job : renders["jobs"]) EXPECT_EQ(job["attempts"], 1) << job.dump();
  EXPECT_EQ(node.stop(), 0) << node.log();
}

TEST(IngestOutageOnPostgresql, ANodeStartedWhileTheDatabaseIsAwayWaitsForItAndSaysSo) {
  TempDir dir;
  PostgresServer server;
  server.stop();
  std::filesystem::create_directories(dir / "node");
  std::ofstream(dir / "node" / "db-password") << "not-in-any-log-7731\n";
  NodeProcess node(dir / "node",
                   {"index.backend=postgresql", "index.url=" + server.url(),
                    "index.password_file=" + (dir / "node" / "db-password").string()},
                   false);
  const auto deadline = std::chrono::steady_clock::now() + 20s;
  while (node.log().find("trying again") == std::string::npos && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(100ms);
  const std::string waiting = node.log();
  EXPECT_NE(waiting.find("cannot start: cannot connect to the index at postgresql://volnode@127.0.0.1:" +
                         std::to_string(server.port())),
            std::string::npos)
      << waiting;
  EXPECT_EQ(waiting.find("not-in-any-log-7731"), std::string::npos) << "the password is never logged";
  EXPECT_TRUE(node.running()) << "it waits for the database instead of exiting";

  server.start();
  EXPECT_TRUE(node.waitUntilReady(40s)) << node.log();
  auto health = json::parse(node.get("/api/health").body);
  EXPECT_TRUE(health["index"]["reachable"].get<bool>()) << health.dump();
  EXPECT_EQ(node.log().find("not-in-any-log-7731"), std::string::npos);
  EXPECT_EQ(node.stop(), 0) << node.log();
}

// `volnode worker` waits for the database as `volnode serve` does (one helper for both),
// instead of exiting for its supervisor to try again blindly.
TEST(IngestOutageOnPostgresql, AWorkerStartedWhileTheDatabaseIsAwayWaitsForItAndSaysSo) {
  TempDir dir;
  PostgresServer server;
  server.stop();
  WorkerProcess worker(dir / "worker", dir / "store",
                       {"index.backend=postgresql", "index.url=" + server.url(), "render.workers=1"});
  const auto logSays = [&](const std::string& text, std::chrono::seconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (worker.log().find(text) == std::string::npos && std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(100ms);
    return worker.log().find(text) != std::string::npos;
  };
  EXPECT_TRUE(logSays("waiting for the database, trying again in", 20s)) << worker.log();
  EXPECT_NE(worker.log().find("cannot start: cannot connect to the index at postgresql://volnode@127.0.0.1:" +
                              std::to_string(server.port())),
            std::string::npos)
      << worker.log();
  EXPECT_TRUE(worker.running()) << "it waits for the database instead of exiting";

  server.start();
  EXPECT_TRUE(logSays("render worker process(es) on display", 40s)) << worker.log();
  EXPECT_EQ(worker.stop(), 0) << worker.log();
}
