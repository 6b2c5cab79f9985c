// bench_claim_latency: how long one claim of the job queue takes while C claimers
// (threads, each with a connection of its own, as worker processes on one or more
// hosts have) take J jobs at once, on SQLite and on a PostgreSQL 15 started for the
// run (support/postgres_server.hpp: loopback, fsync off, so the figure is the
// queue's locking and round trips, not the disk's).
// A claim is one claimNext() (the UPDATE ... RETURNING with its event and series
// change, committed); each claimed job is then succeeded (its own transaction,
// not timed) so the claimers contend as they do in a node.
//   bench_claim_latency [--claimers C] [--jobs J] [--backend sqlite|postgresql|both]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "support/postgres_server.hpp"
#include "support/process.hpp"
#include "volnode/core/config.hpp"
#include "volnode/core/error.hpp"
#include "volnode/core/logging.hpp"
#include "volnode/storage/index.hpp"
#include "volnode/storage/job_queue.hpp"

using namespace volnode;
using Clock = std::chrono::steady_clock;

namespace {

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size())))];
}

void measure(const char* name, const IndexLocation& location, int claimers, int jobs) {
  Index index(location);
  JobQueue producer(location);
  for (int i = 0; i < jobs; ++i) {
    NewJob job;
    job.kind = JobKind::Send;
    job.study_uid = "1.2." + std::to_string(i);
    producer.enqueue(job);
  }
  std::mutex mutex;
  std::vector<double> claim_ms;
  int errors = 0;  // statements that gave up waiting for a lock
  const auto started = Clock::now();
  std::vector<std::thread> threads;
  for (int c = 0; c < claimers; ++c)
    threads.emplace_back([&, c] {
      JobQueue own(location);
      const std::string worker = "claimer-" + std::to_string(c);
      std::vector<double> mine;
      int my_errors = 0;
      for (;;) {
        const auto t0 = Clock::now();
        std::optional<Job> job;
        try {
          job = own.claimNext({JobKind::Send}, worker, 300);
        } catch (const Error&) {  // SQLite: the busy timeout ran out ("database is locked")
          ++my_errors;
          continue;
        }
        const double ms = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
        if (!job) break;
        mine.push_back(ms);
        for (;;) {
          try {
            own.succeed(job->id, worker);
            break;
          } catch (const Error&) {
            ++my_errors;
          }
        }
      }
      std::lock_guard lock(mutex);
      claim_ms.insert(claim_ms.end(), mine.begin(), mine.end());
      errors += my_errors;
    });
  for (auto& t : threads) t.join();
  const double seconds = std::chrono::duration<double>(Clock::now() - started).count();
  std::printf("%-10s claimers %2d  jobs %5zu  claim p50 %6.2f ms  p95 %6.2f ms  p99 %6.2f ms  max %7.2f ms  "
              "claims+successes %6.0f /s  lock time-outs %d\n",
              name, claimers, claim_ms.size(), percentile(claim_ms, 0.50), percentile(claim_ms, 0.95),
              percentile(claim_ms, 0.99), percentile(claim_ms, 1.0), static_cast<double>(claim_ms.size()) / seconds, errors);
}

}  // namespace

int main(int argc, char** argv) {
  int claimers = 10, jobs = 2000;
  std::string backend = "both";
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--claimers")) claimers = std::atoi(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--jobs")) jobs = std::atoi(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--backend")) backend = argv[i + 1];
  }
  LogConfig quiet;
  quiet.level = "warn";
  quiet.file.clear();
  initLogging(quiet);
  std::printf("%s\n", test::machineDescription().c_str());
  if (backend == "both" || backend == "sqlite") {
    test::TempDir dir("volnode-bench-claims");
    measure("sqlite", IndexLocation(dir / "index.sqlite"), claimers, jobs);
  }
  if (backend == "both" || backend == "postgresql") {
    test::PostgresServer server;
    measure("postgresql", IndexLocation::postgresql(server.freshSchemaUrl()), claimers, jobs);
  }
  return 0;
}
