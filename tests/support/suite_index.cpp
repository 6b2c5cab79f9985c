#include "support/suite_index.hpp"

#include <libpq-fe.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <map>
#include <mutex>
#include <stdexcept>

#include "support/postgres_server.hpp"
#include "support/process.hpp"

namespace volnode::test {
namespace {

using namespace std::chrono_literals;

// The server's URL with another database in its path (the query, if any, kept).
std::string withDatabase(const std::string& url, const std::string& database) {
  const auto scheme = url.find("://");
  const auto path = url.find('/', scheme == std::string::npos ? 0 : scheme + 3);
  const auto query = url.find('?');
  if (path == std::string::npos || (query != std::string::npos && path > query))
    return url.substr(0, query) + "/" + database + (query == std::string::npos ? "" : url.substr(query));
  return url.substr(0, path) + "/" + database + (query == std::string::npos ? "" : url.substr(query));
}

// The server the suite's databases live on: VOLNODE_TEST_POSTGRES_URL (a superuser, or a
// role allowed CREATE DATABASE), else this executable's own server.
std::string serverUrl() {
  if (const char* url = std::getenv("VOLNODE_TEST_POSTGRES_URL"); url && *url) return url;
  return sharedPostgres().url();
}

// Runs SQL and returns the rows in sqlite3's output format; throws with the server's message.
std::string execute(const std::string& url, const std::string& sql) {
  PGconn* conn = PQconnectdb(url.c_str());
  if (PQstatus(conn) != CONNECTION_OK) {
    std::string message = PQerrorMessage(conn);
    PQfinish(conn);
    throw std::runtime_error("cannot connect to the suite's PostgreSQL: " + message);
  }
  PGresult* result = PQexec(conn, sql.c_str());
  const auto status = PQresultStatus(result);
  std::string rows;
  if (status == PGRES_TUPLES_OK) {
    for (int r = 0; r < PQntuples(result); ++r) {
      for (int c = 0; c < PQnfields(result); ++c) {
        if (c > 0) rows += '|';
        if (!PQgetisnull(result, r, c)) rows += PQgetvalue(result, r, c);
      }
      rows += '\n';
    }
  }
  std::string message = PQresultErrorMessage(result);
  PQclear(result);
  PQfinish(conn);
  if (status != PGRES_TUPLES_OK && status != PGRES_COMMAND_OK)
    throw std::runtime_error("SQL failed on the suite's PostgreSQL: " + sql + ": " + message);
  return rows;
}

// A name the storage folder always gets (a node restarted on it finds its index again):
// the folders are temporary and unique, so a hash of the path tells them apart.
std::string databaseNameFor(const std::filesystem::path& storage_dir) {
  const std::string path = std::filesystem::absolute(storage_dir).lexically_normal().string();
  uint64_t hash = 1469598103934665603ull;  // FNV-1a
  for (unsigned char c : path) hash = (hash ^ c) * 1099511628211ull;
  char name[32];
  std::snprintf(name, sizeof name, "volnode_test_%016llx", static_cast<unsigned long long>(hash));
  return name;
}

// The databases this executable created, dropped when it exits (WITH (FORCE): a worker
// process that outlived its test may still hold a connection).
class SuiteDatabases {
 public:
  explicit SuiteDatabases(std::string server) : server_(std::move(server)) {}
  ~SuiteDatabases() {
    for (const auto& [name, url] : urls_) {
      try {
        execute(withDatabase(server_, "postgres"), "DROP DATABASE IF EXISTS " + name + " WITH (FORCE)");
      } catch (const std::exception& e) {
        std::cerr << "test database " << name << " left behind: " << e.what() << "\n";
      }
    }
  }

  std::string urlFor(const std::filesystem::path& storage_dir) {
    std::lock_guard<std::mutex> hold(mutex_);
    const std::string name = databaseNameFor(storage_dir);
    if (auto known = urls_.find(name); known != urls_.end()) return known->second;
    // One left by an earlier run that crashed on a folder of the same name belongs to nobody.
    const std::string admin = withDatabase(server_, "postgres");
    execute(admin, "DROP DATABASE IF EXISTS " + name + " WITH (FORCE)");
    execute(admin, "CREATE DATABASE " + name);
    return urls_[name] = withDatabase(server_, name);
  }

 private:
  std::string server_;
  std::mutex mutex_;
  std::map<std::string, std::string> urls_;
};

SuiteDatabases& suiteDatabases() {
  // The server first, so that it outlives the registry (statics end in reverse order).
  static const std::string server = serverUrl();
  static SuiteDatabases databases(server);
  return databases;
}

}  // namespace

bool suiteOnPostgresql() {
  static const bool on_postgresql = [] {
    const char* value = std::getenv("VOLNODE_TEST_INDEX_BACKEND");
    const std::string backend = value ? value : "";
    if (backend.empty() || backend == "sqlite") return false;
    if (backend == "postgresql") return true;
    std::cerr << "VOLNODE_TEST_INDEX_BACKEND=" << backend << ": expected \"sqlite\" or \"postgresql\"\n";
    std::exit(2);
  }();
  return on_postgresql;
}

std::string suitePostgresUrl(const std::filesystem::path& storage_dir) {
  if (!suiteOnPostgresql()) return {};
  return suiteDatabases().urlFor(storage_dir);
}

std::vector<std::string> suiteIndexOverrides(const std::filesystem::path& storage_dir) {
  if (!suiteOnPostgresql()) return {};
  return {"index.backend=postgresql", "index.url=" + suitePostgresUrl(storage_dir)};
}

std::vector<std::string> withSuiteIndexArgs(std::vector<std::string> argv, const std::filesystem::path& storage_dir) {
  for (const auto& o : suiteIndexOverrides(storage_dir)) {
    argv.push_back("--set");
    argv.push_back(o);
  }
  return argv;
}

std::string suiteIndexQuery(const std::filesystem::path& storage_dir, const std::string& sql) {
  if (suiteOnPostgresql()) return execute(suitePostgresUrl(storage_dir), sql);
  const auto index_file = storage_dir / "index.sqlite";
  auto result = run({"sqlite3", "-readonly", "-batch", "-noheader", "-separator", "|", index_file.string(), sql}, 30s);
  if (result.exit_code != 0)
    throw std::runtime_error("sqlite3 failed on " + index_file.string() + ": " + result.output);
  return result.output;
}

}  // namespace volnode::test
