#pragma once
// Where the index and the job queue live: an embedded SQLite file (the default,
// no server needed) or a PostgreSQL database shared by several processes and hosts.
#include <filesystem>
#include <string>
#include <vector>

#include "volnode/storage/records.hpp"

namespace volnode {

struct Config;

enum class IndexBackend { Sqlite, Postgresql };

struct IndexLocation {
  IndexBackend backend = IndexBackend::Sqlite;
  std::filesystem::path sqlite_path;  // Sqlite
  std::string url;                    // Postgresql: "postgresql://user@host:port/db?..." (libpq URI)
  std::string password;               // Postgresql: given to libpq apart from the URL, never logged

  IndexLocation() = default;
  // A SQLite file; implicit so that every place that names an index file keeps working.
  IndexLocation(std::filesystem::path path) : sqlite_path(std::move(path)) {}  // NOLINT(google-explicit-constructor)
  static IndexLocation postgresql(std::string url, std::string password = {});

  // For logs and error messages: the file path, or the URL with any password removed.
  std::string describe() const;
  // The files a process using this index writes (a sandbox lets it write these): the
  // SQLite file with its -wal, -shm and -journal companions; none for PostgreSQL.
  std::vector<std::filesystem::path> files() const;
};

// A libpq URL with the password part (user:password@ or password=...) replaced by "***".
std::string redactDatabaseUrl(const std::string& url);

// The location a configuration names: <storage.dir>/index.sqlite, or index.url with the
// password read from index.password_file (first line) or the PGPASSWORD environment.
// Error(Errc::InvalidArgument) when the password file cannot be read.
IndexLocation indexLocationOf(const Config& config);
// storage.index_sync as the index takes it: "normal", else the default full sync.
IndexSync indexSyncOf(const Config& config);

}  // namespace volnode
