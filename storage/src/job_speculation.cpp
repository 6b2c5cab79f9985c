// The job queue's speculative starts (job_queue.hpp): a series started on its release is
// confirmed complete, or withdrawn when a new instance comes.
#include "job_queue_impl.hpp"

namespace volnode {

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

}  // namespace volnode
