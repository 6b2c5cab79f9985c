#pragma once
// The SQLite backend: the embedded index file, in WAL mode.
#include <filesystem>

#include "connection.hpp"

struct sqlite3;

namespace volnode::sql {

class SqliteConnection : public Connection {
 public:
  // Opens (creating if asked) the database in WAL mode with a busy timeout.
  SqliteConnection(const std::filesystem::path& path, bool create, Synchronous synchronous = Synchronous::Full);
  // Opens an existing database read-only (its journal mode is the writer's).
  SqliteConnection(const std::filesystem::path& path, ReadOnly);
  ~SqliteConnection() override;

  void exec(std::string_view sql) override;
  Statement prepare(std::string_view sql) override;
  int changes() const override;
  void begin() override;
  bool inTransaction() const override;
  std::string describe() const override { return path_.string(); }
  sqlite3* handle() { return db_; }

 private:
  sqlite3* db_ = nullptr;
  std::filesystem::path path_;
};

}  // namespace volnode::sql
