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

  pg_conn* handle() { return conn_; }
  void setChanges(int changes) { changes_ = changes; }
  // Error(Errc::Database) with `what`, the server's message and the redacted URL.
  [[noreturn]] void fail(const std::string& what, const std::string& server_message, const char* sqlstate) const;

 private:
  pg_conn* conn_ = nullptr;
  std::string described_;
  int changes_ = 0;
};

}  // namespace volnode::sql
