#pragma once
// The persistent job queue (a table in the index). This class owns every job
// state transition:
//   queued -> running -> succeeded | failed | retry(not_before) | canceled
// Claiming is one UPDATE ... RETURNING, so two workers never get the same job.
// A running job holds a lease; when it expires (the worker died) the job is
// queued again.
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "volnode/storage/records.hpp"

namespace volnode {

struct NewJob {
  std::string kind;          // "render" | "send"
  std::string study_uid;
  std::string series_uid;
  std::string rule;
  std::string destination;
  std::string payload = "{}";  // JSON
  int priority = 0;
  int max_attempts = 3;
};

struct Job {
  int64_t id = 0;
  std::string kind, study_uid, series_uid, rule, destination, payload, state;
  int priority = 0, attempts = 0, max_attempts = 0;
  double not_before = 0;
  std::string lease_owner;
  std::string last_error, warning, progress_stage;
  double progress_percent = 0;
  std::string created_at, updated_at, started_at, finished_at;
};

struct JobEvent {
  int64_t job_id = 0;
  std::string state, message, at;
};

struct JobOutput {
  int64_t job_id = 0;
  std::string output_key, kind, preset, series_uid, sop_uid;
  int series_number = 0;
  std::string description, sop_class_uid, file_path;
  int64_t file_size = 0;
  int frames = 0;
  std::string created;  // "YYYYMMDDHHMMSS", decided with the UIDs
};

struct JobFilter {
  std::string state;       // empty: any
  std::string kind;        // empty: any
  std::string study_uid;   // empty: any
  std::string series_uid;  // empty: any
  int limit = 100;
};

class JobQueue {
 public:
  explicit JobQueue(const std::filesystem::path& index_path, IndexSync sync = IndexSync::Full);
  ~JobQueue();

  int64_t enqueue(const NewJob& job);
  // Next runnable job of these kinds (queued, or retry whose time has come), now
  // running under `worker`'s lease; nullopt when there is none.
  std::optional<Job> claimNext(const std::vector<std::string>& kinds, const std::string& worker, double lease_s);
  // Extends the lease and records progress. False when the job is no longer ours
  // (canceled, or the lease expired and someone else took it).
  bool heartbeat(int64_t id, const std::string& worker, double lease_s, const std::string& stage, double percent);

  void succeed(int64_t id, const std::string& warning = "");
  // A failed attempt: retry after `retry_delay_s` while attempts remain, else failed.
  // Returns the new state ("retry" or "failed").
  std::string fail(int64_t id, const std::string& error, double retry_delay_s);
  // Failed for good (no retry makes sense, e.g. not a volume).
  void failPermanently(int64_t id, const std::string& error);
  // Operator actions. False when the job is in a state that does not allow it.
  bool cancel(int64_t id, const std::string& why = "canceled by operator");
  bool retryNow(int64_t id, const std::string& why = "retry requested by operator");

  // Running jobs whose lease ended go back to queued; returns how many.
  int requeueExpiredLeases();
  // At start-up (this process is the only owner of the store): every running job
  // belonged to a process that is gone.
  int requeueAllRunning(const std::string& why);

  std::optional<Job> get(int64_t id);
  std::vector<Job> list(const JobFilter& filter);
  std::vector<JobEvent> events(int64_t id);
  std::vector<std::pair<std::string, int64_t>> countsByState();

  // Planned outputs of a job (UIDs decided once, before anything is produced).
  void planOutputs(int64_t job_id, const std::vector<JobOutput>& outputs);  // keeps existing keys
  void recordOutputFile(int64_t job_id, const std::string& output_key, const std::string& sop_class_uid,
                        const std::string& file_path, int64_t file_size, int frames);
  std::vector<JobOutput> outputs(int64_t job_id);
  std::vector<JobOutput> outputsOfSeries(const std::string& source_series_uid);  // of its latest succeeded render
  int countOutputSeriesInStudy(const std::string& study_uid);

  // Ids of the render jobs of a study (whose results live in <results>/<id>/).
  std::vector<int64_t> renderJobsOfStudy(const std::string& study_uid);
  // Studies whose every send job succeeded, with the time of the last delivery
  // (ISO UTC), oldest first. A study with a send job not (yet) succeeded is absent.
  std::vector<std::pair<std::string, std::string>> deliveredStudies();

  // Deliveries: which output objects a destination acknowledged.
  void recordDelivery(const std::string& destination, const std::string& sop_uid, int status, const std::string& detail);
  bool delivered(const std::string& destination, const std::string& sop_uid);
  void recordRefusedSopClass(const std::string& destination, const std::string& sop_class_uid);
  std::vector<std::string> refusedSopClasses(const std::string& destination);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace volnode
