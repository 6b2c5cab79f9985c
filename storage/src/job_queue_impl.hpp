#pragma once
// Internal to the job queue's units (job_queue.cpp, job_speculation.cpp,
// job_recovery.cpp, job_outputs.cpp): the rows they read and JobQueue::Impl, the
// connection and the steps of a transaction they share.
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "database/connection.hpp"
#include "database/postgres_connection.hpp"
#include "series_state_change.hpp"
#include "volnode/core/clock.hpp"
#include "volnode/core/logging.hpp"
#include "volnode/storage/job_queue.hpp"

namespace volnode {

inline const char* const kJobColumns =
    "id, kind, study_uid, series_uid, rule, destination, payload, state, priority, attempts, max_attempts, "
    "not_before, COALESCE(lease_owner, ''), last_error, warning, progress_stage, progress_percent, created_at, "
    "updated_at, COALESCE(started_at, ''), COALESCE(finished_at, ''), crashes";

inline Job readJob(const sql::Statement& s) {
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
inline bool drivesSeries(const Job& job) {
  return (job.kind == JobKind::Route || job.kind == JobKind::Render) && !job.series_uid.empty();
}

// A route or render job started on a released association, before the release
// grace confirmed the series complete (payload "speculative": 1). Its results are
// held: no send job and no final series state until confirmSpeculative().
inline constexpr const char* kSpeculativeKey = "speculative";
inline constexpr const char* kHeldSeriesReasonKey = "held_series_reason";

inline bool isSpeculative(const std::string& payload) {
  auto json = nlohmann::json::parse(payload, nullptr, false);
  return json.is_object() && json.contains(kSpeculativeKey) && json[kSpeculativeKey] == 1;
}

// The payload with `key` set to `value`, or removed when `value` is null.
inline std::string withPayloadKey(const std::string& payload, const char* key, const nlohmann::json& value) {
  auto json = nlohmann::json::parse(payload, nullptr, false);
  if (!json.is_object()) json = nlohmann::json::object();
  if (value.is_null())
    json.erase(key);
  else
    json[key] = value;
  return json.dump();
}

inline const char* const kOutputColumns =
    "job_id, output_key, kind, preset, series_uid, sop_uid, series_number, description, sop_class_uid, file_path, "
    "file_size, frames, created";
// The same of job_outputs o, beside another table.
inline const char* const kOutputColumnsOfO =
    "o.job_id, o.output_key, o.kind, o.preset, o.series_uid, o.sop_uid, o.series_number, o.description, "
    "o.sop_class_uid, o.file_path, o.file_size, o.frames, o.created";
inline constexpr int kOutputColumnCount = 13;

inline JobOutput readOutput(const sql::Statement& s) {
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

// The channel a PostgreSQL queue notifies when a job may have become claimable.
inline constexpr const char* kJobsChannel = "volnode_jobs";

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

  // What a worker's step on its own job starts with: the queue's lock, a transaction, and
  // the job while it still runs under `worker`'s lease (empty when it was canceled or
  // taken over meanwhile: the step then changes nothing). The members are made in this order.
  struct UnderLease {
    UnderLease(Impl& impl, int64_t id, const std::string& worker)
        : lock(impl.mutex), tx(*impl.db), job(impl.leasedBy(id, worker)) {}
    std::lock_guard<std::mutex> lock;
    const std::string now = isoUtcNow();
    sql::Transaction tx;
    const std::optional<Job> job;
  };

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

}  // namespace volnode
