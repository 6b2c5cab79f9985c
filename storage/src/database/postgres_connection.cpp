#include "postgres_connection.hpp"

#include <libpq-fe.h>
#include <poll.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "placeholders.hpp"
#include "volnode/core/error.hpp"
#include "volnode/core/logging.hpp"
#include "volnode/storage/database_unavailable.hpp"

namespace volnode::sql {
namespace {

// Parameter types (pg_type OIDs): the server resolves "unknown" from the context.
constexpr Oid kUnknownOid = 0;
constexpr Oid kBigintOid = 20;
constexpr Oid kDoubleOid = 701;
constexpr Oid kTextOid = 25;

class PostgresStatement : public StatementBackend {
 public:
  PostgresStatement(PostgresConnection& connection, std::string_view sql) : connection_(connection) {
    sql_ = postgresPlaceholders(sql, used_);
    values_.resize(used_.size());
    resetTypes();
  }
  ~PostgresStatement() override { PQclear(result_); }

  void bindText(int index, std::string_view value) override { set(index, std::string(value), kUnknownOid); }
  void bindInteger(int index, int64_t value) override { set(index, std::to_string(value), kBigintOid); }
  void bindReal(int index, double value) override {
    char text[32];
    std::snprintf(text, sizeof text, "%.17g", value);
    set(index, text, std::isfinite(value) ? kDoubleOid : kUnknownOid);
  }
  void bindNull(int index) override { set(index, std::nullopt, kUnknownOid); }

  bool step() override {
    if (!result_) execute();
    return ++row_ < PQntuples(result_);
  }
  void reset() override {
    PQclear(result_);
    result_ = nullptr;
    row_ = -1;
    for (auto& v : values_) v.reset();
    resetTypes();
  }
  bool isNull(int column) const override { return !result_ || PQgetisnull(result_, row_, column); }
  std::string text(int column) const override {
    if (isNull(column)) return {};
    return std::string(PQgetvalue(result_, row_, column), static_cast<size_t>(PQgetlength(result_, row_, column)));
  }
  int64_t integer(int column) const override {
    if (isNull(column)) return 0;
    const char* value = PQgetvalue(result_, row_, column);
    if (value[0] == 't' || value[0] == 'f') return value[0] == 't';  // boolean
    if (std::strpbrk(value, ".eE")) return static_cast<int64_t>(std::strtod(value, nullptr));  // numeric
    return std::strtoll(value, nullptr, 10);
  }
  double real(int column) const override {
    if (isNull(column)) return 0;
    return std::strtod(PQgetvalue(result_, row_, column), nullptr);
  }

 private:
  // A number the SQL skips still needs a type: text (its value is never read).
  void resetTypes() {
    types_.resize(used_.size());
    for (size_t i = 0; i < used_.size(); ++i) types_[i] = used_[i] ? kUnknownOid : kTextOid;
  }

  void set(int index, std::optional<std::string> value, Oid type) {
    if (index < 1 || static_cast<size_t>(index) > values_.size())
      throw Error(Errc::Internal, "parameter " + std::to_string(index) + " out of range in '" + sql_.substr(0, 60) + "'");
    values_[static_cast<size_t>(index - 1)] = std::move(value);
    types_[static_cast<size_t>(index - 1)] = type;
  }

  void execute() {
    std::vector<const char*> pointers(values_.size());
    for (size_t i = 0; i < values_.size(); ++i) pointers[i] = values_[i] ? values_[i]->c_str() : nullptr;
    connection_.reconnectIfLost();
    auto send = [&] {
      return PQexecParams(connection_.handle(), sql_.c_str(), static_cast<int>(values_.size()), types_.data(),
                          pointers.data(), nullptr, nullptr, 0);
    };
    result_ = send();
    if (PQresultStatus(result_) == PGRES_FATAL_ERROR && connection_.mayRetryOnNewSession(readsOnly())) {
      PQclear(result_);
      result_ = nullptr;  // reconnecting throws while the server is away: nothing left to clear twice
      connection_.reconnectIfLost();
      result_ = send();
    }
    const auto status = PQresultStatus(result_);
    if (status != PGRES_TUPLES_OK && status != PGRES_COMMAND_OK) {
      std::string message = result_ ? PQresultErrorMessage(result_) : PQerrorMessage(connection_.handle());
      const char* sqlstate = result_ ? PQresultErrorField(result_, PG_DIAG_SQLSTATE) : nullptr;
      std::string state = sqlstate ? sqlstate : "";
      PQclear(result_);
      result_ = nullptr;
      connection_.fail("SQL failed ('" + sql_.substr(0, 60) + "')", message, state.empty() ? nullptr : state.c_str());
    }
    const char* tuples = PQcmdTuples(result_);
    connection_.setChanges(tuples && *tuples ? std::atoi(tuples) : 0);
    row_ = -1;
  }

  // A SELECT outside a transaction changes nothing: sending it again is safe.
  bool readsOnly() const { return sql_.compare(0, 7, "SELECT ") == 0; }

  PostgresConnection& connection_;
  std::string sql_;
  std::vector<bool> used_;
  std::vector<std::optional<std::string>> values_;
  std::vector<Oid> types_;
  PGresult* result_ = nullptr;
  int row_ = -1;
};

// libpq's messages end in a newline and continue on tab-indented lines ("Is the
// server running on that host ..."): one line for the log.
std::string oneLine(const std::string& message) {
  std::string out;
  for (size_t i = 0; i < message.size(); ++i) {
    if (message[i] != '\n') {
      out += message[i];
      continue;
    }
    while (i + 1 < message.size() && (message[i + 1] == '\t' || message[i + 1] == ' ')) ++i;
    if (i + 1 < message.size()) out += ' ';
  }
  while (!out.empty() && out.back() == ' ') out.pop_back();
  return out;
}

// The server is there but cannot serve: class 08 (connection exception), 57P01-57P03
// (shut down by an administrator, crash recovery, starting up), 53300 (too many connections).
bool serverUnavailable(const char* sqlstate) {
  if (!sqlstate) return false;
  const std::string state = sqlstate;
  return state.rfind("08", 0) == 0 || state == "57P01" || state == "57P02" || state == "57P03" || state == "53300";
}

// Server notices ("relation already exists, skipping") go to the debug log, not stderr.
void logNotice(void*, const char* message) { moduleLogger("storage")->debug("postgresql: {}", message); }

}  // namespace

PostgresConnection::PostgresConnection(const IndexLocation& location, bool read_only)
    : Connection(IndexBackend::Postgresql), described_(location.describe()), read_only_(read_only) {
  // The password goes apart from the URL (expand_dbname expands only "dbname").
  std::vector<const char*> keys{"dbname", "application_name", "connect_timeout"};
  std::vector<const char*> values{location.url.c_str(), "volnode", "10"};
  if (!location.password.empty()) {
    keys.push_back("password");
    values.push_back(location.password.c_str());
  }
  keys.push_back(nullptr);
  values.push_back(nullptr);
  conn_ = PQconnectdbParams(keys.data(), values.data(), 1);
  if (!conn_ || PQstatus(conn_) != CONNECTION_OK) {
    const std::string message = oneLine(conn_ ? PQerrorMessage(conn_) : "out of memory");
    PQfinish(conn_);
    conn_ = nullptr;
    throw DatabaseUnavailable("cannot connect to the index at " + described_ + ": " + message);
  }
  PQsetNoticeProcessor(conn_, logNotice, nullptr);
  configureSession();
}

PostgresConnection::~PostgresConnection() {
  dropCachedStatements();
  PQfinish(conn_);
}

void PostgresConnection::fail(const std::string& what, const std::string& server_message, const char* sqlstate) const {
  const std::string message = oneLine(server_message);
  std::string text = what + " on " + described_ + ": " + message;
  // Class 53: insufficient resources (53100 disk full).
  if (sqlstate && std::strncmp(sqlstate, "53100", 5) == 0) throw Error(Errc::OutOfSpace, text);
  if (PQstatus(conn_) == CONNECTION_BAD) {
    // This error tells the transaction's caller of the loss: the next statement
    // starts on a new session without failing once more for it.
    transaction_open_ = false;
    throw DatabaseUnavailable(text);
  }
  if (serverUnavailable(sqlstate)) throw DatabaseUnavailable(text);
  throw Error(Errc::Database, text);
}

void PostgresConnection::reconnectIfLost() {
  if (PQstatus(conn_) != CONNECTION_BAD) return;
  if (transaction_open_) {  // what the transaction did is gone: its caller must not go on as if not
    transaction_open_ = false;
    throw DatabaseUnavailable(
                "the connection to the index at " + described_ + " was lost inside a transaction");
  }
  // Statements carry no server-side state (no prepared statements, no session
  // settings beyond those set again below), so a new session continues the old one;
  // a transaction the loss interrupted failed with the statement that met it.
  PQreset(conn_);
  if (PQstatus(conn_) != CONNECTION_OK)
    throw DatabaseUnavailable("the index at " + described_ + " cannot be reached: " + lastError());
  moduleLogger("storage")->warn("index {}: connection re-established", described_);
  configureSession();
}

std::string PostgresConnection::lastError() const {
  return oneLine(PQerrorMessage(conn_));
}

void PostgresConnection::configureSession() {
  // Times are written by volnode as UTC text; the session's zone matters only for
  // the casts in Dialect::secondsBetween.
  exec("SET TIME ZONE 'UTC'");
  if (read_only_) exec("SET default_transaction_read_only = on");
}

void PostgresConnection::exec(std::string_view sql) {
  std::string text(sql);
  reconnectIfLost();
  if (text == "COMMIT" || text == "ROLLBACK") transaction_open_ = false;
  PGresult* result = PQexec(conn_, text.c_str());
  const auto status = PQresultStatus(result);
  if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
    std::string message = result ? PQresultErrorMessage(result) : PQerrorMessage(conn_);
    const char* sqlstate = result ? PQresultErrorField(result, PG_DIAG_SQLSTATE) : nullptr;
    std::string state = sqlstate ? sqlstate : "";
    PQclear(result);
    fail("SQL failed ('" + text.substr(0, 60) + "')", message, state.empty() ? nullptr : state.c_str());
  }
  const char* tuples = PQcmdTuples(result);
  changes_ = tuples && *tuples ? std::atoi(tuples) : 0;
  PQclear(result);
}

Statement PostgresConnection::prepare(std::string_view sql) {
  return Statement(std::make_unique<PostgresStatement>(*this, sql));
}

void PostgresConnection::begin() {
  transaction_open_ = false;  // a new transaction: whatever the last one was, it is over
  try {
    exec("BEGIN");
  } catch (const Error&) {
    // The server dropped the session since the last statement (a restart, a fail-over):
    // nothing had begun, so begin on a new one.
    if (!mayRetryOnNewSession(true)) throw;
    exec("BEGIN");
  }
  transaction_open_ = true;
}

bool PostgresConnection::mayRetryOnNewSession(bool statement_changes_nothing) const {
  return statement_changes_nothing && !transaction_open_ && PQstatus(conn_) == CONNECTION_BAD;
}

bool PostgresConnection::inTransaction() const {
  const auto status = PQtransactionStatus(conn_);
  return status == PQTRANS_INTRANS || status == PQTRANS_INERROR || status == PQTRANS_ACTIVE;
}

bool PostgresConnection::waitForNotification(double timeout_s) {
  auto drain = [this] {
    bool any = false;
    while (PGnotify* notification = PQnotifies(conn_)) {
      any = true;
      PQfreemem(notification);
    }
    return any;
  };
  if (PQconsumeInput(conn_) == 0) fail("waiting for notifications", PQerrorMessage(conn_), nullptr);
  if (drain()) return true;
  pollfd descriptor{PQsocket(conn_), POLLIN, 0};
  const int timeout_ms = static_cast<int>(std::max(0.0, timeout_s) * 1000.0);
  if (::poll(&descriptor, 1, timeout_ms) <= 0) return false;
  if (PQconsumeInput(conn_) == 0) fail("waiting for notifications", PQerrorMessage(conn_), nullptr);
  return drain();
}

}  // namespace volnode::sql
