// The job queue's outputs and deliveries (job_queue.hpp): each render's planned objects,
// their files, and what each destination acknowledged or refused.
#include "job_queue_impl.hpp"

namespace volnode {

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
