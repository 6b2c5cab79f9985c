#pragma once
// The PostgreSQL backend (libpq): one server connection. Statements are sent with
// their parameters at the first step (PQexecParams, text format); parameters carry
// their type (bigint, double precision, or unknown for text, which the server
// resolves from the column it meets).
#include <string>

#include "connection.hpp"

struct pg_conn;

namespace volnode::sql {

class PostgresConnection : public Connection {
 public:
  // Connects to location.url (password apart from it). A read-only connection's
  // transactions cannot write.
  PostgresConnection(const IndexLocation& location, bool read_only);
  ~PostgresConnection() override;

  void exec(std::string_view sql) override;
  Statement prepare(std::string_view sql) override;
  int changes() const override { return changes_; }
  void begin() override;
  bool inTransaction() const override;
  std::string describe() const override { return described_; }

  // LISTEN/NOTIFY: waits up to `timeout_s` for a notification on a channel this
  // connection listens to; true when one (or more) arrived.
  bool waitForNotification(double timeout_s);

  // A session the server dropped (restart, network) is opened again before the next
  // statement; Error(Errc::Database) while the server is away, and once when the loss
  // interrupted a transaction (never a statement of it run on the new session).
  void reconnectIfLost();
  // Whether a statement that failed because the session was lost may be sent again on
  // a new one: only outside a transaction, and only when it changes nothing (BEGIN, a
  // read); a write whose reply was lost may have been done.
  bool mayRetryOnNewSession(bool statement_changes_nothing) const;

  pg_conn* handle() { return conn_; }
  void setChanges(int changes) { changes_ = changes; }
  // Error(Errc::Database) with `what`, the server's message and the redacted URL.
  [[noreturn]] void fail(const std::string& what, const std::string& server_message, const char* sqlstate) const;

 private:
  void configureSession();
  std::string lastError() const;

  pg_conn* conn_ = nullptr;
  std::string described_;
  bool read_only_ = false;
  mutable bool transaction_open_ = false;  // between begin() and COMMIT/ROLLBACK (fail() ends it with the session)
  int changes_ = 0;
};

}  // namespace volnode::sql
