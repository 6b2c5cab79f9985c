#include "migrations.hpp"

#include <algorithm>
#include <vector>

#include "volnode/core/error.hpp"
#include "volnode/core/logging.hpp"

namespace volnode::sql {
namespace {

struct Migration {
  int version;
  const char* name;
  const char* sql;
};

const Migration kSqliteMigrations[] = {
#include "migrations.inc"
};

const Migration kPostgresMigrations[] = {
#include "postgresql_migrations.inc"
};

template <size_t N>
int newest(const Migration (&migrations)[N]) {
  int latest = 0;
  for (const auto& m : migrations) latest = std::max(latest, m.version);
  return latest;
}

void refuseNewer(int current, int latest, const std::string& where) {
  if (current > latest)
    throw Error(Errc::SchemaTooNew,
                "index " + where + " has schema version " + std::to_string(current) +
                    " but this volnode knows versions up to " + std::to_string(latest) +
                    "; run the newer volnode that wrote it, or restore a backup of the index");
}

void migrateSqlite(Connection& db) {
  int current = schemaVersion(db);
  int latest = latestSchemaVersion();
  refuseNewer(current, latest, db.describe());
  if (current == latest) return;
  // A migration may rebuild a table that others reference (SQLite cannot alter a
  // constraint); foreign keys are off while it runs and checked before it commits.
  db.exec("PRAGMA foreign_keys=OFF");
  for (const auto& m : kSqliteMigrations) {
    if (m.version <= current) continue;
    Transaction tx(db);
    db.exec(m.sql);
    auto violations = db.prepare("PRAGMA foreign_key_check");
    if (violations.step())
      throw Error(Errc::Database, "index " + db.describe() + ": schema migration " + m.name +
                                      " would break a reference in table " + violations.text(0));
    db.exec("PRAGMA user_version = " + std::to_string(m.version));
    tx.commit();
    moduleLogger("storage")->info("index {}: applied schema migration {}", db.describe(), m.name);
  }
  db.exec("PRAGMA foreign_keys=ON");
}

// Several nodes may start at once against one database: an advisory lock held for
// each migration's transaction lets one of them migrate while the others wait and
// then find the work done.
constexpr const char* kMigrationLock = "SELECT pg_advisory_xact_lock(7403260001)";

void migratePostgres(Connection& db) {
  const int latest = latestSchemaVersion();
  if (newest(kPostgresMigrations) != latest)
    throw Error(Errc::Database, "this build has schema migrations up to " + std::to_string(latest) +
                                    " for SQLite but up to " + std::to_string(newest(kPostgresMigrations)) +
                                    " for PostgreSQL; every migration needs both (storage/sql/README.md)");
  db.exec("CREATE TABLE IF NOT EXISTS volnode_schema (version INTEGER NOT NULL)");
  for (;;) {
    Transaction tx(db);
    db.exec(kMigrationLock);
    const int current = schemaVersion(db);
    refuseNewer(current, latest, db.describe());
    if (current == latest) {
      tx.commit();
      return;
    }
    const auto next = std::find_if(std::begin(kPostgresMigrations), std::end(kPostgresMigrations),
                                   [&](const Migration& m) { return m.version == current + 1; });
    if (next == std::end(kPostgresMigrations))
      throw Error(Errc::Database, "no PostgreSQL schema migration " + std::to_string(current + 1) + " in this build");
    db.exec(next->sql);
    db.exec("DELETE FROM volnode_schema");
    db.prepare("INSERT INTO volnode_schema(version) VALUES (?)").bind(1, next->version).run();
    tx.commit();
    moduleLogger("storage")->info("index {}: applied schema migration {}", db.describe(), next->name);
  }
}

}  // namespace

int latestSchemaVersion() { return newest(kSqliteMigrations); }

int schemaVersion(Connection& db) {
  if (db.dialect().postgresql()) {
    auto exists = db.prepare("SELECT to_regclass('volnode_schema') IS NOT NULL");
    if (!exists.step() || exists.integer(0) == 0) return 0;
    auto stmt = db.prepare("SELECT COALESCE(MAX(version), 0) FROM volnode_schema");
    stmt.step();
    return static_cast<int>(stmt.integer(0));
  }
  auto stmt = db.prepare("PRAGMA user_version");
  stmt.step();
  return static_cast<int>(stmt.integer(0));
}

void migrate(Connection& db) {
  if (db.dialect().postgresql())
    migratePostgres(db);
  else
    migrateSqlite(db);
}

}  // namespace volnode::sql
