#include "sqlite_connection.hpp"

#include <sqlite3.h>

#include "volnode/core/error.hpp"

namespace volnode::sql {
namespace {

[[noreturn]] void fail(sqlite3* db, const std::string& what) {
  int code = db ? sqlite3_extended_errcode(db) : SQLITE_ERROR;
  std::string message = what + ": " + (db ? sqlite3_errmsg(db) : "no connection");
  if ((code & 0xFF) == SQLITE_FULL) throw Error(Errc::OutOfSpace, message);
  throw Error(Errc::Database, message);
}

class SqliteStatement : public StatementBackend {
 public:
  SqliteStatement(sqlite3* db, std::string_view sql) : db_(db) {
    if (sqlite3_prepare_v2(db, sql.data(), static_cast<int>(sql.size()), &stmt_, nullptr) != SQLITE_OK)
      fail(db, "cannot prepare SQL '" + std::string(sql.substr(0, 60)) + "'");
  }
  ~SqliteStatement() override { sqlite3_finalize(stmt_); }

  void bindText(int index, std::string_view value) override {
    if (sqlite3_bind_text(stmt_, index, value.data(), static_cast<int>(value.size()), SQLITE_TRANSIENT) != SQLITE_OK)
      fail(db_, "cannot bind text");
  }
  void bindInteger(int index, int64_t value) override {
    if (sqlite3_bind_int64(stmt_, index, value) != SQLITE_OK) fail(db_, "cannot bind integer");
  }
  void bindReal(int index, double value) override {
    if (sqlite3_bind_double(stmt_, index, value) != SQLITE_OK) fail(db_, "cannot bind real");
  }
  void bindNull(int index) override {
    if (sqlite3_bind_null(stmt_, index) != SQLITE_OK) fail(db_, "cannot bind null");
  }
  bool step() override {
    int rc = sqlite3_step(stmt_);
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    fail(db_, "SQL step failed");
  }
  void reset() override {
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
  }
  bool isNull(int column) const override { return sqlite3_column_type(stmt_, column) == SQLITE_NULL; }
  std::string text(int column) const override {
    const auto* data = sqlite3_column_text(stmt_, column);
    if (!data) return {};
    return std::string(reinterpret_cast<const char*>(data), static_cast<size_t>(sqlite3_column_bytes(stmt_, column)));
  }
  int64_t integer(int column) const override { return sqlite3_column_int64(stmt_, column); }
  double real(int column) const override { return sqlite3_column_double(stmt_, column); }

 private:
  sqlite3* db_;
  sqlite3_stmt* stmt_ = nullptr;
};

}  // namespace

SqliteConnection::SqliteConnection(const std::filesystem::path& path, bool create, Synchronous synchronous)
    : Connection(IndexBackend::Sqlite), path_(path) {
  int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX | (create ? SQLITE_OPEN_CREATE : 0);
  if (sqlite3_open_v2(path.c_str(), &db_, flags, nullptr) != SQLITE_OK) {
    std::string message = db_ ? sqlite3_errmsg(db_) : "out of memory";
    sqlite3_close(db_);
    db_ = nullptr;
    throw Error(Errc::Database, "cannot open index " + path.string() + ": " + message);
  }
  sqlite3_busy_timeout(db_, 5000);
  sqlite3_extended_result_codes(db_, 1);
  // WAL: readers (the console) never block the writer (the SCP).
  // synchronous=FULL: a commit is on disk when COMMIT returns, so what the node
  // told the outside world (Success for an instance, planned output UIDs, results
  // sent) survives a power loss. NORMAL flushes the log only at checkpoints: the
  // last commits before a power loss can be lost; instances among them are indexed
  // again from the store at start-up, but job, output and delivery rows are gone
  // (docs/durability.md).
  exec("PRAGMA journal_mode=WAL");
  exec(synchronous == Synchronous::Full ? "PRAGMA synchronous=FULL" : "PRAGMA synchronous=NORMAL");
  exec("PRAGMA foreign_keys=ON");
}

SqliteConnection::SqliteConnection(const std::filesystem::path& path, ReadOnly)
    : Connection(IndexBackend::Sqlite), path_(path) {
  if (sqlite3_open_v2(path.c_str(), &db_, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, nullptr) != SQLITE_OK) {
    std::string message = db_ ? sqlite3_errmsg(db_) : "out of memory";
    sqlite3_close(db_);
    db_ = nullptr;
    throw Error(Errc::Database, "cannot open index " + path.string() + " read-only: " + message);
  }
  sqlite3_busy_timeout(db_, 2000);
  sqlite3_extended_result_codes(db_, 1);
}

SqliteConnection::~SqliteConnection() {
  dropCachedStatements();  // finalize statements before closing
  sqlite3_close_v2(db_);
}

void SqliteConnection::exec(std::string_view sql) {
  char* message = nullptr;
  std::string text(sql);
  if (sqlite3_exec(db_, text.c_str(), nullptr, nullptr, &message) != SQLITE_OK) {
    std::string detail = message ? message : "unknown error";
    sqlite3_free(message);
    int code = sqlite3_extended_errcode(db_);
    std::string what = "SQL failed on " + path_.string() + ": " + detail;
    if ((code & 0xFF) == SQLITE_FULL) throw Error(Errc::OutOfSpace, what);
    throw Error(Errc::Database, what);
  }
}

Statement SqliteConnection::prepare(std::string_view sql) {
  return Statement(std::make_unique<SqliteStatement>(db_, sql));
}

int SqliteConnection::changes() const { return sqlite3_changes(db_); }

void SqliteConnection::begin() { exec("BEGIN IMMEDIATE"); }

bool SqliteConnection::inTransaction() const { return sqlite3_get_autocommit(db_) == 0; }

}  // namespace volnode::sql
