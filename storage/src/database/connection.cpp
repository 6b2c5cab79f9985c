#include "connection.hpp"

#include "postgres_connection.hpp"
#include "sqlite_connection.hpp"
#include "volnode/core/error.hpp"
#include "volnode/core/logging.hpp"

namespace volnode::sql {

std::unique_ptr<Connection> open(const IndexLocation& location, bool create, Synchronous synchronous) {
  if (location.backend == IndexBackend::Postgresql) return std::make_unique<PostgresConnection>(location, false);
  return std::make_unique<SqliteConnection>(location.sqlite_path, create, synchronous);
}

std::unique_ptr<Connection> open(const IndexLocation& location, ReadOnly) {
  if (location.backend == IndexBackend::Postgresql) return std::make_unique<PostgresConnection>(location, true);
  return std::make_unique<SqliteConnection>(location.sqlite_path, ReadOnly{});
}

CachedStatement Connection::cached(const std::string& sql) {
  auto& slot = cache_[sql];
  if (!slot) slot = std::make_unique<Statement>(prepare(sql));
  return CachedStatement(*slot);
}

Transaction::Transaction(Connection& connection) : connection_(connection) { connection_.begin(); }

Transaction::~Transaction() {
  if (done_) return;
  // After SQLITE_FULL, IOERR or NOMEM SQLite has already rolled the transaction back
  // itself; a ROLLBACK then only fails with "no transaction is active".
  if (!connection_.inTransaction()) return;
  try {
    connection_.exec("ROLLBACK");
  } catch (const Error& e) {
    moduleLogger("storage")->error("rollback failed: {}", e.what());
  }
}

void Transaction::commit() {
  connection_.exec("COMMIT");
  done_ = true;
}

int64_t insertReturningId(Statement& insert) {
  if (!insert.step()) throw Error(Errc::Database, "INSERT ... RETURNING id returned no row");
  int64_t id = insert.integer(0);
  insert.run();  // finish the statement (SQLite writes the row when it is stepped to the end)
  return id;
}

}  // namespace volnode::sql
