#pragma once
// The persistent job queue (a table in the index). This class owns every job
// state transition (states.hpp):
//   queued -> running -> succeeded | failed | retry(not_before) | canceled
// and, in the same transaction, the state of the series a route or render job
// works for, so a job and its series never disagree after a crash.
// Claiming is one UPDATE ... RETURNING, so two workers never get the same job
// (on PostgreSQL its pick skips rows other claimers hold: FOR UPDATE SKIP LOCKED).
// A running job holds a lease owned by one worker: only that worker may report
// its outcome. When the lease expires (the worker stopped answering) the job is
// queued again; when the worker process died, workerDied() counts a crash.
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "volnode/storage/index_location.hpp"
#include "volnode/storage/records.hpp"
#include "volnode/storage/states.hpp"

namespace volnode {

struct NewJob {
  JobKind kind = JobKind::Render;
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
  JobKind kind = JobKind::Render;
  std::string study_uid, series_uid, rule, destination, payload;
  JobState state = JobState::Queued;
  int priority = 0, attempts = 0, max_attempts = 0;
  int crashes = 0;  // attempts whose worker process died
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

// An output with whether one destination acknowledged it.
struct OutputDelivery {
  JobOutput output;
  bool delivered = false;
};

// A destination's acknowledgement of one object (its C-STORE or STOW-RS status).
struct DeliveryRecord {
  std::string sop_uid;
  int status = 0;
  std::string detail;
};

// A change of the job's series made in the same transaction as the job's own.
struct SeriesChange {
  SeriesState to = SeriesState::Queued;
  std::string reason;
};

// What a succeeded job leaves behind, written in one transaction with its success.
struct JobSuccess {
  std::string warning;
  std::optional<SeriesChange> series;  // e.g. done, with what was rendered
  std::vector<NewJob> follow_ups;      // e.g. the render job a route decided, or a render's send jobs
                                       // (a destination that already has one for this render keeps it)
};

// A series that needs a route or render job but has none that is still active.
struct OrphanSeries {
  std::string series_uid, study_uid;
  SeriesState state = SeriesState::Complete;
};

struct JobFilter {
  std::optional<JobState> state;  // empty: any
  std::optional<JobKind> kind;    // empty: any
  std::string study_uid;   // empty: any
  std::string series_uid;  // empty: any
  int limit = 100;
};

class JobQueue {
 public:
  explicit JobQueue(const IndexLocation& location, IndexSync sync = IndexSync::Full);
  ~JobQueue();

  // Queues a job; `series` changes the job's series in the same transaction (it is
  // not queued when that transition is not allowed: returns 0 then).
  int64_t enqueue(const NewJob& job, const std::optional<SeriesChange>& series = std::nullopt);
  // Next runnable job of these kinds (queued, or retry whose time has come), now
  // running under `worker`'s lease; nullopt when there is none. A render job's
  // series becomes `processing` in the same step.
  std::optional<Job> claimNext(const std::vector<JobKind>& kinds, const std::string& worker, double lease_s);
  // Extends the lease and records progress. False when the job is no longer ours
  // (canceled, or the lease expired and someone else took it).
  bool heartbeat(int64_t id, const std::string& worker, double lease_s, const std::string& stage, double percent);
  // Blocks up to `timeout_s` until a job may have become claimable: on PostgreSQL a
  // NOTIFY from any process that queued, retried or requeued one (true then); on
  // SQLite it only sleeps (false), the caller's polling interval.
  bool waitForWork(double timeout_s);

  // The outcome of `worker`'s attempt. Each returns false / nullopt, changing
  // nothing, when the job is no longer running under that worker's lease.
  bool succeed(int64_t id, const std::string& worker, const JobSuccess& success = {});
  // A running job steps back without an outcome (e.g. a send job whose render job is
  // still producing objects): queued again, claimable after `delay_s`; the attempt is
  // not counted. False, changing nothing, when it is not running under `worker`'s lease.
  bool yieldBack(int64_t id, const std::string& worker, double delay_s, const std::string& why);
  // Objects of render job `render_id`, still running under `worker`'s lease, are ready
  // to send: each destination of `sends` gets one send job for this render, queued now
  // or, when it already has one waiting, woken. The lease check and the queuing are one
  // transaction, so a canceled or taken-over render releases nothing. False otherwise.
  bool releaseSends(int64_t render_id, const std::string& worker, const std::vector<NewJob>& sends);
  // Speculative start: a route job queued with the payload "speculative": 1 (its series
  // released, the release grace still running) passes the mark to its render job; such a
  // render releases no send job and leaves its series `processing` when it succeeds.
  // confirmSpeculative: the series is complete: the marks go, a render that runs or has
  // succeeded gets its send jobs (sends_for), a succeeded one's series becomes done; 0,
  // changing nothing, when the series is receiving again or nothing was speculative.
  // withdrawSpeculative: a new instance came (or the node restarted): those jobs are
  // canceled, a succeeded render included (nothing of it was sent), and the series is
  // receiving. Each is one transaction. Returns how many jobs it changed.
  using SendsFor = std::function<std::vector<NewJob>(const Job& render)>;
  int confirmSpeculative(const std::string& series_uid, const std::string& reason, const SendsFor& sends_for);
  int withdrawSpeculative(const std::string& series_uid, const std::string& why);
  // Series with a speculative route or render job not yet confirmed or withdrawn.
  std::vector<std::string> speculativeSeries();
  // A failed attempt: retry after `retry_delay_s` while attempts remain, else failed.
  // A render job's series goes back to queued, or to failed with the error.
  std::optional<JobState> fail(int64_t id, const std::string& worker, const std::string& error, double retry_delay_s);
  // Failed for good (no retry makes sense, e.g. not a volume); `series` as given.
  bool failPermanently(int64_t id, const std::string& worker, const std::string& error,
                       const std::optional<SeriesChange>& series = std::nullopt);
  // The worker process running the job died (signal, OOM killer, time-out): the
  // attempt counts as a crash; after `max_crashes` the job fails for good with
  // `cause` and how often, else it is retried at once.
  std::optional<JobState> workerDied(int64_t id, const std::string& worker, const std::string& cause, int max_crashes);
  // Operator actions. False when the job is in a state that does not allow it.
  // Canceling a route or render job cancels its series; retrying queues it again.
  bool cancel(int64_t id, const std::string& why = "canceled by operator");
  bool retryNow(int64_t id, const std::string& why = "retry requested by operator");
  // Fails an active job that can no longer succeed (e.g. its outputs are gone).
  bool abandon(int64_t id, const std::string& why);

  // On PostgreSQL, leases taken through this queue are owned by "<node>/<worker>" (the
  // worker names its calls pass stay short), so a node that starts again knows the
  // jobs it held from those of live peers. Unset, and on SQLite (one node per index):
  // the worker's name alone.
  void ownLeasesAs(const std::string& node);

  // Running jobs whose lease ended go back to queued; returns how many.
  int requeueExpiredLeases();
  // Every running job goes back to queued (an index only this process uses).
  int requeueAllRunning(const std::string& why);
  // At start-up, the running jobs whose workers are gone go back to queued: on SQLite
  // (one node per index) every one; on PostgreSQL those this node's leases held
  // (ownLeasesAs) and those whose lease expired on the database's clock, never a live
  // peer's.
  int requeueInterruptedAtStart(const std::string& why);
  // The attempt was cut off because the database could not be reached: the job is
  // queued again at once, the attempt not counted (a render job's series back to
  // queued). False, changing nothing, when it no longer runs under `worker`'s lease.
  bool returnInterrupted(int64_t id, const std::string& worker, const std::string& why);
  // A worker stopped cleanly while it held jobs (its host shuts down): they are
  // queued again at once for another worker (as at a restart: not a crash).
  int requeueJobsOf(const std::string& worker, const std::string& why);
  // The running job `worker` holds, if any (after its process died).
  std::optional<Job> runningJobOf(const std::string& worker);

  // For start-up repair: series waiting for a route or render job that no active
  // job serves; the latest succeeded render of each series, finished since
  // `finished_since` (ISO UTC), that has no send job.
  std::vector<OrphanSeries> seriesWithoutActiveJob();
  std::vector<Job> rendersWithoutSends(const std::string& finished_since);

  std::optional<Job> get(int64_t id);
  std::vector<Job> list(const JobFilter& filter);
  std::vector<JobEvent> events(int64_t id);
  std::vector<std::pair<std::string, int64_t>> countsByState();

  // Planned outputs of a job (UIDs decided once, before anything is produced).
  void planOutputs(int64_t job_id, const std::vector<JobOutput>& outputs);  // keeps existing keys
  void recordOutputFile(int64_t job_id, const std::string& output_key, const std::string& sop_class_uid,
                        const std::string& file_path, int64_t file_size, int frames);
  std::vector<JobOutput> outputs(int64_t job_id);
  // Of its latest succeeded render (not one held for a speculative start).
  std::vector<JobOutput> outputsOfSeries(const std::string& source_series_uid);
  int countOutputSeriesInStudy(const std::string& study_uid);

  // Ids of the render jobs of a study (whose results live in <results>/<id>/).
  std::vector<int64_t> renderJobsOfStudy(const std::string& study_uid);
  // Studies whose every send job succeeded, with the time of the last delivery
  // (ISO UTC), oldest first. A study with a send job not (yet) succeeded is absent.
  std::vector<std::pair<std::string, std::string>> deliveredStudies();

  // Deliveries: which output objects a destination acknowledged.
  void recordDelivery(const std::string& destination, const std::string& sop_uid, int status, const std::string& detail);
  // Several in one transaction (one commit for a send pass, not one per object).
  void recordDeliveries(const std::string& destination, const std::vector<DeliveryRecord>& records);
  bool delivered(const std::string& destination, const std::string& sop_uid);
  // outputs(job_id), each with whether `destination` acknowledged it: one query.
  std::vector<OutputDelivery> outputsWithDelivery(int64_t job_id, const std::string& destination);
  void recordRefusedSopClass(const std::string& destination, const std::string& sop_class_uid);
  std::vector<std::string> refusedSopClasses(const std::string& destination);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace volnode
