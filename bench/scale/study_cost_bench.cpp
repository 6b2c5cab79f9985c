// bench_study_cost: what one CT study costs a node, for sizing a site on paper
// (docs/scaling.md): CPU seconds of the node's whole process tree (node, worker
// processes, their Xvfb), database statements and transactions, rows written, and
// bytes written to the store (received instances, results, kept volumes: the
// prepared volume the viewer opens, a cache), per study and by series size.
// One `volnode serve` with default settings (reformats included, no destination:
// sending is costed from the bytes) on PostgreSQL; studies pushed one at a time,
// each measured from its push until the node logs its render.
//   bench_study_cost [--slices 100,300] [--studies K]
// Statements come from pg_stat_statements (the benchmark's own server loads it), CPU
// from /proc: utime + stime of every live process in the tree plus what each has
// collected from children that ended (cutime + cstime), before and after.
#include <libpq-fe.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <map>
#include <sstream>
#include <string>
#include <thread>
#include <unistd.h>
#include <vector>

#include "../common/ct_body_phantom.hpp"
#include "../common/folder_bytes.hpp"
#include "support/node_process.hpp"
#include "support/postgres_server.hpp"
#include "support/process.hpp"
#include "support/synthetic_series.hpp"

using namespace volnode::test;
using volnode::bench::folderBytes;
using Clock = std::chrono::steady_clock;

namespace {

// CPU seconds of pid and its descendants (live ones, and ended ones their parents waited for).
double treeCpuSeconds(pid_t root) {
  std::map<pid_t, pid_t> parent_of;
  std::map<pid_t, double> cpu_of;
  const double ticks = static_cast<double>(::sysconf(_SC_CLK_TCK));
  for (const auto& entry : std::filesystem::directory_iterator("/proc")) {
    const std::string name = entry.path().filename();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::ifstream in(entry.path() / "stat");
    std::string line;
    if (!std::getline(in, line)) continue;
    // Fields after the command's closing parenthesis: state ppid ... utime(14) stime cutime cstime.
    std::istringstream fields(line.substr(line.rfind(')') + 2));
    std::vector<std::string> f{std::istream_iterator<std::string>(fields), {}};
    if (f.size() < 15) continue;
    const pid_t pid = std::stoi(name);
    parent_of[pid] = std::stoi(f[1]);
    cpu_of[pid] = (std::stod(f[11]) + std::stod(f[12]) + std::stod(f[13]) + std::stod(f[14])) / ticks;
  }
  double total = 0;
  for (const auto& [pid, cpu] : cpu_of)
    for (pid_t p = pid; p > 1; p = parent_of.count(p) ? parent_of[p] : 0)
      if (p == root) {
        total += cpu;
        break;
      }
  return total;
}

// One row of numbers from the benchmark's server, as the superuser.
std::vector<double> queryNumbers(const PostgresServer& server, const std::string& sql) {
  PGconn* conn = PQconnectdb(server.url().c_str());
  std::vector<double> values;
  if (PQstatus(conn) == CONNECTION_OK) {
    PGresult* result = PQexec(conn, sql.c_str());
    if (PQresultStatus(result) == PGRES_TUPLES_OK && PQntuples(result) == 1)
      for (int c = 0; c < PQnfields(result); ++c) values.push_back(std::atof(PQgetvalue(result, 0, c)));
    else
      std::fprintf(stderr, "query failed: %s: %s\n", sql.c_str(), PQresultErrorMessage(result));
    PQclear(result);
  }
  PQfinish(conn);
  return values;
}

// Statements, transactions and rows written so far in the benchmark's database.
struct DatabaseCounts {
  double statements = 0, transactions = 0, rows_written = 0, database_bytes = 0;
};

DatabaseCounts databaseCounts(const PostgresServer& server) {
  DatabaseCounts counts;
  auto statements = queryNumbers(server, "SELECT coalesce(sum(calls), 0) FROM pg_stat_statements "
                                         "WHERE dbid = (SELECT oid FROM pg_database WHERE datname = 'volnode') "
                                         "AND query NOT LIKE '%pg_stat%'");  // not these snapshots
  auto database = queryNumbers(server, "SELECT xact_commit + xact_rollback, tup_inserted + tup_updated + tup_deleted, "
                                       "pg_database_size('volnode') FROM pg_stat_database WHERE datname = 'volnode'");
  if (!statements.empty()) counts.statements = statements[0];
  if (database.size() == 3)
    counts.transactions = database[0], counts.rows_written = database[1], counts.database_bytes = database[2];
  return counts;
}

// Renders the node has finished, from its log: the console's job list would itself
// cost queries, which would be counted as the study's.
int rendersLogged(const NodeProcess& node) {
  const std::string log = node.log();
  int count = 0;
  for (size_t at = 0; (at = log.find(" rendered series ", at)) != std::string::npos; ++at) ++count;
  return count;
}

std::vector<int> parseSizes(const std::string& text) {
  std::vector<int> sizes;
  std::stringstream in(text);
  for (std::string part; std::getline(in, part, ',');) sizes.push_back(std::stoi(part));
  return sizes;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<int> sizes{100, 300};
  int studies = 2;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string key = argv[i], value = argv[i + 1];
    if (key == "--slices") sizes = parseSizes(value);
    else if (key == "--studies") studies = std::stoi(value);
    else {
      std::fprintf(stderr, "unknown option %s\n", key.c_str());
      return 2;
    }
  }
  TempDir dir("volnode-bench-study-cost");
  PostgresServer postgres;
  // pg_stat_statements counts each statement the node sends; it must be loaded at start.
  postgres.execute("ALTER SYSTEM SET shared_preload_libraries = 'pg_stat_statements'");
  postgres.restart();
  postgres.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements");
  std::printf("%s; PostgreSQL 15 on loopback; %d studies per size, one at a time\n", machineDescription().c_str(),
              studies);
  std::printf("| slices | received MB | CPU s (node tree) | wall s | statements | transactions | rows written | "
              "database growth kB | results MB | kept volumes MB |\n|---|---|---|---|---|---|---|---|---|---|\n");
  for (int slices : sizes) {
    NodeProcess node(dir / ("node-" + std::to_string(slices)),
                     {"index.backend=postgresql", "index.url=" + postgres.freshSchemaUrl()});
    const auto var = dir / ("node-" + std::to_string(slices)) / "var";
    std::this_thread::sleep_for(std::chrono::seconds(3));  // its workers and Xvfb up
    for (int k = 0; k < studies; ++k) {
      SyntheticSeries s;
      s.rows = s.cols = 512;
      s.row_spacing = s.col_spacing = 0.7;
      s.slices = slices;
      s.origin = {-179.2, -179.2, -150};
      s.body_part = "CHEST";
      s.patient_id = "COST" + std::to_string(slices) + "-" + std::to_string(k);
      s.value = [](const Vec3& p) { return volnode::bench::ctBodyPhantomHu(p[0], p[1], p[2]); };
      const auto folder = dir / "studies" / s.patient_id;
      writeSyntheticSeries(s, folder);

      const uint64_t store_before = folderBytes(var / "store"), results_before = folderBytes(var / "results");
      const uint64_t volumes_before = folderBytes(var / "results", ".vol");
      const DatabaseCounts db_before = databaseCounts(postgres);
      const double cpu_before = treeCpuSeconds(node.pid());
      const auto started = Clock::now();
      auto push = node.scu("storescu", {"+sd", "+r"});
      push.push_back(folder.string());
      if (run(push).exit_code != 0) {
        std::fprintf(stderr, "the push failed; node log:\n%s\n", node.log().c_str());
        return 1;
      }
      while (rendersLogged(node) < k + 1) {
        if (std::chrono::duration<double>(Clock::now() - started).count() > 900) {
          std::fprintf(stderr, "gave up after 15 min; node log:\n%s\n", node.log().c_str());
          return 1;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
      }
      const double wall = std::chrono::duration<double>(Clock::now() - started).count();
      const double cpu = treeCpuSeconds(node.pid()) - cpu_before;
      std::this_thread::sleep_for(std::chrono::milliseconds(1500));  // the server publishes its counters
      const DatabaseCounts db_after = databaseCounts(postgres);
      const double volumes = (folderBytes(var / "results", ".vol") - volumes_before) / 1e6;
      std::printf("| %d | %.0f | %.1f | %.1f | %.0f | %.0f | %.0f | %.0f | %.0f | %.0f |\n", slices,
                  (folderBytes(var / "store") - store_before) / 1e6, cpu, wall,
                  db_after.statements - db_before.statements, db_after.transactions - db_before.transactions,
                  db_after.rows_written - db_before.rows_written, (db_after.database_bytes - db_before.database_bytes) / 1e3,
                  (folderBytes(var / "results") - results_before) / 1e6 - volumes, volumes);
      std::fflush(stdout);
      std::filesystem::remove_all(folder);
    }
    node.stop();
  }
  return 0;
}
