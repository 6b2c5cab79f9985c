#pragma once
// The database layer under the index and the job queue: one interface, two
// backends (SQLite for the embedded default, PostgreSQL for a store shared by
// several nodes). Storage code writes one SQL text for both:
//   - placeholders are SQLite's (? and ?N, 1-based); the PostgreSQL backend
//     turns them into $N (placeholders.cpp);
//   - upserts use ON CONFLICT ... DO NOTHING / DO UPDATE and new ids come from
//     RETURNING id, which both understand;
//   - what has no common spelling (the database clock, row locks, string
//     aggregation, JSON fields, case-insensitive LIKE) comes from Dialect.
// Errors become Error(Errc::Database), or Errc::OutOfSpace when the disk is full.
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "volnode/storage/index_location.hpp"

namespace volnode::sql {

class Statement;
class CachedStatement;

// When a commit is on disk (SQLite: PRAGMA synchronous in WAL mode; PostgreSQL
// follows the server's synchronous_commit).
enum class Synchronous {
  Full,    // the write-ahead log is flushed at every commit: a commit survives a power loss
  Normal,  // flushed at checkpoints only: a commit survives a crash of the process, not a power loss
};

// Opening a connection that can only read: it never takes a write lock, so
// monitoring reads cannot hold up ingest, and no bug of theirs can change the index.
struct ReadOnly {};

// The SQL fragments that differ between the backends, in one place.
class Dialect {
 public:
  explicit Dialect(IndexBackend backend) : backend_(backend) {}
  IndexBackend backend() const { return backend_; }
  bool postgresql() const { return backend_ == IndexBackend::Postgresql; }

  // The database's clock in unix seconds: leases and retry times of several hosts
  // are compared on one clock, not on each host's.
  std::string unixNow() const;
  // Appended to a SELECT that picks a job to claim: other claimers skip the row
  // instead of waiting for it (PostgreSQL); SQLite serializes writers anyway.
  std::string skipLocked() const;
  // Appended to a SELECT inside a transaction that writes what it read.
  std::string forUpdate() const;
  // The larger / smaller of two values (a scalar MAX/MIN in SQLite, GREATEST/LEAST in PostgreSQL).
  std::string greatest(const std::string& a, const std::string& b) const;
  std::string least(const std::string& a, const std::string& b) const;
  // The sorted distinct values of `expression` over the rows of `from_where`
  // ("FROM ... WHERE ..."), joined with `separator` (a SQL literal).
  std::string sortedDistinctList(const std::string& expression, const std::string& from_where,
                                 const std::string& separator) const;
  // Seconds between two ISO 8601 UTC times.
  std::string secondsBetween(const std::string& later, const std::string& earlier) const;
  // The leading integer of a text (0 when there is none), for ordering "12" after "9".
  std::string leadingInteger(const std::string& text) const;
  // LIKE that ignores the case of ASCII letters.
  std::string likeIgnoringCase() const;
  // The integer member `key` of a JSON object stored as text.
  std::string jsonInteger(const std::string& column, const std::string& key) const;
  // Matching `column` against a DICOM wildcard pattern (* and ?) without regard to case;
  // `pattern` is what wildcardPattern made of the value (bound as a parameter).
  std::string wildcardMatch(const std::string& column, const std::string& placeholder) const;
  std::string wildcardPattern(const std::string& dicom_pattern) const;

 private:
  IndexBackend backend_;
};

// What a backend's prepared statement does (Statement forwards to it).
class StatementBackend {
 public:
  virtual ~StatementBackend() = default;
  virtual void bindText(int index, std::string_view value) = 0;
  virtual void bindInteger(int index, int64_t value) = 0;
  virtual void bindReal(int index, double value) = 0;
  virtual void bindNull(int index) = 0;
  virtual bool step() = 0;
  virtual void reset() = 0;
  virtual bool isNull(int column) const = 0;
  virtual std::string text(int column) const = 0;
  virtual int64_t integer(int column) const = 0;
  virtual double real(int column) const = 0;
};

class Connection {
 public:
  virtual ~Connection() = default;
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  const Dialect& dialect() const { return dialect_; }
  // Runs one or more statements that return no rows.
  virtual void exec(std::string_view sql) = 0;
  virtual Statement prepare(std::string_view sql) = 0;
  // A statement prepared once per connection and reused (hot paths: ingest);
  // it is reset when the returned handle goes away.
  CachedStatement cached(const std::string& sql);
  // Rows changed by the last INSERT, UPDATE or DELETE.
  virtual int changes() const = 0;
  // Starts a write transaction: SQLite takes the write lock at once (BEGIN
  // IMMEDIATE); PostgreSQL starts a READ COMMITTED transaction whose reads that
  // lead to writes lock their rows (Dialect::forUpdate).
  virtual void begin() = 0;
  virtual bool inTransaction() const = 0;
  // The index file or the redacted URL, for messages.
  virtual std::string describe() const = 0;

 protected:
  explicit Connection(IndexBackend backend) : dialect_(backend) {}
  // Backends call this first in their destructor: cached statements go before the handle.
  void dropCachedStatements() { cache_.clear(); }

 private:
  Dialect dialect_;
  std::unordered_map<std::string, std::unique_ptr<Statement>> cache_;
};

// Opens (creating if asked, for SQLite) the index at `location`.
std::unique_ptr<Connection> open(const IndexLocation& location, bool create, Synchronous synchronous = Synchronous::Full);
std::unique_ptr<Connection> open(const IndexLocation& location, ReadOnly);

class Statement {
 public:
  explicit Statement(std::unique_ptr<StatementBackend> backend) : backend_(std::move(backend)) {}
  Statement(Statement&&) noexcept = default;
  Statement& operator=(Statement&&) = delete;
  Statement(const Statement&) = delete;

  // Binding is 1-based, like SQLite.
  Statement& bind(int index, std::string_view value) { return backend_->bindText(index, value), *this; }
  Statement& bind(int index, const char* value) { return bind(index, std::string_view(value)); }
  Statement& bind(int index, const std::string& value) { return bind(index, std::string_view(value)); }
  Statement& bind(int index, int64_t value) { return backend_->bindInteger(index, value), *this; }
  Statement& bind(int index, int value) { return bind(index, static_cast<int64_t>(value)); }
  Statement& bind(int index, double value) { return backend_->bindReal(index, value), *this; }
  Statement& bind(int index, std::optional<int64_t> value) { return value ? bind(index, *value) : bindNull(index); }
  Statement& bindNull(int index) { return backend_->bindNull(index), *this; }

  // Steps once; true while a row is available.
  bool step() { return backend_->step(); }
  // Runs a statement that returns no rows.
  void run() {
    while (step()) {
    }
  }
  void reset() { backend_->reset(); }

  bool isNull(int column) const { return backend_->isNull(column); }
  std::string text(int column) const { return backend_->text(column); }
  int64_t integer(int column) const { return backend_->integer(column); }
  double real(int column) const { return backend_->real(column); }
  std::optional<int64_t> optionalInteger(int column) const {
    if (isNull(column)) return std::nullopt;
    return integer(column);
  }

 private:
  std::unique_ptr<StatementBackend> backend_;
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

// A write transaction (Connection::begin), rolled back if not committed.
class Transaction {
 public:
  explicit Transaction(Connection& connection);
  ~Transaction();
  void commit();

 private:
  Connection& connection_;
  bool done_ = false;
};

// Runs an INSERT ... RETURNING id and gives the new row's id.
int64_t insertReturningId(Statement& insert);

}  // namespace volnode::sql
