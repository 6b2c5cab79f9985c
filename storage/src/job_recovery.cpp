// The job queue's recovery (job_queue.hpp): running jobs whose worker or node is gone go
// back to the queue, and start-up repair finds series and renders left without a job.
#include "job_queue_impl.hpp"

namespace volnode {

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
  Impl::UnderLease lease(*impl_, id, worker);
  if (!lease.job) return false;
  impl_->db
      ->prepare("UPDATE jobs SET state = 'queued', attempts = " + impl_->db->dialect().greatest("0", "attempts - 1") +
                ", not_before = 0, lease_owner = NULL, lease_until = NULL, updated_at = ? WHERE id = ?")
      .bind(1, lease.now).bind(2, id).run();
  impl_->event(id, JobState::Queued, why, lease.now);
  if (lease.job->kind == JobKind::Render) impl_->changeSeries(*lease.job, {SeriesState::Queued, why}, lease.now);
  impl_->notifyClaimers();
  lease.tx.commit();
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

}  // namespace volnode
