#include "volnode/storage/job_queue.hpp"

#include <algorithm>
#include <chrono>
#include <mutex>
#include <thread>

#include <nlohmann/json.hpp>

#include "series_state_change.hpp"
#include "database/connection.hpp"
#include "database/postgres_connection.hpp"
#include "volnode/core/clock.hpp"
#include "volnode/core/error.hpp"
#include "volnode/core/logging.hpp"

namespace volnode {
namespace {

const char* const kJobColumns =
    "id, kind, study_uid, series_uid, rule, destination, payload, state, priority, attempts, max_attempts, "
    "not_before, COALESCE(lease_owner, ''), last_error, warning, progress_stage, progress_percent, created_at, "
    "updated_at, COALESCE(started_at, ''), COALESCE(finished_at, ''), crashes";

Job readJob(const sql::Statement& s) {
  Job j;
  j.id = s.integer(0);
  // The schema's CHECK constraints admit only the names states.hpp knows.
  j.kind = parseJobKind(s.text(1)).value_or(JobKind::Render);
  j.study_uid = s.text(2);
  j.series_uid = s.text(3);
  j.rule = s.text(4);
  j.destination = s.text(5);
  j.payload = s.text(6);
  j.state = parseJobState(s.text(7)).value_or(JobState::Failed);
  j.priority = static_cast<int>(s.integer(8));
  j.attempts = static_cast<int>(s.integer(9));
  j.max_attempts = static_cast<int>(s.integer(10));
  j.not_before = s.real(11);
  j.lease_owner = s.text(12);
  j.last_error = s.text(13);
  j.warning = s.text(14);
  j.progress_stage = s.text(15);
  j.progress_percent = s.real(16);
  j.created_at = s.text(17);
  j.updated_at = s.text(18);
  j.started_at = s.text(19);
  j.finished_at = s.text(20);
  j.crashes = static_cast<int>(s.integer(21));
  return j;
}

// Route and render jobs work for a series; its state follows theirs. Send and
// retrieve jobs name a series without changing it.
bool drivesSeries(const Job& job) {
  return (job.kind == JobKind::Route || job.kind == JobKind::Render) && !job.series_uid.empty();
}

// A route or render job started on a released association, before the release
// grace confirmed the series complete (payload "speculative": 1). Its results are
// held: no send job and no final series state until confirmSpeculative().
constexpr const char* kSpeculativeKey = "speculative";
constexpr const char* kHeldSeriesReasonKey = "held_series_reason";

bool isSpeculative(const std::string& payload) {
  auto json = nlohmann::json::parse(payload, nullptr, false);
  return json.is_object() && json.contains(kSpeculativeKey) && json[kSpeculativeKey] == 1;
}

// The payload with `key` set to `value`, or removed when `value` is null.
std::string withPayloadKey(const std::string& payload, const char* key, const nlohmann::json& value) {
  auto json = nlohmann::json::parse(payload, nullptr, false);
  if (!json.is_object()) json = nlohmann::json::object();
  if (value.is_null())
    json.erase(key);
  else
    json[key] = value;
  return json.dump();
}

const char* const kOutputColumns =
    "job_id, output_key, kind, preset, series_uid, sop_uid, series_number, description, sop_class_uid, file_path, "
    "file_size, frames, created";
// The same of job_outputs o, beside another table.
const char* const kOutputColumnsOfO =
    "o.job_id, o.output_key, o.kind, o.preset, o.series_uid, o.sop_uid, o.series_number, o.description, "
    "o.sop_class_uid, o.file_path, o.file_size, o.frames, o.created";
constexpr int kOutputColumnCount = 13;

JobOutput readOutput(const sql::Statement& s) {
  JobOutput o;
  o.job_id = s.integer(0);
  o.output_key = s.text(1);
  o.kind = s.text(2);
  o.preset = s.text(3);
  o.series_uid = s.text(4);
  o.sop_uid = s.text(5);
  o.series_number = static_cast<int>(s.integer(6));
  o.description = s.text(7);
  o.sop_class_uid = s.text(8);
  o.file_path = s.text(9);
  o.file_size = s.integer(10);
  o.frames = static_cast<int>(s.integer(11));
  o.created = s.text(12);
  return o;
}

}  // namespace

// The channel a PostgreSQL queue notifies when a job may have become claimable.
constexpr const char* kJobsChannel = "volnode_jobs";

struct JobQueue::Impl {
  std::mutex mutex;
  IndexLocation location;
  std::string node;  // PostgreSQL: the node whose workers' leases this queue takes ("": none)

  // The lease owner a worker's name stands for: "<node>/<worker>" on a shared database.
  std::string owner(const std::string& worker) const { return node.empty() ? worker : node + "/" + worker; }

  std::unique_ptr<sql::Connection> db;
  // A connection of its own that LISTENs (PostgreSQL); opened by the first waiter.
  std::mutex listener_mutex;
  std::unique_ptr<sql::PostgresConnection> listener;

  // Claimers waiting in waitForWork() on any host learn of the job when the
  // transaction commits (NOTIFY is transactional); SQLite's claimers poll.
  void notifyClaimers() {
    if (db->dialect().postgresql()) db->exec(std::string("NOTIFY ") + kJobsChannel);
  }

  void event(int64_t id, JobState state, const std::string& message, const std::string& now) {
    db->cached("INSERT INTO job_events(job_id, state, message, at) VALUES (?,?,?,?)")
        ->bind(1, id).bind(2, toString(state)).bind(3, message).bind(4, now).run();
  }

  // Inside a write transaction the row stays locked until it ends (PostgreSQL), so
  // what is decided from it still holds when it is written.
  std::optional<Job> find(int64_t id) {
    auto s = db->prepare(std::string("SELECT ") + kJobColumns + " FROM jobs WHERE id = ?" +
                         (db->inTransaction() ? db->dialect().forUpdate() : ""));
    s.bind(1, id);
    if (!s.step()) return std::nullopt;
    return readJob(s);
  }

  // The job, when it is running under `worker`'s lease (inside a transaction).
  std::optional<Job> leasedBy(int64_t id, const std::string& worker) {
    auto job = find(id);
    if (!job || job->state != JobState::Running || job->lease_owner != owner(worker)) return std::nullopt;
    return job;
  }

  void changeSeries(const Job& job, const SeriesChange& change, const std::string& now) {
    if (!drivesSeries(job)) return;
    if (sql::changeSeriesState(*db, job.series_uid, change.to, change.reason, now) ==
        sql::SeriesChangeResult::NotAllowed)
      moduleLogger("storage")->info("job {}: series {} not moved to {} (its state changed meanwhile)", job.id,
                                    job.series_uid, toString(change.to));
  }

  int64_t insert(const NewJob& job, const std::string& now) {
    auto insert = db->cached(
          "INSERT INTO jobs(kind, study_uid, series_uid, rule, destination, payload, priority, max_attempts, "
          "created_at, updated_at) VALUES (?,?,?,?,?,?,?,?,?,?) RETURNING id");
    insert->bind(1, toString(job.kind)).bind(2, job.study_uid).bind(3, job.series_uid).bind(4, job.rule)
        .bind(5, job.destination).bind(6, job.payload).bind(7, job.priority).bind(8, job.max_attempts)
        .bind(9, now).bind(10, now);
    int64_t id = sql::insertReturningId(*insert);
    notifyClaimers();
    event(id, JobState::Queued,
          std::string(toString(job.kind)) + (job.destination.empty() ? "" : " to " + job.destination), now);
    return id;
  }

  // A render job has one active send job per destination: objects released while it
  // runs and those of its success go to the same job. One that is waiting is woken.
  void queueSendOnce(const NewJob& send, int64_t render_id, const std::string& now) {
    auto active = db->prepare(
        "SELECT id, state FROM jobs WHERE kind = 'send' AND destination = ? AND state IN ('queued', 'running', 'retry') "
        "AND " + db->dialect().jsonInteger("payload", "render_job") + " = ? ORDER BY id LIMIT 1");
    active.bind(1, send.destination).bind(2, render_id);
    if (!active.step()) {
      insert(send, now);
      return;
    }
    if (active.text(1) == "queued")
      db->prepare("UPDATE jobs SET not_before = 0 WHERE id = ?").bind(1, active.integer(0)).run();
  }

  void queueFollowUp(const Job& parent, const NewJob& follow_up, const std::string& now) {
    if (parent.kind == JobKind::Render && follow_up.kind == JobKind::Send)
      queueSendOnce(follow_up, parent.id, now);
    else if (parent.kind == JobKind::Route && follow_up.kind == JobKind::Render && isSpeculative(parent.payload)) {
      NewJob render = follow_up;  // the route's render waits for completion as the route did
      render.payload = withPayloadKey(follow_up.payload, kSpeculativeKey, 1);
      insert(render, now);
    } else
      insert(follow_up, now);
  }

  // The route and render jobs of a series started speculatively that still wait for
  // its completion, their rows locked. Read twice: a render job a route queued while
  // the first read waited for that route's lock is in the second (PostgreSQL).
  std::vector<Job> speculativeJobsOf(const std::string& series_uid) {
    std::vector<Job> jobs;
    for (int pass = 0; pass < 2; ++pass) {
      jobs.clear();
      auto s = db->prepare(std::string("SELECT ") + kJobColumns +
                           " FROM jobs WHERE series_uid = ? AND kind IN ('route', 'render') "
                           "AND state IN ('queued', 'running', 'retry', 'succeeded') AND " +
                           db->dialect().jsonInteger("payload", kSpeculativeKey) + " = 1 ORDER BY id" +
                           db->dialect().forUpdate());
      s.bind(1, series_uid);
      while (s.step()) jobs.push_back(readJob(s));
    }
    return jobs;
  }

  std::optional<SeriesState> seriesStateOf(const std::string& series_uid) {
    auto s = db->prepare("SELECT state FROM series WHERE series_uid = ?" + db->dialect().forUpdate());
    s.bind(1, series_uid);
    if (!s.step()) return std::nullopt;
    return parseSeriesState(s.text(0));
  }

  void setPayload(int64_t id, const std::string& payload, const std::string& now) {
    db->prepare("UPDATE jobs SET payload = ?, updated_at = ? WHERE id = ?").bind(1, payload).bind(2, now).bind(3, id).run();
  }

  // Ends an attempt in `state` (failed, or retry after `retry_delay_s` on the database's clock) with `error`.
  void endAttempt(const Job& job, JobState state, const std::string& error, double retry_delay_s,
                  const std::string& now) {
    db->prepare("UPDATE jobs SET state = ?, last_error = ?, not_before = " + db->dialect().unixNow() +
                " + ?, lease_owner = NULL, lease_until = NULL, "
                "updated_at = ?, finished_at = CASE WHEN ? = 'failed' THEN ? ELSE finished_at END WHERE id = ?")
        .bind(1, toString(state)).bind(2, error).bind(3, retry_delay_s).bind(4, now).bind(5, toString(state))
        .bind(6, now).bind(7, job.id).run();
    event(job.id, state, error, now);
    if (state == JobState::Retry) notifyClaimers();
  }

  // What a failed or retried attempt means for the job's series.
  SeriesChange seriesAfter(const Job& job, JobState state, const std::string& error) {
    const bool render = job.kind == JobKind::Render;
    if (state == JobState::Failed)
      return {SeriesState::Failed, std::string(render ? "render failed: " : "routing failed: ") + error};
    // A route job's series waits as `complete`; a render job's as `queued`.
    return {render ? SeriesState::Queued : SeriesState::Complete,
            std::string(render ? "render will be retried: " : "routing will be retried: ") + error};
  }

  // Running jobs matching `where` (its ? bound to `texts`) go back to queued, with their series.
  int requeueRunning(const std::string& where, const std::string& why, const std::vector<std::string>& texts = {}) {
    std::string now = isoUtcNow();
    sql::Transaction tx(*db);
    std::vector<Job> jobs;
    {
      auto s = db->prepare(std::string("SELECT ") + kJobColumns + " FROM jobs WHERE state = 'running' AND (" + where +
                           ")" + db->dialect().forUpdate());
      for (size_t i = 0; i < texts.size(); ++i) s.bind(static_cast<int>(i + 1), texts[i]);
      while (s.step()) jobs.push_back(readJob(s));
    }
    for (const auto& job : jobs) {
      db->prepare("UPDATE jobs SET state = 'queued', lease_owner = NULL, lease_until = NULL, updated_at = ? "
                  "WHERE id = ?")
          .bind(1, now).bind(2, job.id).run();
      event(job.id, JobState::Queued, why, now);
      if (job.kind == JobKind::Render) changeSeries(job, {SeriesState::Queued, why}, now);
    }
    if (!jobs.empty()) notifyClaimers();
    tx.commit();
    return static_cast<int>(jobs.size());
  }
};

JobQueue::JobQueue(const IndexLocation& location, IndexSync sync) : impl_(std::make_unique<Impl>()) {
  impl_->location = location;
  impl_->db = sql::open(location, false, sync == IndexSync::Full ? sql::Synchronous::Full : sql::Synchronous::Normal);
}

JobQueue::~JobQueue() = default;

int64_t JobQueue::enqueue(const NewJob& job, const std::optional<SeriesChange>& series) {
  std::string now = isoUtcNow();
  std::lock_guard lock(impl_->mutex);
  sql::Transaction tx(*impl_->db);
  if (series && !job.series_uid.empty() &&
      sql::changeSeriesState(*impl_->db, job.series_uid, series->to, series->reason, now) !=
          sql::SeriesChangeResult::Changed)
    return 0;  // the series is not where this job expects it: nothing queued
  int64_t id = impl_->insert(job, now);
  tx.commit();
  return id;
}

std::optional<Job> JobQueue::claimNext(const std::vector<JobKind>& kinds, const std::string& worker, double lease_s) {
  if (kinds.empty()) return std::nullopt;
  std::string in;
  for (size_t i = 0; i < kinds.size(); ++i) in += (i ? ",?" : "?");
  std::string now = isoUtcNow();
  std::lock_guard lock(impl_->mutex);
  // One statement picks and takes the job. On PostgreSQL the pick locks its row and
  // skips rows other claimers hold, so concurrent claimers on any host take
  // different jobs without waiting; SQLite's write lock serializes them. Leases and
  // retry times are on the database's clock.
  const auto& d = impl_->db->dialect();
  const std::string claim =
      "UPDATE jobs SET state = 'running', attempts = attempts + 1, lease_owner = ?1, lease_until = " + d.unixNow() +
      " + ?2, started_at = ?3, updated_at = ?3, progress_stage = '', progress_percent = 0 "
      "WHERE id = (SELECT id FROM jobs WHERE state IN ('queued', 'retry') AND not_before <= " +
      d.unixNow() + " AND kind IN (" + in + ") ORDER BY priority DESC, id LIMIT 1" + d.skipLocked() +
      ") RETURNING " + kJobColumns;
  auto bindClaim = [&](sql::Statement& s) {
    s.bind(1, impl_->owner(worker)).bind(2, lease_s).bind(3, now);
    for (size_t i = 0; i < kinds.size(); ++i) s.bind(static_cast<int>(4 + i), toString(kinds[i]));
  };
  const bool renders = std::find(kinds.begin(), kinds.end(), JobKind::Render) != kinds.end();
  if (d.postgresql() && !renders) {
    // Only a render claim changes a series: any other claim and its event are one
    // statement, atomic on its own, one round trip to the server instead of four.
    auto s = impl_->db->prepare("WITH claimed AS (" + claim +
                                "), event AS (INSERT INTO job_events(job_id, state, message, at) "
                                "SELECT id, 'running', 'attempt ' || attempts || ' by ' || ?1, ?3 FROM claimed) "
                                "SELECT * FROM claimed");
    bindClaim(s);
    if (!s.step()) return std::nullopt;
    return readJob(s);
  }
  sql::Transaction tx(*impl_->db);
  std::optional<Job> job;
  {
    auto s = impl_->db->prepare(claim);
    bindClaim(s);
    if (!s.step()) return std::nullopt;
    job = readJob(s);
  }
  impl_->event(job->id, JobState::Running, "attempt " + std::to_string(job->attempts) + " by " + impl_->owner(worker),
               now);
  if (job->kind == JobKind::Render)
    impl_->changeSeries(*job,
                        {SeriesState::Processing,
                         "render job " + std::to_string(job->id) + ", attempt " + std::to_string(job->attempts)},
                        now);
  tx.commit();
  return job;
}

bool JobQueue::heartbeat(int64_t id, const std::string& worker, double lease_s, const std::string& stage,
                         double percent) {
  std::lock_guard lock(impl_->mutex);
  auto s = impl_->db->prepare(
      "UPDATE jobs SET lease_until = " + impl_->db->dialect().unixNow() +
      " + ?, progress_stage = ?, progress_percent = ?, updated_at = ? "
      "WHERE id = ? AND state = 'running' AND lease_owner = ?");
  s.bind(1, lease_s).bind(2, stage).bind(3, percent).bind(4, isoUtcNow()).bind(5, id).bind(6, impl_->owner(worker));
  s.run();
  return impl_->db->changes() > 0;
}

bool JobQueue::succeed(int64_t id, const std::string& worker, const JobSuccess& success) {
  std::lock_guard lock(impl_->mutex);
  std::string now = isoUtcNow();
  sql::Transaction tx(*impl_->db);
  auto job = impl_->leasedBy(id, worker);
  if (!job) return false;
  impl_->db
      ->prepare(
          "UPDATE jobs SET state = 'succeeded', warning = ?, lease_owner = NULL, lease_until = NULL, "
          "progress_percent = 100, updated_at = ?, finished_at = ? WHERE id = ?")
      .bind(1, success.warning).bind(2, now).bind(3, now).bind(4, id).run();
  if (job->kind == JobKind::Render && isSpeculative(job->payload)) {
    // Rendered before its series was confirmed complete: nothing leaves and the series
    // does not look done until confirmSpeculative() (or withdrawSpeculative() discards it).
    impl_->event(id, JobState::Succeeded, "results held until the series is complete", now);
    if (success.series)
      impl_->setPayload(id, withPayloadKey(job->payload, kHeldSeriesReasonKey, success.series->reason), now);
    tx.commit();
    return true;
  }
  impl_->event(id, JobState::Succeeded, success.warning, now);
  if (success.series) impl_->changeSeries(*job, *success.series, now);
  for (const auto& follow_up : success.follow_ups) impl_->queueFollowUp(*job, follow_up, now);
  tx.commit();
  return true;
}

bool JobQueue::yieldBack(int64_t id, const std::string& worker, double delay_s, const std::string& why) {
  std::lock_guard lock(impl_->mutex);
  std::string now = isoUtcNow();
  sql::Transaction tx(*impl_->db);
  if (!impl_->leasedBy(id, worker)) return false;
  impl_->db
      ->prepare(
          "UPDATE jobs SET state = 'queued', attempts = " + impl_->db->dialect().greatest("0", "attempts - 1") +
          ", not_before = " + impl_->db->dialect().unixNow() +
          " + ?, lease_owner = NULL, lease_until = NULL, progress_stage = ?, updated_at = ? WHERE id = ?")
      .bind(1, delay_s).bind(2, why).bind(3, now).bind(4, id).run();
  tx.commit();
  return true;
}

bool JobQueue::releaseSends(int64_t render_id, const std::string& worker, const std::vector<NewJob>& sends) {
  std::lock_guard lock(impl_->mutex);
  std::string now = isoUtcNow();
  sql::Transaction tx(*impl_->db);
  auto render = impl_->leasedBy(render_id, worker);
  if (!render || render->kind != JobKind::Render) return false;  // canceled or taken over: nothing of it leaves
  if (isSpeculative(render->payload)) return true;  // held until its series is complete (confirmSpeculative)
  for (const auto& send : sends) impl_->queueSendOnce(send, render_id, now);
  tx.commit();
  return true;
}

std::optional<JobState> JobQueue::fail(int64_t id, const std::string& worker, const std::string& error,
                                       double retry_delay_s) {
  std::lock_guard lock(impl_->mutex);
  std::string now = isoUtcNow();
  sql::Transaction tx(*impl_->db);
  auto job = impl_->leasedBy(id, worker);
  if (!job) return std::nullopt;  // canceled or taken over meanwhile: keep what happened
  JobState next = job->attempts >= job->max_attempts ? JobState::Failed : JobState::Retry;
  impl_->endAttempt(*job, next, error, retry_delay_s, now);
  impl_->changeSeries(*job, impl_->seriesAfter(*job, next, error), now);
  tx.commit();
  return next;
}

bool JobQueue::failPermanently(int64_t id, const std::string& worker, const std::string& error,
                               const std::optional<SeriesChange>& series) {
  std::lock_guard lock(impl_->mutex);
  std::string now = isoUtcNow();
  sql::Transaction tx(*impl_->db);
  auto job = impl_->leasedBy(id, worker);
  if (!job) return false;
  impl_->endAttempt(*job, JobState::Failed, error, 0, now);
  impl_->changeSeries(*job, series.value_or(impl_->seriesAfter(*job, JobState::Failed, error)), now);
  tx.commit();
  return true;
}

std::optional<JobState> JobQueue::workerDied(int64_t id, const std::string& worker, const std::string& cause,
                                             int max_crashes) {
  std::lock_guard lock(impl_->mutex);
  std::string now = isoUtcNow();
  sql::Transaction tx(*impl_->db);
  auto job = impl_->leasedBy(id, worker);
  if (!job) return std::nullopt;
  const int crashes = job->crashes + 1;
  impl_->db->prepare("UPDATE jobs SET crashes = ? WHERE id = ?").bind(1, crashes).bind(2, id).run();
  const bool poisoned = crashes >= max_crashes;
  const bool exhausted = job->attempts >= job->max_attempts;
  JobState next = poisoned || exhausted ? JobState::Failed : JobState::Retry;
  std::string error = cause + (crashes > 1 ? ", " + std::to_string(crashes) + " times" : "");
  impl_->endAttempt(*job, next, error, 0, now);  // a retry starts at once, in a fresh worker
  impl_->changeSeries(*job, impl_->seriesAfter(*job, next, error), now);
  tx.commit();
  return next;
}

bool JobQueue::cancel(int64_t id, const std::string& why) {
  std::lock_guard lock(impl_->mutex);
  std::string now = isoUtcNow();
  sql::Transaction tx(*impl_->db);
  auto job = impl_->find(id);
  if (!job || !canCancel(job->state)) return false;
  impl_->db
      ->prepare("UPDATE jobs SET state = 'canceled', lease_owner = NULL, lease_until = NULL, updated_at = ?, "
                "finished_at = ? WHERE id = ?")
      .bind(1, now).bind(2, now).bind(3, id).run();
  impl_->event(id, JobState::Canceled, why, now);
  impl_->changeSeries(*job, {SeriesState::Canceled, std::string(toString(job->kind)) + " job " + std::to_string(id) +
                                                        " canceled: " + why},
                      now);
  tx.commit();
  return true;
}

int JobQueue::confirmSpeculative(const std::string& series_uid, const std::string& reason, const SendsFor& sends_for) {
  std::lock_guard lock(impl_->mutex);
  std::string now = isoUtcNow();
  sql::Transaction tx(*impl_->db);
  // Job rows before the series row, in the order a job's own transitions take them.
  auto jobs = impl_->speculativeJobsOf(series_uid);
  if (jobs.empty()) return 0;
  auto state = impl_->seriesStateOf(series_uid);
  if (!state || *state == SeriesState::Receiving) return 0;  // a new instance came: to be withdrawn, not confirmed
  for (const auto& job : jobs) {
    auto payload = nlohmann::json::parse(job.payload, nullptr, false);
    std::string held_reason = payload.is_object() ? payload.value(kHeldSeriesReasonKey, std::string()) : "";
    impl_->setPayload(job.id,
                      withPayloadKey(withPayloadKey(job.payload, kSpeculativeKey, nullptr), kHeldSeriesReasonKey, nullptr),
                      now);
    impl_->event(job.id, job.state, "series complete (" + reason + "): speculative start confirmed", now);
    if (job.kind != JobKind::Render) continue;
    // A render that produced objects already sends them now; one still queued releases
    // its sends itself, as any render does.
    if (job.state == JobState::Running || job.state == JobState::Succeeded)
      for (const auto& send : sends_for(job)) impl_->queueSendOnce(send, job.id, now);
    if (job.state == JobState::Succeeded)
      impl_->changeSeries(job, {SeriesState::Done, held_reason.empty() ? "rendered" : held_reason}, now);
  }
  impl_->notifyClaimers();
  tx.commit();
  return static_cast<int>(jobs.size());
}

int JobQueue::withdrawSpeculative(const std::string& series_uid, const std::string& why) {
  std::lock_guard lock(impl_->mutex);
  std::string now = isoUtcNow();
  sql::Transaction tx(*impl_->db);
  auto jobs = impl_->speculativeJobsOf(series_uid);
  if (jobs.empty()) return 0;
  // Already receiving when a new instance came; after a restart it is received again,
  // so completion decides afresh.
  if (sql::changeSeriesState(*impl_->db, series_uid, SeriesState::Receiving, why, now) ==
      sql::SeriesChangeResult::Unknown)
    return 0;
  for (const auto& job : jobs) {
    // Canceled, a succeeded render included: its objects were never sent and are not
    // the series' results. A worker still running it loses its lease.
    impl_->db
        ->prepare("UPDATE jobs SET state = 'canceled', payload = ?, lease_owner = NULL, lease_until = NULL, "
                  "updated_at = ?, finished_at = ? WHERE id = ?")
        .bind(1, withPayloadKey(job.payload, kSpeculativeKey, nullptr)).bind(2, now).bind(3, now).bind(4, job.id)
        .run();
    impl_->event(job.id, JobState::Canceled, "speculative start withdrawn: " + why, now);
  }
  tx.commit();
  return static_cast<int>(jobs.size());
}

std::vector<std::string> JobQueue::speculativeSeries() {
  std::lock_guard lock(impl_->mutex);
  auto s = impl_->db->prepare("SELECT DISTINCT series_uid FROM jobs WHERE kind IN ('route', 'render') "
                              "AND state IN ('queued', 'running', 'retry', 'succeeded') AND " +
                              impl_->db->dialect().jsonInteger("payload", kSpeculativeKey) + " = 1 ORDER BY series_uid");
  std::vector<std::string> out;
  while (s.step()) out.push_back(s.text(0));
  return out;
}

bool JobQueue::retryNow(int64_t id, const std::string& why) {
  std::lock_guard lock(impl_->mutex);
  std::string now = isoUtcNow();
  sql::Transaction tx(*impl_->db);
  auto job = impl_->find(id);
  if (!job || !canRetry(job->state)) return false;
  // A failed or canceled job gets a fresh set of attempts and crashes.
  const bool fresh = job->state == JobState::Failed || job->state == JobState::Canceled;
  impl_->db
      ->prepare("UPDATE jobs SET state = 'queued', not_before = 0, lease_owner = NULL, lease_until = NULL, "
                "finished_at = NULL, updated_at = ?, attempts = CASE WHEN ? = 1 THEN 0 ELSE attempts END, "
                "crashes = CASE WHEN ? = 1 THEN 0 ELSE crashes END WHERE id = ?")
      .bind(1, now).bind(2, int64_t{fresh}).bind(3, int64_t{fresh}).bind(4, id).run();
  impl_->event(id, JobState::Queued, why, now);
  impl_->notifyClaimers();
  const bool render = job->kind == JobKind::Render;
  impl_->changeSeries(*job,
                      {render ? SeriesState::Queued : SeriesState::Complete,
                       std::string(toString(job->kind)) + " job " + std::to_string(id) + " queued again: " + why},
                      now);
  tx.commit();
  return true;
}

bool JobQueue::abandon(int64_t id, const std::string& why) {
  std::lock_guard lock(impl_->mutex);
  std::string now = isoUtcNow();
  sql::Transaction tx(*impl_->db);
  auto job = impl_->find(id);
  if (!job || !isActive(job->state)) return false;
  impl_->endAttempt(*job, JobState::Failed, why, 0, now);
  impl_->changeSeries(*job, impl_->seriesAfter(*job, JobState::Failed, why), now);
  tx.commit();
  return true;
}

int JobQueue::requeueExpiredLeases() {
  std::lock_guard lock(impl_->mutex);
  return impl_->requeueRunning("lease_until < " + impl_->db->dialect().unixNow(),
                               "lease expired: the worker stopped answering");
}

int JobQueue::requeueAllRunning(const std::string& why) {
  std::lock_guard lock(impl_->mutex);
  return impl_->requeueRunning("1 = 1", why);
}

void JobQueue::ownLeasesAs(const std::string& node) {
  std::lock_guard lock(impl_->mutex);
  // An SQLite index has one node: its leases need no node name.
  if (impl_->db->dialect().postgresql()) impl_->node = node;
}

int JobQueue::requeueInterruptedAtStart(const std::string& why) {
  std::lock_guard lock(impl_->mutex);
  // SQLite: the index belongs to this one node, so every running job was its own.
  if (!impl_->db->dialect().postgresql()) return impl_->requeueRunning("1 = 1", why);
  // A shared database: the jobs this node held (its workers' leases) and those whose
  // lease ran out; a live peer's running jobs are its own.
  const std::string expired = "lease_until < " + impl_->db->dialect().unixNow();
  if (impl_->node.empty()) return impl_->requeueRunning(expired, why);
  const std::string prefix = impl_->node + "/";
  // substr counts characters in both databases: the prefix's UTF-8 characters.
  const auto characters = std::count_if(prefix.begin(), prefix.end(), [](char c) { return (c & 0xC0) != 0x80; });
  return impl_->requeueRunning("substr(lease_owner, 1, " + std::to_string(characters) + ") = ? OR " + expired, why,
                               {prefix});
}

bool JobQueue::returnInterrupted(int64_t id, const std::string& worker, const std::string& why) {
  std::lock_guard lock(impl_->mutex);
  std::string now = isoUtcNow();
  sql::Transaction tx(*impl_->db);
  auto job = impl_->leasedBy(id, worker);
  if (!job) return false;
  impl_->db
      ->prepare("UPDATE jobs SET state = 'queued', attempts = " + impl_->db->dialect().greatest("0", "attempts - 1") +
                ", not_before = 0, lease_owner = NULL, lease_until = NULL, updated_at = ? WHERE id = ?")
      .bind(1, now).bind(2, id).run();
  impl_->event(id, JobState::Queued, why, now);
  if (job->kind == JobKind::Render) impl_->changeSeries(*job, {SeriesState::Queued, why}, now);
  impl_->notifyClaimers();
  tx.commit();
  return true;
}

int JobQueue::requeueJobsOf(const std::string& worker, const std::string& why) {
  std::lock_guard lock(impl_->mutex);
  std::string ids;
  {
    auto s = impl_->db->prepare("SELECT id FROM jobs WHERE state = 'running' AND lease_owner = ?");
    s.bind(1, impl_->owner(worker));
    while (s.step()) ids += (ids.empty() ? "" : ",") + std::to_string(s.integer(0));
  }
  if (ids.empty()) return 0;
  // requeueRunning checks the state again under its row locks.
  return impl_->requeueRunning("id IN (" + ids + ")", why);
}

std::optional<Job> JobQueue::runningJobOf(const std::string& worker) {
  std::lock_guard lock(impl_->mutex);
  auto s = impl_->db->prepare(std::string("SELECT ") + kJobColumns +
                              " FROM jobs WHERE state = 'running' AND lease_owner = ? ORDER BY id LIMIT 1");
  s.bind(1, impl_->owner(worker));
  if (!s.step()) return std::nullopt;
  return readJob(s);
}

std::vector<OrphanSeries> JobQueue::seriesWithoutActiveJob() {
  std::lock_guard lock(impl_->mutex);
  auto s = impl_->db->prepare(
      "SELECT se.series_uid, st.study_uid, se.state FROM series se JOIN studies st ON st.id = se.study_pk "
      "WHERE se.state IN ('complete', 'queued', 'processing') AND NOT EXISTS (SELECT 1 FROM jobs j "
      "WHERE j.series_uid = se.series_uid AND j.kind IN ('route', 'render') "
      "AND j.state IN ('queued', 'running', 'retry')) ORDER BY se.id");
  std::vector<OrphanSeries> out;
  while (s.step())
    out.push_back({s.text(0), s.text(1), parseSeriesState(s.text(2)).value_or(SeriesState::Complete)});
  return out;
}

std::vector<Job> JobQueue::rendersWithoutSends(const std::string& finished_since) {
  std::lock_guard lock(impl_->mutex);
  auto s = impl_->db->prepare(std::string("SELECT ") + kJobColumns +
                              " FROM jobs r WHERE r.kind = 'render' AND r.state = 'succeeded' "
                              "AND r.id = (SELECT MAX(id) FROM jobs x WHERE x.kind = 'render' AND "
                              "x.state = 'succeeded' AND x.series_uid = r.series_uid) "
                              "AND r.finished_at >= ? AND NOT EXISTS (SELECT 1 FROM jobs s WHERE s.kind = 'send' AND " +
                              impl_->db->dialect().jsonInteger("s.payload", "render_job") + " = r.id) ORDER BY r.id");
  s.bind(1, finished_since);
  std::vector<Job> out;
  while (s.step()) out.push_back(readJob(s));
  return out;
}

std::optional<Job> JobQueue::get(int64_t id) {
  std::lock_guard lock(impl_->mutex);
  return impl_->find(id);
}

std::vector<Job> JobQueue::list(const JobFilter& f) {
  std::lock_guard lock(impl_->mutex);
  auto s = impl_->db->prepare(std::string("SELECT ") + kJobColumns +
                              " FROM jobs WHERE (?1 = '' OR state = ?1) AND (?2 = '' OR kind = ?2) "
                              "AND (?3 = '' OR study_uid = ?3) AND (?4 = '' OR series_uid = ?4) "
                              "ORDER BY id DESC LIMIT ?5");
  s.bind(1, f.state ? toString(*f.state) : "").bind(2, f.kind ? toString(*f.kind) : "").bind(3, f.study_uid).bind(4, f.series_uid).bind(5, f.limit);
  std::vector<Job> out;
  while (s.step()) out.push_back(readJob(s));
  return out;
}

std::vector<JobEvent> JobQueue::events(int64_t id) {
  std::lock_guard lock(impl_->mutex);
  auto s = impl_->db->prepare("SELECT job_id, state, message, at FROM job_events WHERE job_id = ? ORDER BY id");
  s.bind(1, id);
  std::vector<JobEvent> out;
  while (s.step()) out.push_back({s.integer(0), s.text(1), s.text(2), s.text(3)});
  return out;
}

std::vector<std::pair<std::string, int64_t>> JobQueue::countsByState() {
  std::lock_guard lock(impl_->mutex);
  auto s = impl_->db->prepare("SELECT state, COUNT(*) FROM jobs GROUP BY state ORDER BY state");
  std::vector<std::pair<std::string, int64_t>> out;
  while (s.step()) out.emplace_back(s.text(0), s.integer(1));
  return out;
}

void JobQueue::planOutputs(int64_t job_id, const std::vector<JobOutput>& outputs) {
  std::lock_guard lock(impl_->mutex);
  sql::Transaction tx(*impl_->db);
  auto insert = impl_->db->prepare(
      "INSERT INTO job_outputs(job_id, output_key, kind, preset, series_uid, sop_uid, series_number, "
      "description, created) VALUES (?,?,?,?,?,?,?,?,?) ON CONFLICT DO NOTHING");
  for (const auto& o : outputs) {
    insert.bind(1, job_id).bind(2, o.output_key).bind(3, o.kind).bind(4, o.preset).bind(5, o.series_uid)
        .bind(6, o.sop_uid).bind(7, o.series_number).bind(8, o.description).bind(9, o.created).run();
    insert.reset();
  }
  tx.commit();
}

void JobQueue::recordOutputFile(int64_t job_id, const std::string& output_key, const std::string& sop_class_uid,
                                const std::string& file_path, int64_t file_size, int frames) {
  std::lock_guard lock(impl_->mutex);
  impl_->db
      ->prepare(
          "UPDATE job_outputs SET sop_class_uid = ?, file_path = ?, file_size = ?, frames = ? "
          "WHERE job_id = ? AND output_key = ?")
      .bind(1, sop_class_uid).bind(2, file_path).bind(3, file_size).bind(4, frames).bind(5, job_id)
      .bind(6, output_key).run();
}

std::vector<JobOutput> JobQueue::outputs(int64_t job_id) {
  std::lock_guard lock(impl_->mutex);
  auto s = impl_->db->prepare(std::string("SELECT ") + kOutputColumns + " FROM job_outputs WHERE job_id = ? ORDER BY id");
  s.bind(1, job_id);
  std::vector<JobOutput> out;
  while (s.step()) out.push_back(readOutput(s));
  return out;
}

std::vector<JobOutput> JobQueue::outputsOfSeries(const std::string& source_series_uid) {
  std::lock_guard lock(impl_->mutex);
  auto s = impl_->db->prepare(std::string("SELECT ") + kOutputColumns +
                              " FROM job_outputs WHERE job_id = (SELECT id FROM jobs WHERE kind = 'render' AND "
                              "state = 'succeeded' AND series_uid = ? AND COALESCE(" +
                              impl_->db->dialect().jsonInteger("payload", kSpeculativeKey) +
                              ", 0) = 0 ORDER BY id DESC LIMIT 1) ORDER BY id");
  s.bind(1, source_series_uid);
  std::vector<JobOutput> out;
  while (s.step()) out.push_back(readOutput(s));
  return out;
}

int JobQueue::countOutputSeriesInStudy(const std::string& study_uid) {
  std::lock_guard lock(impl_->mutex);
  auto s = impl_->db->prepare(
      "SELECT COUNT(DISTINCT o.series_uid) FROM job_outputs o JOIN jobs j ON j.id = o.job_id WHERE j.study_uid = ?");
  s.bind(1, study_uid);
  s.step();
  return static_cast<int>(s.integer(0));
}

std::vector<int64_t> JobQueue::renderJobsOfStudy(const std::string& study_uid) {
  std::lock_guard lock(impl_->mutex);
  auto s = impl_->db->prepare("SELECT id FROM jobs WHERE kind = 'render' AND study_uid = ? ORDER BY id");
  s.bind(1, study_uid);
  std::vector<int64_t> out;
  while (s.step()) out.push_back(s.integer(0));
  return out;
}

std::vector<std::pair<std::string, std::string>> JobQueue::deliveredStudies() {
  std::lock_guard lock(impl_->mutex);
  auto s = impl_->db->prepare(
      "SELECT study_uid, MAX(finished_at) AS delivered FROM jobs WHERE kind = 'send' GROUP BY study_uid "
      "HAVING SUM(CASE WHEN state = 'succeeded' THEN 0 ELSE 1 END) = 0 "
      "AND NOT EXISTS (SELECT 1 FROM jobs r WHERE r.study_uid = jobs.study_uid AND r.kind = 'render' "
      "AND r.state IN ('queued', 'running', 'retry')) ORDER BY delivered");
  std::vector<std::pair<std::string, std::string>> out;
  while (s.step()) out.emplace_back(s.text(0), s.text(1));
  return out;
}

namespace {
const char* const kUpsertDelivery =
    "INSERT INTO deliveries(destination, sop_uid, status, detail, at) VALUES (?,?,?,?,?) "
    "ON CONFLICT (destination, sop_uid) DO UPDATE SET status = excluded.status, "
    "detail = excluded.detail, at = excluded.at";
}  // namespace

void JobQueue::recordDelivery(const std::string& destination, const std::string& sop_uid, int status,
                              const std::string& detail) {
  recordDeliveries(destination, {{sop_uid, status, detail}});
}

void JobQueue::recordDeliveries(const std::string& destination, const std::vector<DeliveryRecord>& records) {
  if (records.empty()) return;
  std::lock_guard lock(impl_->mutex);
  const std::string now = isoUtcNow();
  sql::Transaction tx(*impl_->db);
  auto upsert = impl_->db->prepare(kUpsertDelivery);
  for (const auto& record : records) {
    upsert.bind(1, destination).bind(2, record.sop_uid).bind(3, record.status).bind(4, record.detail).bind(5, now);
    upsert.run();
    upsert.reset();
  }
  tx.commit();
}

std::vector<OutputDelivery> JobQueue::outputsWithDelivery(int64_t job_id, const std::string& destination) {
  std::lock_guard lock(impl_->mutex);
  // deliveries is unique on (destination, sop_uid): at most one row joins each output.
  auto s = impl_->db->prepare(std::string("SELECT ") + kOutputColumnsOfO +
                              ", CASE WHEN d.sop_uid IS NULL THEN 0 ELSE 1 END FROM job_outputs o "
                              "LEFT JOIN deliveries d ON d.destination = ? AND d.sop_uid = o.sop_uid "
                              "WHERE o.job_id = ? ORDER BY o.id");
  s.bind(1, destination).bind(2, job_id);
  std::vector<OutputDelivery> out;
  while (s.step()) out.push_back({readOutput(s), s.integer(kOutputColumnCount) != 0});
  return out;
}

bool JobQueue::delivered(const std::string& destination, const std::string& sop_uid) {
  std::lock_guard lock(impl_->mutex);
  auto s = impl_->db->prepare("SELECT 1 FROM deliveries WHERE destination = ? AND sop_uid = ?");
  s.bind(1, destination).bind(2, sop_uid);
  return s.step();
}

void JobQueue::recordRefusedSopClass(const std::string& destination, const std::string& sop_class_uid) {
  std::lock_guard lock(impl_->mutex);
  impl_->db
      ->prepare("INSERT INTO destination_refusals(destination, sop_class_uid, at) VALUES (?,?,?) ON CONFLICT DO NOTHING")
      .bind(1, destination).bind(2, sop_class_uid).bind(3, isoUtcNow()).run();
}

std::vector<std::string> JobQueue::refusedSopClasses(const std::string& destination) {
  std::lock_guard lock(impl_->mutex);
  auto s = impl_->db->prepare("SELECT sop_class_uid FROM destination_refusals WHERE destination = ?");
  s.bind(1, destination);
  std::vector<std::string> out;
  while (s.step()) out.push_back(s.text(0));
  return out;
}

}  // namespace volnode

namespace volnode {

bool JobQueue::waitForWork(double timeout_s) {
  if (impl_->location.backend != IndexBackend::Postgresql) {
    // SQLite: nothing tells another process that a job arrived; the caller polls.
    std::this_thread::sleep_for(std::chrono::duration<double>(timeout_s));
    return false;
  }
  std::lock_guard lock(impl_->listener_mutex);
  if (!impl_->listener) {
    auto listener = std::make_unique<sql::PostgresConnection>(impl_->location, true);
    listener->exec(std::string("LISTEN ") + kJobsChannel);
    impl_->listener = std::move(listener);
  }
  try {
    return impl_->listener->waitForNotification(timeout_s);
  } catch (const Error&) {
    impl_->listener.reset();  // the server went away: the next wait connects again
    throw;
  }
}

}  // namespace volnode
