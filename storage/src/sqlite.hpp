#pragma once
// A thin RAII layer over the SQLite C API: a connection, prepared statements
// with typed binding, and a transaction guard. Errors become Error(Errc::Database).
#include <cstdint>
#include <filesystem>
#include <memory>
#include <unordered_map>
#include <optional>
#include <string>
#include <string_view>

struct sqlite3;
struct sqlite3_stmt;

namespace volnode::sql {

class Statement;
class CachedStatement;

// When a commit is on disk (PRAGMA synchronous in WAL mode).
enum class Synchronous {
  Full,    // the write-ahead log is flushed at every commit: a commit survives a power loss
  Normal,  // flushed at checkpoints only: a commit survives a crash of the process, not a power loss
};

// Opening a connection that can only read: it never takes a write lock, so
// monitoring reads cannot hold up ingest, and no bug of theirs can change the index.
struct ReadOnly {};

class Connection {
 public:
  // Opens (creating if asked) the database in WAL mode with a busy timeout.
  Connection(const std::filesystem::path& path, bool create, Synchronous synchronous = Synchronous::Full);
  // Opens an existing database read-only (its journal mode is the writer's).
  Connection(const std::filesystem::path& path, ReadOnly);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  void exec(std::string_view sql);
  Statement prepare(std::string_view sql);
  // A statement prepared once per connection and reused (hot paths: ingest);
  // it is reset when the returned handle goes away.
  CachedStatement cached(const std::string& sql);
  int64_t lastInsertId() const;
  int changes() const;
  sqlite3* handle() { return db_; }

 private:
  sqlite3* db_ = nullptr;
  std::filesystem::path path_;
  std::unordered_map<std::string, std::unique_ptr<Statement>> cache_;
};

class Statement {
 public:
  Statement(sqlite3* db, std::string_view sql);
  ~Statement();
  Statement(Statement&& other) noexcept;
  Statement& operator=(Statement&&) = delete;
  Statement(const Statement&) = delete;

  // Binding is 1-based, like SQLite.
  Statement& bind(int index, std::string_view value);
  Statement& bind(int index, const char* value) { return bind(index, std::string_view(value)); }
  Statement& bind(int index, const std::string& value) { return bind(index, std::string_view(value)); }
  Statement& bind(int index, int64_t value);
  Statement& bind(int index, int value) { return bind(index, static_cast<int64_t>(value)); }
  Statement& bind(int index, double value);
  Statement& bind(int index, std::optional<int64_t> value);
  Statement& bindNull(int index);

  // Steps once; true while a row is available.
  bool step();
  // Runs a statement that returns no rows.
  void run();
  void reset();

  bool isNull(int column) const;
  std::string text(int column) const;
  int64_t integer(int column) const;
  double real(int column) const;
  std::optional<int64_t> optionalInteger(int column) const;

 private:
  sqlite3* db_;
  sqlite3_stmt* stmt_ = nullptr;
};

class CachedStatement {
 public:
  explicit CachedStatement(Statement& statement) : statement_(&statement) {}
  ~CachedStatement() { statement_->reset(); }
  CachedStatement(const CachedStatement&) = delete;
  CachedStatement& operator=(const CachedStatement&) = delete;
  Statement* operator->() { return statement_; }
  Statement& operator*() { return *statement_; }

 private:
  Statement* statement_;
};

// BEGIN IMMEDIATE ... COMMIT, rolled back if not committed.
class Transaction {
 public:
  explicit Transaction(Connection& connection);
  ~Transaction();
  void commit();

 private:
  Connection& connection_;
  bool done_ = false;
};

}  // namespace volnode::sql
