#include "volnode/storage/cluster_members.hpp"

#include <mutex>
#include <sstream>

#include "database/connection.hpp"

namespace volnode {
namespace {

std::string joinIds(const std::vector<int64_t>& ids) {
  std::string out;
  for (int64_t id : ids) out += (out.empty() ? "" : ",") + std::to_string(id);
  return out;
}

std::vector<int64_t> parseIds(const std::string& text) {
  std::vector<int64_t> ids;
  std::stringstream in(text);
  for (std::string item; std::getline(in, item, ',');)
    if (!item.empty()) ids.push_back(std::stoll(item));
  return ids;
}

}  // namespace

struct ClusterMembers::Impl {
  std::mutex mutex;
  std::unique_ptr<sql::Connection> db;
};

ClusterMembers::ClusterMembers(const IndexLocation& location) : impl_(std::make_unique<Impl>()) {
  impl_->db = sql::open(location, false);
}

ClusterMembers::~ClusterMembers() = default;

int64_t ClusterMembers::join(const MemberInfo& info) {
  std::lock_guard lock(impl_->mutex);
  const std::string now = impl_->db->dialect().unixNow();
  auto insert = impl_->db->prepare(
      "INSERT INTO cluster_members(role, host, pid, started_at, heartbeat_at, heartbeat_s, workers, detail, node) "
      "VALUES (?, ?, ?, " + now + ", " + now + ", ?, ?, ?, ?) RETURNING id");
  insert.bind(1, info.role).bind(2, info.host).bind(3, info.pid).bind(4, info.heartbeat_s).bind(5, info.workers)
      .bind(6, info.detail).bind(7, info.node);
  return sql::insertReturningId(insert);
}

bool ClusterMembers::heartbeat(int64_t id, const std::vector<int64_t>& current_jobs) {
  std::lock_guard lock(impl_->mutex);
  impl_->db
      ->prepare("UPDATE cluster_members SET heartbeat_at = " + impl_->db->dialect().unixNow() +
                ", current_jobs = ? WHERE id = ?")
      .bind(1, joinIds(current_jobs)).bind(2, id).run();
  return impl_->db->changes() > 0;
}

void ClusterMembers::leave(int64_t id) {
  std::lock_guard lock(impl_->mutex);
  impl_->db->prepare("DELETE FROM cluster_members WHERE id = ?").bind(1, id).run();
}

std::vector<ClusterMember> ClusterMembers::list() {
  std::lock_guard lock(impl_->mutex);
  auto s = impl_->db->prepare(
      "SELECT id, role, host, pid, started_at, heartbeat_at, heartbeat_s, workers, current_jobs, detail, " +
      impl_->db->dialect().unixNow() + " - heartbeat_at, node" +
      " FROM cluster_members ORDER BY CASE role WHEN 'serve' THEN 0 ELSE 1 END, host, pid, id");
  std::vector<ClusterMember> out;
  while (s.step()) {
    ClusterMember m;
    m.id = s.integer(0);
    m.info.role = s.text(1);
    m.info.host = s.text(2);
    m.info.pid = s.integer(3);
    m.started_at = s.real(4);
    m.heartbeat_at = s.real(5);
    m.info.heartbeat_s = s.real(6);
    m.info.workers = static_cast<int>(s.integer(7));
    m.current_jobs = parseIds(s.text(8));
    m.info.detail = s.text(9);
    m.heartbeat_age_s = s.real(10);
    m.info.node = s.text(11);
    m.stale = m.heartbeat_age_s > kStaleIntervals * m.info.heartbeat_s;
    out.push_back(std::move(m));
  }
  return out;
}

int ClusterMembers::forgetLongGone() {
  std::lock_guard lock(impl_->mutex);
  impl_->db
      ->prepare("DELETE FROM cluster_members WHERE heartbeat_at < " + impl_->db->dialect().unixNow() + " - ?")
      .bind(1, kForgetAfterS)
      .run();
  return impl_->db->changes();
}

}  // namespace volnode
