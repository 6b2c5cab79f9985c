#pragma once
// A real PostgreSQL 15 server for tests: initdb into a temporary folder, postgres
// on a free loopback port (its unix socket in that folder too), stopped by pid.
// PostgreSQL refuses to run as root: when the tests run as root (CI), initdb and
// the server run as `nobody` (setpriv), and the folder is handed to that user.
// Start one per test executable (sharedPostgres()), and give each test a schema
// of its own (freshSchemaUrl()), which costs a few milliseconds instead of a start.
#include <filesystem>
#include <memory>
#include <string>

#include "support/process.hpp"

namespace volnode::test {

class PostgresServer {
 public:
  PostgresServer();  // throws std::runtime_error, with the server's log, when it cannot start
  ~PostgresServer();
  PostgresServer(const PostgresServer&) = delete;
  PostgresServer& operator=(const PostgresServer&) = delete;

  int port() const { return port_; }
  // postgresql://volnode@127.0.0.1:<port>/volnode (trust authentication, loopback only).
  std::string url() const;
  // A new, empty schema (for one test) and the URL whose connections see only it (search_path).
  std::string freshSchema();
  std::string schemaUrl(const std::string& schema) const;
  std::string freshSchemaUrl() { return schemaUrl(freshSchema()); }
  // Runs SQL as the superuser; throws with the server's message on error.
  void execute(const std::string& sql) const;
  // Stops the server (a fast shutdown: clients are disconnected) and starts it again on the same port and data.
  void restart();
  // Stops the server by its pid (fast shutdown), e.g. for an outage; start() brings it
  // back on the same port and data.
  void stop();
  void start();

 private:
  std::unique_ptr<TempDir> dir_;
  std::unique_ptr<ChildProcess> server_;
  int port_ = 0;
  int schemas_ = 0;
};

// The server of this test executable, started at the first call and stopped at exit.
PostgresServer& sharedPostgres();

// Where the PostgreSQL programs are (VOLNODE_PG_BINDIR, else Debian's /usr/lib/postgresql/15/bin).
std::filesystem::path postgresBinDir();

}  // namespace volnode::test
