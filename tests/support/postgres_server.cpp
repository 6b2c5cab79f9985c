#include "support/postgres_server.hpp"

#include <libpq-fe.h>
#include <csignal>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

namespace volnode::test {
namespace {

using namespace std::chrono_literals;

// PostgreSQL will not run as root; tests in CI do. `nobody` exists on every Debian system.
constexpr const char* kUnprivilegedUser = "nobody";
constexpr const char* kUnprivilegedGroup = "nogroup";

std::vector<std::string> asServerUser(std::vector<std::string> argv) {
  if (::geteuid() != 0) return argv;
  std::vector<std::string> wrapped{"setpriv", std::string("--reuid=") + kUnprivilegedUser,
                                   std::string("--regid=") + kUnprivilegedGroup, "--clear-groups", "--"};
  wrapped.insert(wrapped.end(), argv.begin(), argv.end());
  return wrapped;
}

void handToServerUser(const std::filesystem::path& path) {
  if (::geteuid() != 0) return;
  auto result = run({"chown", "-R", std::string(kUnprivilegedUser) + ":" + kUnprivilegedGroup, path.string()});
  if (result.exit_code != 0) throw std::runtime_error("chown " + path.string() + " failed: " + result.output);
}

std::string readFile(const std::filesystem::path& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

}  // namespace

std::filesystem::path postgresBinDir() {
  if (const char* dir = std::getenv("VOLNODE_PG_BINDIR")) return dir;
  return "/usr/lib/postgresql/15/bin";
}

PostgresServer::PostgresServer() : dir_(std::make_unique<TempDir>("volnode-pg")) {
  const auto bin = postgresBinDir();
  if (!std::filesystem::exists(bin / "initdb"))
    throw std::runtime_error("no PostgreSQL at " + bin.string() +
                             " (scripts/install-deps.sh --tests installs postgresql-15; VOLNODE_PG_BINDIR names another)");
  std::filesystem::permissions(dir_->path(), std::filesystem::perms::owner_all | std::filesystem::perms::group_exec |
                                                 std::filesystem::perms::others_exec);
  std::filesystem::create_directories(dir_->path() / "data");
  handToServerUser(dir_->path() / "data");
  // --no-sync and fsync=off below: a test server's data need not survive a power loss.
  auto init = run(asServerUser({(bin / "initdb").string(), "-D", (dir_->path() / "data").string(), "-U", "volnode",
                                "--auth=trust", "-E", "UTF8", "--locale=C", "--no-sync"}),
                  120s);
  if (init.exit_code != 0) throw std::runtime_error("initdb failed: " + init.output);
  port_ = freePort();
  start();
  execute("CREATE DATABASE volnode");
}

void PostgresServer::start() {
  const auto bin = postgresBinDir();
  const auto log = dir_->path() / "server.log";
  server_ = std::make_unique<ChildProcess>(
      asServerUser({(bin / "postgres").string(), "-D", (dir_->path() / "data").string(), "-p", std::to_string(port_),
                    "-c", "listen_addresses=127.0.0.1", "-c", "unix_socket_directories=" + (dir_->path() / "data").string(),
                    "-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off",
                    "-c", "max_connections=200"}),
      log);
  for (int i = 0; i < 300; ++i) {
    if (!server_->running()) break;
    PGPing ping = PQping(("postgresql://volnode@127.0.0.1:" + std::to_string(port_) + "/postgres").c_str());
    if (ping == PQPING_OK) return;
    std::this_thread::sleep_for(100ms);
  }
  throw std::runtime_error("postgres did not start on port " + std::to_string(port_) + ":\n" + readFile(log));
}

// SIGINT is PostgreSQL's fast shutdown (SIGTERM would wait for every client to leave).
void PostgresServer::stop() {
  if (!server_ || !server_->running()) return;
  ::kill(server_->pid(), SIGINT);
  if (server_->wait(30s) == -1) server_->kill9();
}

PostgresServer::~PostgresServer() { stop(); }

void PostgresServer::restart() {
  stop();
  start();
}

std::string PostgresServer::url() const {
  return "postgresql://volnode@127.0.0.1:" + std::to_string(port_) + "/volnode";
}

std::string PostgresServer::freshSchema() {
  const std::string schema = "test_" + std::to_string(::getpid()) + "_" + std::to_string(++schemas_);
  execute("CREATE SCHEMA " + schema);
  return schema;
}

std::string PostgresServer::schemaUrl(const std::string& schema) const {
  return url() + "?options=-csearch_path%3D" + schema;
}

void PostgresServer::execute(const std::string& sql) const {
  const std::string database = sql.rfind("CREATE DATABASE", 0) == 0 ? "postgres" : "volnode";
  PGconn* conn = PQconnectdb(("postgresql://volnode@127.0.0.1:" + std::to_string(port_) + "/" + database).c_str());
  if (PQstatus(conn) != CONNECTION_OK) {
    std::string message = PQerrorMessage(conn);
    PQfinish(conn);
    throw std::runtime_error("cannot connect to the test server: " + message);
  }
  PGresult* result = PQexec(conn, sql.c_str());
  const bool ok = PQresultStatus(result) == PGRES_COMMAND_OK || PQresultStatus(result) == PGRES_TUPLES_OK;
  std::string message = ok ? "" : PQresultErrorMessage(result);
  PQclear(result);
  PQfinish(conn);
  if (!ok) throw std::runtime_error("SQL failed on the test server: " + sql + ": " + message);
}

PostgresServer& sharedPostgres() {
  static PostgresServer server;
  return server;
}

}  // namespace volnode::test
