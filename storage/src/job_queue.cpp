#include "volnode/storage/job_queue.hpp"

#include <mutex>

#include "sqlite.hpp"
#include "volnode/core/clock.hpp"
#include "volnode/core/error.hpp"
#include "volnode/core/logging.hpp"

namespace volnode {
namespace {

const char* const kJobColumns =
    "id, kind, study_uid, series_uid, rule, destination, payload, state, priority, attempts, max_attempts, "
    "not_before, COALESCE(lease_owner, ''), last_error, warning, progress_stage, progress_percent, created_at, "
    "updated_at, COALESCE(started_at, ''), COALESCE(finished_at, '')";

Job readJob(const sql::Statement& s) {
  Job j;
  j.id = s.integer(0);
  j.kind = s.text(1);
  j.study_uid = s.text(2);
  j.series_uid = s.text(3);
  j.rule = s.text(4);
  j.destination = s.text(5);
  j.payload = s.text(6);
  j.state = s.text(7);
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
  return j;
}

const char* const kOutputColumns =
    "job_id, output_key, kind, preset, series_uid, sop_uid, series_number, description, sop_class_uid, file_path, "
    "file_size, frames, created";

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

struct JobQueue::Impl {
  std::mutex mutex;
  std::unique_ptr<sql::Connection> db;

  void event(int64_t id, const std::string& state, const std::string& message, const std::string& now) {
    db->prepare("INSERT INTO job_events(job_id, state, message, at) VALUES (?,?,?,?)")
        .bind(1, id).bind(2, state).bind(3, message).bind(4, now).run();
  }

  // UPDATE ... WHERE id = ? AND state IN (...), with an event when it changed something.
  bool transition(int64_t id, const std::string& set_sql, const std::string& allowed_states,
                  const std::string& new_state, const std::string& message) {
    std::string now = isoUtcNow();
    sql::Transaction tx(*db);
    auto s = db->prepare("UPDATE jobs SET " + set_sql + ", updated_at = ?1 WHERE id = ?2 AND state IN (" +
                         allowed_states + ")");
    s.bind(1, now).bind(2, id);
    s.run();
    bool changed = db->changes() > 0;
    if (changed) event(id, new_state, message, now);
    tx.commit();
    return changed;
  }
};

JobQueue::JobQueue(const std::filesystem::path& index_path, IndexSync sync) : impl_(std::make_unique<Impl>()) {
  impl_->db = std::make_unique<sql::Connection>(
      index_path, false, sync == IndexSync::Full ? sql::Synchronous::Full : sql::Synchronous::Normal);
}

JobQueue::~JobQueue() = default;

int64_t JobQueue::enqueue(const NewJob& job) {
  std::string now = isoUtcNow();
  std::lock_guard lock(impl_->mutex);
  sql::Transaction tx(*impl_->db);
  impl_->db
      ->prepare(
          "INSERT INTO jobs(kind, study_uid, series_uid, rule, destination, payload, priority, max_attempts, "
          "created_at, updated_at) VALUES (?,?,?,?,?,?,?,?,?,?)")
      .bind(1, job.kind).bind(2, job.study_uid).bind(3, job.series_uid).bind(4, job.rule).bind(5, job.destination)
      .bind(6, job.payload).bind(7, job.priority).bind(8, job.max_attempts).bind(9, now).bind(10, now).run();
  int64_t id = impl_->db->lastInsertId();
  impl_->event(id, "queued", job.kind + (job.destination.empty() ? "" : " to " + job.destination), now);
  tx.commit();
  return id;
}

std::optional<Job> JobQueue::claimNext(const std::vector<std::string>& kinds, const std::string& worker,
                                       double lease_s) {
  if (kinds.empty()) return std::nullopt;
  std::string in;
  for (size_t i = 0; i < kinds.size(); ++i) in += (i ? ",?" : "?");
  std::string now = isoUtcNow();
  double now_unix = unixSecondsNow();
  std::lock_guard lock(impl_->mutex);
  sql::Transaction tx(*impl_->db);
  auto s = impl_->db->prepare(
      std::string("UPDATE jobs SET state = 'running', attempts = attempts + 1, lease_owner = ?1, lease_until = ?2, "
                  "started_at = ?3, updated_at = ?3, progress_stage = '', progress_percent = 0 "
                  "WHERE id = (SELECT id FROM jobs WHERE (state = 'queued' OR (state = 'retry' AND not_before <= ?4)) "
                  "AND kind IN (") +
      in + ") ORDER BY priority DESC, id LIMIT 1) RETURNING " + kJobColumns);
  s.bind(1, worker).bind(2, now_unix + lease_s).bind(3, now).bind(4, now_unix);
  for (size_t i = 0; i < kinds.size(); ++i) s.bind(static_cast<int>(5 + i), kinds[i]);
  if (!s.step()) return std::nullopt;
  Job job = readJob(s);
  s.reset();
  impl_->event(job.id, "running", "attempt " + std::to_string(job.attempts) + " by " + worker, now);
  tx.commit();
  return job;
}

bool JobQueue::heartbeat(int64_t id, const std::string& worker, double lease_s, const std::string& stage,
                         double percent) {
  std::lock_guard lock(impl_->mutex);
  auto s = impl_->db->prepare(
      "UPDATE jobs SET lease_until = ?, progress_stage = ?, progress_percent = ?, updated_at = ? "
      "WHERE id = ? AND state = 'running' AND lease_owner = ?");
  s.bind(1, unixSecondsNow() + lease_s).bind(2, stage).bind(3, percent).bind(4, isoUtcNow()).bind(5, id).bind(6, worker);
  s.run();
  return impl_->db->changes() > 0;
}

void JobQueue::succeed(int64_t id, const std::string& warning) {
  std::lock_guard lock(impl_->mutex);
  std::string now = isoUtcNow();
  sql::Transaction tx(*impl_->db);
  impl_->db
      ->prepare(
          "UPDATE jobs SET state = 'succeeded', warning = ?, lease_owner = NULL, progress_percent = 100, "
          "updated_at = ?, finished_at = ? WHERE id = ? AND state = 'running'")
      .bind(1, warning).bind(2, now).bind(3, now).bind(4, id).run();
  if (impl_->db->changes() > 0) impl_->event(id, "succeeded", warning, now);
  tx.commit();
}

std::string JobQueue::fail(int64_t id, const std::string& error, double retry_delay_s) {
  std::lock_guard lock(impl_->mutex);
  std::string now = isoUtcNow();
  sql::Transaction tx(*impl_->db);
  auto find = impl_->db->prepare("SELECT attempts, max_attempts, state FROM jobs WHERE id = ?");
  find.bind(1, id);
  if (!find.step()) return "";
  bool exhausted = find.integer(0) >= find.integer(1);
  std::string state = find.text(2);
  find.reset();
  if (state != "running") return state;  // canceled meanwhile: keep what the operator decided
  std::string next = exhausted ? "failed" : "retry";
  impl_->db
      ->prepare(
          "UPDATE jobs SET state = ?, last_error = ?, not_before = ?, lease_owner = NULL, updated_at = ?, "
          "finished_at = CASE WHEN ? = 'failed' THEN ? ELSE finished_at END WHERE id = ?")
      .bind(1, next).bind(2, error).bind(3, unixSecondsNow() + retry_delay_s).bind(4, now).bind(5, next)
      .bind(6, now).bind(7, id).run();
  impl_->event(id, next, error, now);
  tx.commit();
  return next;
}

void JobQueue::failPermanently(int64_t id, const std::string& error) {
  std::lock_guard lock(impl_->mutex);
  std::string now = isoUtcNow();
  sql::Transaction tx(*impl_->db);
  impl_->db
      ->prepare(
          "UPDATE jobs SET state = 'failed', last_error = ?, lease_owner = NULL, updated_at = ?, finished_at = ? "
          "WHERE id = ? AND state = 'running'")
      .bind(1, error).bind(2, now).bind(3, now).bind(4, id).run();
  if (impl_->db->changes() > 0) impl_->event(id, "failed", error, now);
  tx.commit();
}

bool JobQueue::cancel(int64_t id, const std::string& why) {
  std::lock_guard lock(impl_->mutex);
  return impl_->transition(id, "state = 'canceled', lease_owner = NULL, finished_at = ?1",
                           "'queued','retry','running'", "canceled", why);
}

bool JobQueue::retryNow(int64_t id, const std::string& why) {
  std::lock_guard lock(impl_->mutex);
  // A failed or canceled job gets a fresh set of attempts.
  return impl_->transition(id,
                           "state = 'queued', not_before = 0, lease_owner = NULL, finished_at = NULL, "
                           "attempts = CASE WHEN state IN ('failed','canceled') THEN 0 ELSE attempts END",
                           "'failed','canceled','retry'", "queued", why);
}

int JobQueue::requeueExpiredLeases() {
  std::lock_guard lock(impl_->mutex);
  std::string now = isoUtcNow();
  sql::Transaction tx(*impl_->db);
  auto s = impl_->db->prepare(
      "UPDATE jobs SET state = 'queued', lease_owner = NULL, updated_at = ? "
      "WHERE state = 'running' AND lease_until < ? RETURNING id");
  s.bind(1, now).bind(2, unixSecondsNow());
  std::vector<int64_t> ids;
  while (s.step()) ids.push_back(s.integer(0));
  s.reset();
  for (auto id : ids) impl_->event(id, "queued", "lease expired: the worker stopped answering", now);
  tx.commit();
  return static_cast<int>(ids.size());
}

int JobQueue::requeueAllRunning(const std::string& why) {
  std::lock_guard lock(impl_->mutex);
  std::string now = isoUtcNow();
  sql::Transaction tx(*impl_->db);
  auto s = impl_->db->prepare(
      "UPDATE jobs SET state = 'queued', lease_owner = NULL, updated_at = ? WHERE state = 'running' RETURNING id");
  s.bind(1, now);
  std::vector<int64_t> ids;
  while (s.step()) ids.push_back(s.integer(0));
  s.reset();
  for (auto id : ids) impl_->event(id, "queued", why, now);
  tx.commit();
  return static_cast<int>(ids.size());
}

std::optional<Job> JobQueue::get(int64_t id) {
  std::lock_guard lock(impl_->mutex);
  auto s = impl_->db->prepare(std::string("SELECT ") + kJobColumns + " FROM jobs WHERE id = ?");
  s.bind(1, id);
  if (!s.step()) return std::nullopt;
  return readJob(s);
}

std::vector<Job> JobQueue::list(const JobFilter& f) {
  std::lock_guard lock(impl_->mutex);
  auto s = impl_->db->prepare(std::string("SELECT ") + kJobColumns +
                              " FROM jobs WHERE (?1 = '' OR state = ?1) AND (?2 = '' OR kind = ?2) "
                              "AND (?3 = '' OR study_uid = ?3) AND (?4 = '' OR series_uid = ?4) "
                              "ORDER BY id DESC LIMIT ?5");
  s.bind(1, f.state).bind(2, f.kind).bind(3, f.study_uid).bind(4, f.series_uid).bind(5, f.limit);
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
      "INSERT OR IGNORE INTO job_outputs(job_id, output_key, kind, preset, series_uid, sop_uid, series_number, "
      "description, created) VALUES (?,?,?,?,?,?,?,?,?)");
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
                              "state = 'succeeded' AND series_uid = ? ORDER BY id DESC LIMIT 1) ORDER BY id");
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

void JobQueue::recordDelivery(const std::string& destination, const std::string& sop_uid, int status,
                              const std::string& detail) {
  std::lock_guard lock(impl_->mutex);
  impl_->db
      ->prepare("INSERT OR REPLACE INTO deliveries(destination, sop_uid, status, detail, at) VALUES (?,?,?,?,?)")
      .bind(1, destination).bind(2, sop_uid).bind(3, status).bind(4, detail).bind(5, isoUtcNow()).run();
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
      ->prepare("INSERT OR IGNORE INTO destination_refusals(destination, sop_class_uid, at) VALUES (?,?,?)")
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
