#include "console_db.hpp"

#include <sqlite3.h>

#include <algorithm>

#include "volnode/core/error.hpp"

namespace volnode::console {
namespace {

class Statement {
 public:
  Statement(sqlite3* db, const std::string& sql) : db_(db) {
    if (sqlite3_prepare_v2(db, sql.c_str(), static_cast<int>(sql.size()), &stmt_, nullptr) != SQLITE_OK)
      throw Error(Errc::Database, std::string("console query failed to prepare: ") + sqlite3_errmsg(db));
  }
  ~Statement() { sqlite3_finalize(stmt_); }
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;

  Statement& bind(int i, const std::string& v) {
    sqlite3_bind_text(stmt_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
    return *this;
  }
  Statement& bind(int i, int64_t v) {
    sqlite3_bind_int64(stmt_, i, v);
    return *this;
  }
  bool step() {
    int rc = sqlite3_step(stmt_);
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    throw Error(Errc::Database, std::string("console query failed: ") + sqlite3_errmsg(db_));
  }
  std::string text(int i) {
    auto p = reinterpret_cast<const char*>(sqlite3_column_text(stmt_, i));
    return p ? std::string(p, static_cast<size_t>(sqlite3_column_bytes(stmt_, i))) : std::string();
  }
  int64_t integer(int i) { return sqlite3_column_int64(stmt_, i); }
  double real(int i) { return sqlite3_column_double(stmt_, i); }
  bool isNull(int i) { return sqlite3_column_type(stmt_, i) == SQLITE_NULL; }

 private:
  sqlite3* db_;
  sqlite3_stmt* stmt_ = nullptr;
};

}  // namespace

struct ConsoleDb::Connection {
  sqlite3* db = nullptr;
  explicit Connection(const std::filesystem::path& path) {
    int rc = sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, nullptr);
    if (rc != SQLITE_OK) {
      std::string why = db ? sqlite3_errmsg(db) : "out of memory";
      sqlite3_close(db);
      throw Error(Errc::Database, "console cannot open the index " + path.string() + " read-only: " + why);
    }
    sqlite3_busy_timeout(db, 2000);
  }
  ~Connection() { sqlite3_close(db); }
};

// A connection taken from the pool for one request, returned afterwards.
struct ConsoleDb::Lease {
  ConsoleDb* owner;
  std::unique_ptr<Connection> connection;
  Lease(ConsoleDb* o, std::unique_ptr<Connection> c) : owner(o), connection(std::move(c)) {}
  Lease(Lease&&) = default;
  ~Lease() {
    if (!connection) return;
    std::lock_guard lock(owner->mutex_);
    if (owner->idle_.size() < 8) owner->idle_.push_back(std::move(connection));
  }
  sqlite3* db() const { return connection->db; }
};

ConsoleDb::ConsoleDb(std::filesystem::path index_path) : path_(std::move(index_path)) {}
ConsoleDb::~ConsoleDb() = default;

ConsoleDb::Lease ConsoleDb::acquire() {
  {
    std::lock_guard lock(mutex_);
    if (!idle_.empty()) {
      auto c = std::move(idle_.back());
      idle_.pop_back();
      return Lease(this, std::move(c));
    }
  }
  return Lease(this, std::make_unique<Connection>(path_));
}

std::vector<ThroughputMinute> ConsoleDb::throughputSince(const std::string& since_iso) {
  auto lease = acquire();
  std::map<std::string, ThroughputMinute> by_minute;
  {
    Statement s(lease.db(),
                "SELECT substr(received_at, 1, 16), COUNT(*), COALESCE(SUM(file_size), 0) FROM instances "
                "WHERE received_at >= ? GROUP BY 1");
    s.bind(1, since_iso);
    while (s.step()) {
      auto& m = by_minute[s.text(0)];
      m.instances = s.integer(1);
      m.bytes = s.integer(2);
    }
  }
  {
    Statement s(lease.db(),
                "SELECT substr(finished_at, 1, 16), kind, COUNT(*) FROM jobs "
                "WHERE state = 'succeeded' AND finished_at >= ? GROUP BY 1, 2");
    s.bind(1, since_iso);
    while (s.step()) {
      auto& m = by_minute[s.text(0)];
      if (s.text(1) == "render") m.renders += s.integer(2);
      if (s.text(1) == "send") m.sends += s.integer(2);
    }
  }
  std::vector<ThroughputMinute> out;
  for (auto& [minute, m] : by_minute) {
    m.minute = minute;
    out.push_back(m);
  }
  return out;
}

int64_t ConsoleDb::instancesSince(const std::string& since_iso) {
  auto lease = acquire();
  Statement s(lease.db(), "SELECT COUNT(*) FROM instances WHERE received_at >= ?");
  s.bind(1, since_iso);
  s.step();
  return s.integer(0);
}

std::vector<RecentError> ConsoleDb::recentErrors(int limit) {
  auto lease = acquire();
  std::vector<RecentError> out;
  {
    Statement s(lease.db(),
                "SELECT id, kind, study_uid, series_uid, destination, last_error, state, "
                "COALESCE(finished_at, updated_at) FROM jobs WHERE state = 'failed' OR (state = 'retry' AND "
                "last_error <> '') ORDER BY updated_at DESC LIMIT ?");
    s.bind(1, static_cast<int64_t>(limit));
    while (s.step()) {
      RecentError e;
      e.what = "job";
      e.job_id = s.integer(0);
      e.job_kind = s.text(1);
      e.study_uid = s.text(2);
      e.series_uid = s.text(3);
      e.destination = s.text(4);
      e.reason = (s.text(6) == "retry" ? "will be retried: " : "") + s.text(5);
      e.at = s.text(7);
      out.push_back(std::move(e));
    }
  }
  {
    Statement s(lease.db(),
                "SELECT se.series_uid, st.study_uid, se.state, se.state_reason, se.state_time FROM series se "
                "JOIN studies st ON st.id = se.study_pk WHERE se.state IN ('refused', 'failed') "
                "ORDER BY se.state_time DESC LIMIT ?");
    s.bind(1, static_cast<int64_t>(limit));
    while (s.step()) {
      RecentError e;
      e.what = "series";
      e.series_uid = s.text(0);
      e.study_uid = s.text(1);
      e.reason = s.text(2) + ": " + s.text(3);
      e.at = s.text(4);
      out.push_back(std::move(e));
    }
  }
  {
    Statement s(lease.db(),
                "SELECT calling_aet, called_aet, peer_host, outcome, started_at FROM associations "
                "WHERE outcome LIKE 'refused%' ORDER BY id DESC LIMIT ?");
    s.bind(1, static_cast<int64_t>(limit));
    while (s.step()) {
      RecentError e;
      e.what = "association";
      e.peer = "'" + s.text(0) + "' at " + s.text(2) + " calling '" + s.text(1) + "'";
      e.reason = s.text(3);
      e.at = s.text(4);
      out.push_back(std::move(e));
    }
  }
  std::stable_sort(out.begin(), out.end(), [](const RecentError& a, const RecentError& b) { return a.at > b.at; });
  if (out.size() > static_cast<size_t>(limit)) out.resize(static_cast<size_t>(limit));
  return out;
}

std::vector<DeliveryRow> ConsoleDb::deliveriesOfStudy(const std::string& study_uid) {
  auto lease = acquire();
  Statement s(lease.db(),
              "SELECT d.destination, d.sop_uid, d.status, d.detail, d.at, o.job_id, o.description FROM deliveries d "
              "JOIN job_outputs o ON o.sop_uid = d.sop_uid JOIN jobs j ON j.id = o.job_id "
              "WHERE j.study_uid = ? ORDER BY d.at");
  s.bind(1, study_uid);
  std::vector<DeliveryRow> out;
  while (s.step()) {
    DeliveryRow d;
    d.destination = s.text(0);
    d.sop_uid = s.text(1);
    d.status = static_cast<int>(s.integer(2));
    d.detail = s.text(3);
    d.at = s.text(4);
    d.job_id = s.integer(5);
    d.description = s.text(6);
    out.push_back(std::move(d));
  }
  return out;
}

MetricsTotals ConsoleDb::metrics() {
  auto lease = acquire();
  MetricsTotals m;
  {
    Statement s(lease.db(),
                "SELECT CASE WHEN outcome LIKE 'refused%' THEN 'refused' ELSE outcome END, COUNT(*), "
                "COALESCE(SUM(instances), 0), COALESCE(SUM(bytes), 0) FROM associations GROUP BY 1");
    while (s.step()) {
      std::string outcome = s.text(0);
      m.associations_by_outcome[outcome] = s.integer(1);
      m.associations += s.integer(1);
      if (outcome == "refused") m.associations_refused += s.integer(1);
      m.received_instances += s.integer(2);
      m.received_bytes += s.integer(3);
    }
  }
  {
    Statement s(lease.db(), "SELECT state, COUNT(*) FROM series GROUP BY state");
    while (s.step()) m.series_by_state[s.text(0)] = s.integer(1);
  }
  {
    Statement s(lease.db(), "SELECT kind, state, COUNT(*) FROM jobs GROUP BY kind, state");
    while (s.step()) m.jobs_by_kind_state[{s.text(0), s.text(1)}] = s.integer(2);
  }
  {
    // Every failed attempt of a send job counts once (state 'retry' or 'failed' in its events).
    Statement s(lease.db(),
                "SELECT j.destination, COUNT(*) FROM job_events e JOIN jobs j ON j.id = e.job_id "
                "WHERE j.kind = 'send' AND e.state IN ('retry', 'failed') GROUP BY j.destination");
    while (s.step()) m.destination_failures[s.text(0)] = s.integer(1);
  }
  {
    Statement s(lease.db(), "SELECT destination, COUNT(*) FROM deliveries GROUP BY destination");
    while (s.step()) m.destination_deliveries[s.text(0)] = s.integer(1);
  }
  {
    // Duration of the last (successful) attempt: started_at is set at each claim.
    Statement s(lease.db(),
                "SELECT kind, (julianday(finished_at) - julianday(started_at)) * 86400.0 FROM jobs "
                "WHERE state = 'succeeded' AND started_at IS NOT NULL AND finished_at IS NOT NULL");
    while (s.step()) {
      double seconds = std::max(0.0, s.real(1));
      if (s.text(0) == "render") m.durations.render_s.push_back(seconds);
      if (s.text(0) == "send") m.durations.send_s.push_back(seconds);
    }
  }
  return m;
}

int64_t ConsoleDb::latestRenderJob(const std::string& series_uid) {
  auto lease = acquire();
  Statement s(lease.db(),
              "SELECT id FROM jobs WHERE kind = 'render' AND state = 'succeeded' AND series_uid = ? "
              "ORDER BY id DESC LIMIT 1");
  s.bind(1, series_uid);
  return s.step() ? s.integer(0) : 0;
}

bool ConsoleDb::isRenderJob(int64_t job_id) {
  auto lease = acquire();
  Statement s(lease.db(), "SELECT 1 FROM jobs WHERE id = ? AND kind = 'render'");
  s.bind(1, job_id);
  return s.step();
}

}  // namespace volnode::console
