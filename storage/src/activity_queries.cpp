#include "volnode/storage/activity_queries.hpp"

#include <algorithm>
#include <iterator>
#include <mutex>

#include "database/connection.hpp"

namespace volnode {
namespace {

// The outcome the listener records for an association it refused: "refused: <why>".
constexpr const char* kRefusedOutcomes = "refused%";

// The names of states and kinds as the schema stores them (states.hpp), bound as
// parameters so every query speaks of the typed values.
std::string name(JobState state) { return std::string(toString(state)); }
std::string name(JobKind kind) { return std::string(toString(kind)); }
std::string name(SeriesState state) { return std::string(toString(state)); }

}  // namespace

// Read-only connections, at most kIdle kept between calls; one is opened when all are
// in use (the console serves several requests at once).
struct ActivityQueries::Pool {
  static constexpr size_t kIdle = 8;
  IndexLocation location;
  std::mutex mutex;
  std::vector<std::unique_ptr<sql::Connection>> idle;

  // A connection for one call, given back to the pool when it goes out of scope.
  class Lease {
   public:
    Lease(Pool& pool, std::unique_ptr<sql::Connection> connection)
        : pool_(pool), connection_(std::move(connection)) {}
    ~Lease() {
      std::lock_guard lock(pool_.mutex);
      if (pool_.idle.size() < kIdle) pool_.idle.push_back(std::move(connection_));
    }
    Lease(const Lease&) = delete;
    Lease& operator=(const Lease&) = delete;
    sql::Statement prepare(std::string_view sql) { return connection_->prepare(sql); }
    const sql::Dialect& dialect() const { return connection_->dialect(); }

   private:
    Pool& pool_;
    std::unique_ptr<sql::Connection> connection_;
  };

  Lease acquire() {
    {
      std::lock_guard lock(mutex);
      if (!idle.empty()) {
        auto connection = std::move(idle.back());
        idle.pop_back();
        return Lease(*this, std::move(connection));
      }
    }
    return Lease(*this, sql::open(location, sql::ReadOnly{}));
  }
};

ActivityQueries::ActivityQueries(IndexLocation location) : pool_(std::make_unique<Pool>()) {
  pool_->location = std::move(location);
}

ActivityQueries::~ActivityQueries() = default;

std::vector<ThroughputMinute> ActivityQueries::throughputSince(const std::string& since_iso) {
  auto db = pool_->acquire();
  std::map<std::string, ThroughputMinute> by_minute;
  {
    auto s = db.prepare(
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
    auto s = db.prepare(
        "SELECT substr(finished_at, 1, 16), kind, COUNT(*) FROM jobs "
        "WHERE state = ? AND finished_at >= ? GROUP BY 1, 2");
    s.bind(1, name(JobState::Succeeded)).bind(2, since_iso);
    while (s.step()) {
      auto& m = by_minute[s.text(0)];
      auto kind = parseJobKind(s.text(1));
      if (kind == JobKind::Render) m.renders += s.integer(2);
      if (kind == JobKind::Send) m.sends += s.integer(2);
    }
  }
  std::vector<ThroughputMinute> out;
  for (auto& [minute, m] : by_minute) {
    m.minute = minute;
    out.push_back(m);
  }
  return out;
}

namespace {

// The `limit` series last put in `state`, newest first, with the reason.
template <typename Connection>
std::vector<RecentError> seriesIn(Connection& db, SeriesState state, int limit) {
  auto s = db.prepare(
      "SELECT se.series_uid, st.study_uid, se.state, se.state_reason, se.state_time FROM series se "
      "JOIN studies st ON st.id = se.study_pk WHERE se.state = ? ORDER BY se.state_time DESC LIMIT ?");
  s.bind(1, name(state)).bind(2, static_cast<int64_t>(limit));
  std::vector<RecentError> out;
  while (s.step()) {
    RecentError e;
    e.source = ErrorSource::Series;
    e.series_uid = s.text(0);
    e.study_uid = s.text(1);
    e.reason = s.text(2) + ": " + s.text(3);
    e.at = s.text(4);
    out.push_back(std::move(e));
  }
  return out;
}

}  // namespace

std::vector<RecentError> ActivityQueries::recentRefusals(int limit) {
  auto db = pool_->acquire();
  return seriesIn(db, SeriesState::Refused, limit);
}

std::vector<RecentError> ActivityQueries::recentErrors(int limit) {
  auto db = pool_->acquire();
  std::vector<RecentError> out;
  {
    // A job waiting to retry shows once an attempt has failed (it has an error then).
    auto s = db.prepare(
        "SELECT id, kind, study_uid, series_uid, destination, last_error, state, COALESCE(finished_at, updated_at) "
        "FROM jobs WHERE state = ? OR (state = ? AND last_error <> '') ORDER BY updated_at DESC LIMIT ?");
    s.bind(1, name(JobState::Failed)).bind(2, name(JobState::Retry)).bind(3, static_cast<int64_t>(limit));
    while (s.step()) {
      RecentError e;
      e.source = ErrorSource::Job;
      e.job_id = s.integer(0);
      e.job_kind = parseJobKind(s.text(1));
      e.study_uid = s.text(2);
      e.series_uid = s.text(3);
      e.destination = s.text(4);
      e.reason = (parseJobState(s.text(6)) == JobState::Retry ? "will be retried: " : "") + s.text(5);
      e.at = s.text(7);
      out.push_back(std::move(e));
    }
  }
  {
    std::vector<RecentError> failed = seriesIn(db, SeriesState::Failed, limit);
    std::move(failed.begin(), failed.end(), std::back_inserter(out));
  }
  {
    auto s = db.prepare(
        "SELECT calling_aet, called_aet, peer_host, outcome, started_at FROM associations "
        "WHERE outcome LIKE ? ORDER BY id DESC LIMIT ?");
    s.bind(1, kRefusedOutcomes).bind(2, static_cast<int64_t>(limit));
    while (s.step()) {
      RecentError e;
      e.source = ErrorSource::Association;
      e.peer = "'" + s.text(0) + "' at " + s.text(2) + " calling '" + s.text(1) + "'";
      e.reason = s.text(3);
      e.at = s.text(4);
      out.push_back(std::move(e));
    }
  }
  std::stable_sort(out.begin(), out.end(), [](const RecentError& a, const RecentError& b) { return a.at > b.at; });
  if (out.size() > static_cast<size_t>(std::max(limit, 0))) out.resize(static_cast<size_t>(std::max(limit, 0)));
  return out;
}

std::vector<Delivery> ActivityQueries::deliveriesOfStudy(const std::string& study_uid) {
  auto db = pool_->acquire();
  auto s = db.prepare(
      "SELECT d.destination, d.sop_uid, d.status, d.detail, d.at, o.job_id, o.description FROM deliveries d "
      "JOIN job_outputs o ON o.sop_uid = d.sop_uid JOIN jobs j ON j.id = o.job_id "
      "WHERE j.study_uid = ? ORDER BY d.at");
  s.bind(1, study_uid);
  std::vector<Delivery> out;
  while (s.step()) {
    Delivery d;
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

ActivityTotals ActivityQueries::totals() {
  auto db = pool_->acquire();
  ActivityTotals t;
  {
    auto s = db.prepare(
        "SELECT CASE WHEN outcome LIKE ?1 THEN 'refused' ELSE outcome END, COUNT(*), "
        "COALESCE(SUM(instances), 0), COALESCE(SUM(bytes), 0) FROM associations GROUP BY 1");
    s.bind(1, kRefusedOutcomes);
    while (s.step()) {
      const std::string outcome = s.text(0);
      t.associations_by_outcome[outcome] = s.integer(1);
      t.associations += s.integer(1);
      if (outcome == "refused") t.associations_refused += s.integer(1);
      t.received_instances += s.integer(2);
      t.received_bytes += s.integer(3);
    }
  }
  {
    auto s = db.prepare("SELECT state, COUNT(*) FROM series GROUP BY state");
    while (s.step())
      if (auto state = parseSeriesState(s.text(0))) t.series_by_state[*state] = s.integer(1);
  }
  {
    auto s = db.prepare("SELECT kind, state, COUNT(*) FROM jobs GROUP BY kind, state");
    while (s.step()) {
      auto kind = parseJobKind(s.text(0));
      auto state = parseJobState(s.text(1));
      if (kind && state) t.jobs_by_kind_and_state[{*kind, *state}] = s.integer(2);
    }
  }
  {
    // Every failed attempt of a send job counts once: each leaves a retry or failed event.
    auto s = db.prepare(
        "SELECT j.destination, COUNT(*) FROM job_events e JOIN jobs j ON j.id = e.job_id "
        "WHERE j.kind = ? AND e.state IN (?, ?) GROUP BY j.destination");
    s.bind(1, name(JobKind::Send)).bind(2, name(JobState::Retry)).bind(3, name(JobState::Failed));
    while (s.step()) t.failed_sends_by_destination[s.text(0)] = s.integer(1);
  }
  {
    auto s = db.prepare("SELECT destination, COUNT(*) FROM deliveries GROUP BY destination");
    while (s.step()) t.deliveries_by_destination[s.text(0)] = s.integer(1);
  }
  {
    // started_at is set at each claim, so this is the last (successful) attempt.
    auto s = db.prepare(
        "SELECT kind, " + db.dialect().secondsBetween("finished_at", "started_at") +
        " FROM jobs WHERE state = ? AND started_at IS NOT NULL AND finished_at IS NOT NULL");
    s.bind(1, name(JobState::Succeeded));
    while (s.step()) {
      const double seconds = std::max(0.0, s.real(1));
      auto kind = parseJobKind(s.text(0));
      if (kind == JobKind::Render) t.render_seconds.push_back(seconds);
      if (kind == JobKind::Send) t.send_seconds.push_back(seconds);
    }
  }
  return t;
}

std::optional<int64_t> ActivityQueries::latestSucceededRender(const std::string& series_uid) {
  auto db = pool_->acquire();
  auto s = db.prepare("SELECT id FROM jobs WHERE kind = ? AND state = ? AND series_uid = ? ORDER BY id DESC LIMIT 1");
  s.bind(1, name(JobKind::Render)).bind(2, name(JobState::Succeeded)).bind(3, series_uid);
  if (!s.step()) return std::nullopt;
  return s.integer(0);
}

}  // namespace volnode
