#include "volnode/storage/reindex.hpp"

#include <chrono>

#include <fmt/format.h>

#include "database/sqlite_connection.hpp"
#include "volnode/core/clock.hpp"
#include "volnode/core/error.hpp"
#include "volnode/core/files.hpp"
#include "volnode/core/logging.hpp"

namespace volnode {
namespace {

// What the node did and promised, which the store cannot tell: kept from a readable old index.
const char* const kCarriedTables[] = {"associations", "jobs",       "job_events",
                                      "job_outputs",  "deliveries", "destination_refusals"};

std::filesystem::path withSuffix(const std::filesystem::path& file, const std::string& suffix) {
  return file.string() + suffix;
}

uintmax_t sizeOrZero(const std::filesystem::path& file) {
  std::error_code ec;
  auto size = std::filesystem::file_size(file, ec);
  return ec ? 0 : size;
}

// "2026-11-26T12:34:56.789Z" -> "20261126T123456Z", for the old index's new name.
std::string compactUtcNow() {
  std::string iso = isoUtcNow(), out;
  for (char c : iso.substr(0, 19))
    if (c != '-' && c != ':') out += c;
  return out + "Z";
}

struct OldIndex {
  std::string state;
  bool readable = false;
};

OldIndex inspectOldIndex(const std::filesystem::path& path) {
  const bool exists = std::filesystem::exists(path) || std::filesystem::exists(withSuffix(path, "-wal"));
  if (!exists) return {"missing", false};
  if (sizeOrZero(path) == 0 && sizeOrZero(withSuffix(path, "-wal")) == 0) return {"empty", false};
  try {
    { Index old(path); }  // applies the schema migrations, as the node would; SchemaTooNew goes up
    sql::SqliteConnection db(path, false);
    auto check = db.prepare("PRAGMA quick_check");
    std::string verdict = check.step() ? check.text(0) : "no answer";
    if (verdict != "ok") return {"unreadable: " + verdict, false};
    return {"readable", true};
  } catch (const Error& e) {
    if (e.code() == Errc::SchemaTooNew) throw;
    return {std::string("unreadable: ") + e.what(), false};
  }
}

int64_t count(sql::Connection& db, const std::string& sql) {
  auto s = db.prepare(sql);
  s.step();
  return s.integer(0);
}

// Sets the state of the series matching `condition` (SQL over `series`), with a
// transition each; `reason_sql` may refer to the current state.
int64_t setStates(sql::Connection& db, const std::string& condition, const std::string& state,
                  const std::string& reason_sql, const std::string& now) {
  db.prepare("INSERT INTO series_transitions(series_pk, state, reason, at) SELECT id, ?1, " + reason_sql +
             ", ?2 FROM series WHERE " + condition)
      .bind(1, state).bind(2, now).run();
  db.prepare("UPDATE series SET state = ?1, state_reason = " + reason_sql + ", state_time = ?2 WHERE " + condition)
      .bind(1, state).bind(2, now).run();
  return db.changes();
}

// The carried tables, and what the old index knew of the series and instances
// that are in the new one.
void carryOver(sql::Connection& db) {
  for (const char* table : kCarriedTables)
    db.exec(std::string("INSERT INTO main.") + table + " SELECT * FROM old." + table);
  db.exec(
      "UPDATE instances SET received_at = o.received_at, association_pk = o.association_pk "
      "FROM old.instances o WHERE o.file_path = instances.file_path");
  db.exec(
      "UPDATE studies SET first_received = MIN(studies.first_received, o.first_received), "
      "last_received = MAX(studies.last_received, o.last_received) FROM old.studies o "
      "WHERE o.study_uid = studies.study_uid");
  db.exec(
      "UPDATE series SET state = o.state, state_reason = o.state_reason, state_time = o.state_time, "
      "calling_aet = COALESCE(NULLIF(o.calling_aet, ''), series.calling_aet), "
      "first_received = MIN(series.first_received, o.first_received), "
      "last_received = MAX(series.last_received, o.last_received), "
      "last_received_unix = MAX(series.last_received_unix, o.last_received_unix) "
      "FROM old.series o WHERE o.series_uid = series.series_uid");
  db.exec(
      "DELETE FROM series_transitions WHERE series_pk IN "
      "(SELECT s.id FROM series s JOIN old.series o ON o.series_uid = s.series_uid)");
  db.exec(
      "INSERT INTO series_transitions(series_pk, state, reason, at) "
      "SELECT s.id, t.state, t.reason, t.at FROM old.series_transitions t JOIN old.series o ON o.id = t.series_pk "
      "JOIN main.series s ON s.series_uid = o.series_uid ORDER BY t.id");
}

void replaceIndex(const std::filesystem::path& index_path, const std::filesystem::path& rebuilt,
                  ReindexReport& report) {
  const bool old_exists = std::filesystem::exists(index_path) || std::filesystem::exists(withSuffix(index_path, "-wal"));
  try {
    if (old_exists) {
      report.old_kept_as = withSuffix(index_path, "." + compactUtcNow() + ".before-reindex");
      // Its log goes first: a write-ahead log left beside the new index would be replayed into it.
      for (const char* suffix : {"-wal", "-shm"})
        if (std::filesystem::exists(withSuffix(index_path, suffix)))
          std::filesystem::rename(withSuffix(index_path, suffix), withSuffix(report.old_kept_as, suffix));
      if (std::filesystem::exists(index_path)) {
        // A second name for the old file, then one rename puts the new one in its place:
        // at no moment is there no index.
        std::error_code ec;
        std::filesystem::create_hard_link(index_path, report.old_kept_as, ec);
        if (ec) std::filesystem::rename(index_path, report.old_kept_as);
      }
    }
    std::filesystem::rename(rebuilt, index_path);
  } catch (const std::filesystem::filesystem_error& e) {
    throw Error(Errc::Io, std::string("cannot put the rebuilt index in place: ") + e.what());
  }
  syncDirectory(index_path.parent_path());
}

}  // namespace

std::string ReindexReport::summary() const {
  std::string text = "old index: " + old_index;
  if (!old_kept_as.empty()) text += " (kept as " + old_kept_as.string() + ")";
  text += "\nstore: " + store.summary();
  text += fmt::format("\nnew index: {} patients, {} studies, {} series, {} instances; {} jobs and {} deliveries kept",
                      patients, studies, series, instances, jobs_kept, deliveries_kept);
  text += fmt::format("\nseries: {} kept their state", series_kept_state);
  if (series_indexed_only > 0)
    text += fmt::format(", {} `indexed` (not rendered automatically: render them from the console, or reindex with "
                        "--route)",
                        series_indexed_only);
  if (series_receiving > 0) text += fmt::format(", {} `receiving` (to be rendered and sent by the rules)", series_receiving);
  if (dropped_count > 0) {
    text += fmt::format("\ndropped: {} instance(s) of the old index whose file is not in the store:", dropped_count);
    for (const auto& path : dropped) text += "\n  " + path;
    if (dropped_count > static_cast<int64_t>(dropped.size())) text += "\n  ...";
  }
  return text + fmt::format("\ntook {:.2f} s", seconds);
}

ReindexReport reindexStorage(const std::filesystem::path& storage_dir, const ReindexOptions& options) {
  const auto started = std::chrono::steady_clock::now();
  auto log = moduleLogger("storage");
  const auto index_path = storage_dir / "index.sqlite";
  const auto store_root = storage_dir / "store";
  const auto rebuilt = storage_dir / "index.sqlite.rebuilding";
  for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(withSuffix(rebuilt, suffix));

  ReindexReport report;
  const OldIndex old = inspectOldIndex(index_path);
  report.old_index = old.state;
  log->info("reindex: old index {}", old.state);

  // 1. Every file of the store into a new index. Its commits are flushed once, at
  //    the end: until it replaces the old index, a crash only loses the rebuild.
  {
    Index fresh(rebuilt, IndexSync::Normal);
    FileStore files(store_root, true, fresh);
    StorageConfig config;
    config.min_free_mb = 0;
    InstanceStore store(config, fresh, files);
    report.store = reconcileStore(fresh, files, store);
  }

  // 2. What the old index knew, and the states of the series.
  {
    sql::SqliteConnection db(rebuilt, false, sql::Synchronous::Normal);
    db.exec("PRAGMA foreign_keys=OFF");  // rows are copied as they are, keys included
    const std::string now = isoUtcNow();
    std::string unknown = "1";
    if (old.readable) {
      db.prepare("ATTACH DATABASE ? AS old").bind(1, index_path.string()).run();
      sql::Transaction tx(db);
      carryOver(db);
      tx.commit();
      unknown = "series_uid NOT IN (SELECT series_uid FROM old.series)";
      report.series_kept_state = count(db, "SELECT COUNT(*) FROM series WHERE NOT (" + unknown + ")");
    }
    sql::Transaction tx(db);
    if (options.route_new_series) {
      report.series_receiving = count(db, "SELECT COUNT(*) FROM series WHERE " + unknown);  // receiving already
      if (old.readable) {
        const std::string gained =
            "NOT (" + unknown + ") AND id IN (SELECT series_pk FROM instances WHERE file_path NOT IN "
            "(SELECT file_path FROM old.instances))";
        const int64_t changed =
            setStates(db, gained, "receiving", "'instances found by reindex after ' || state", now);
        report.series_receiving += changed;
        report.series_kept_state -= changed;
      }
    } else {
      report.series_indexed_only =
          setStates(db, unknown, "indexed",
                    "'rebuilt from the store by volnode reindex; not rendered automatically (render on demand)'", now);
    }
    tx.commit();
    if (old.readable) {
      auto dropped = db.prepare(
          "SELECT file_path FROM old.instances WHERE file_path NOT IN (SELECT file_path FROM main.instances) "
          "ORDER BY id");
      while (dropped.step()) {
        if (report.dropped.size() < RecoveryReport::kMaxListed) report.dropped.push_back(dropped.text(0));
        ++report.dropped_count;
      }
      db.exec("DETACH DATABASE old");
    }
    report.patients = count(db, "SELECT COUNT(*) FROM patients");
    report.studies = count(db, "SELECT COUNT(*) FROM studies");
    report.series = count(db, "SELECT COUNT(*) FROM series");
    report.instances = count(db, "SELECT COUNT(*) FROM instances");
    report.jobs_kept = count(db, "SELECT COUNT(*) FROM jobs");
    report.deliveries_kept = count(db, "SELECT COUNT(*) FROM deliveries");
    // One self-contained file (no -wal beside it) that is on disk before it takes the index's place.
    db.exec("PRAGMA journal_mode=DELETE");
  }
  syncFile(rebuilt);

  // 3. The new index takes the old one's place; the old one is kept.
  replaceIndex(index_path, rebuilt, report);
  report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  log->warn("reindex: {}", report.summary());
  return report;
}

}  // namespace volnode
