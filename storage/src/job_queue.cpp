#include "volnode/storage/job_queue.hpp"

#include <algorithm>
#include <chrono>
#include <thread>

#include "job_queue_impl.hpp"
#include "volnode/core/error.hpp"

namespace volnode {

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
  Impl::UnderLease lease(*impl_, id, worker);
  if (!lease.job) return false;
  impl_->db
      ->prepare(
          "UPDATE jobs SET state = 'succeeded', warning = ?, lease_owner = NULL, lease_until = NULL, "
          "progress_percent = 100, updated_at = ?, finished_at = ? WHERE id = ?")
      .bind(1, success.warning).bind(2, lease.now).bind(3, lease.now).bind(4, id).run();
  if (lease.job->kind == JobKind::Render && isSpeculative(lease.job->payload)) {
    // Rendered before its series was confirmed complete: nothing leaves and the series
    // does not look done until confirmSpeculative() (or withdrawSpeculative() discards it).
    impl_->event(id, JobState::Succeeded, "results held until the series is complete", lease.now);
    if (success.series)
      impl_->setPayload(id, withPayloadKey(lease.job->payload, kHeldSeriesReasonKey, success.series->reason),
                        lease.now);
    lease.tx.commit();
    return true;
  }
  impl_->event(id, JobState::Succeeded, success.warning, lease.now);
  if (success.series) impl_->changeSeries(*lease.job, *success.series, lease.now);
  for (const auto& follow_up : success.follow_ups) impl_->queueFollowUp(*lease.job, follow_up, lease.now);
  lease.tx.commit();
  return true;
}

bool JobQueue::yieldBack(int64_t id, const std::string& worker, double delay_s, const std::string& why) {
  Impl::UnderLease lease(*impl_, id, worker);
  if (!lease.job) return false;
  impl_->db
      ->prepare(
          "UPDATE jobs SET state = 'queued', attempts = " + impl_->db->dialect().greatest("0", "attempts - 1") +
          ", not_before = " + impl_->db->dialect().unixNow() +
          " + ?, lease_owner = NULL, lease_until = NULL, progress_stage = ?, updated_at = ? WHERE id = ?")
      .bind(1, delay_s).bind(2, why).bind(3, lease.now).bind(4, id).run();
  lease.tx.commit();
  return true;
}

bool JobQueue::releaseSends(int64_t render_id, const std::string& worker, const std::vector<NewJob>& sends) {
  Impl::UnderLease lease(*impl_, render_id, worker);
  if (!lease.job || lease.job->kind != JobKind::Render) return false;  // canceled or taken over: nothing of it leaves
  if (isSpeculative(lease.job->payload)) return true;  // held until its series is complete (confirmSpeculative)
  for (const auto& send : sends) impl_->queueSendOnce(send, render_id, lease.now);
  lease.tx.commit();
  return true;
}

std::optional<JobState> JobQueue::fail(int64_t id, const std::string& worker, const std::string& error,
                                       double retry_delay_s) {
  Impl::UnderLease lease(*impl_, id, worker);
  if (!lease.job) return std::nullopt;  // canceled or taken over meanwhile: keep what happened
  JobState next = lease.job->attempts >= lease.job->max_attempts ? JobState::Failed : JobState::Retry;
  impl_->endAttempt(*lease.job, next, error, retry_delay_s, lease.now);
  impl_->changeSeries(*lease.job, impl_->seriesAfter(*lease.job, next, error), lease.now);
  lease.tx.commit();
  return next;
}

bool JobQueue::failPermanently(int64_t id, const std::string& worker, const std::string& error,
                               const std::optional<SeriesChange>& series) {
  Impl::UnderLease lease(*impl_, id, worker);
  if (!lease.job) return false;
  impl_->endAttempt(*lease.job, JobState::Failed, error, 0, lease.now);
  impl_->changeSeries(*lease.job, series.value_or(impl_->seriesAfter(*lease.job, JobState::Failed, error)), lease.now);
  lease.tx.commit();
  return true;
}

std::optional<JobState> JobQueue::workerDied(int64_t id, const std::string& worker, const std::string& cause,
                                             int max_crashes) {
  Impl::UnderLease lease(*impl_, id, worker);
  if (!lease.job) return std::nullopt;
  const int crashes = lease.job->crashes + 1;
  impl_->db->prepare("UPDATE jobs SET crashes = ? WHERE id = ?").bind(1, crashes).bind(2, id).run();
  const bool poisoned = crashes >= max_crashes;
  const bool exhausted = lease.job->attempts >= lease.job->max_attempts;
  JobState next = poisoned || exhausted ? JobState::Failed : JobState::Retry;
  std::string error = cause + (crashes > 1 ? ", " + std::to_string(crashes) + " times" : "");
  impl_->endAttempt(*lease.job, next, error, 0, lease.now);  // a retry starts at once, in a fresh worker
  impl_->changeSeries(*lease.job, impl_->seriesAfter(*lease.job, next, error), lease.now);
  lease.tx.commit();
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
