#pragma once
// Read-only queries the console needs beyond the Index/JobQueue interfaces
// (throughput, recent errors, deliveries, metrics aggregates). The console opens
// the index file itself with SQLite in read-only mode, so it never takes the
// writers' locks and storage/ keeps its interface small.
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace volnode::console {

struct ThroughputMinute {
  std::string minute;  // "2026-11-26T12:34" (UTC)
  int64_t instances = 0, bytes = 0, renders = 0, sends = 0;
};

struct RecentError {
  std::string at, what, reason;  // what: "job" | "series" | "association"
  int64_t job_id = 0;
  std::string job_kind, study_uid, series_uid, destination, peer;
};

struct DeliveryRow {
  std::string destination, sop_uid, detail, at, description;
  int status = 0;
  int64_t job_id = 0;
};

struct DurationSamples {
  std::vector<double> render_s, send_s;
};

struct MetricsTotals {
  int64_t associations = 0, associations_refused = 0, received_instances = 0, received_bytes = 0;
  std::map<std::string, int64_t> associations_by_outcome;
  std::map<std::string, int64_t> series_by_state;
  std::map<std::pair<std::string, std::string>, int64_t> jobs_by_kind_state;
  std::map<std::string, int64_t> destination_failures;  // failed send attempts per destination
  std::map<std::string, int64_t> destination_deliveries;
  DurationSamples durations;
};

class ConsoleDb {
 public:
  explicit ConsoleDb(std::filesystem::path index_path);
  ~ConsoleDb();
  ConsoleDb(const ConsoleDb&) = delete;
  ConsoleDb& operator=(const ConsoleDb&) = delete;

  // Instances received and jobs finished per minute since `since_iso` (UTC ISO text).
  std::vector<ThroughputMinute> throughputSince(const std::string& since_iso);
  // Failed jobs, refused/failed series and refused associations, newest first.
  std::vector<RecentError> recentErrors(int limit);
  // Acknowledged objects of every render of a study.
  std::vector<DeliveryRow> deliveriesOfStudy(const std::string& study_uid);
  MetricsTotals metrics();
  // The source series' latest succeeded render job (0: none).
  int64_t latestRenderJob(const std::string& series_uid);
  bool isRenderJob(int64_t job_id);
  // The index row counts without taking the Index's reader lock (benchmarks, metrics).
  int64_t instancesSince(const std::string& since_iso);

  struct Connection;

 private:
  struct Lease;
  Lease acquire();
  std::filesystem::path path_;
  std::mutex mutex_;
  std::vector<std::unique_ptr<Connection>> idle_;
};

}  // namespace volnode::console
