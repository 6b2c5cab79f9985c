#include "volnode/storage/index_location.hpp"

#include <cstdlib>
#include <fstream>
#include <regex>

#include "volnode/core/config.hpp"
#include "volnode/core/error.hpp"

namespace volnode {

IndexLocation IndexLocation::postgresql(std::string url, std::string password) {
  IndexLocation location;
  location.backend = IndexBackend::Postgresql;
  location.url = std::move(url);
  location.password = std::move(password);
  return location;
}

std::string IndexLocation::describe() const {
  return backend == IndexBackend::Sqlite ? sqlite_path.string() : redactDatabaseUrl(url);
}

std::vector<std::filesystem::path> IndexLocation::files() const {
  if (backend != IndexBackend::Sqlite) return {};
  std::vector<std::filesystem::path> files;
  for (const char* suffix : {"", "-wal", "-shm", "-journal"}) files.emplace_back(sqlite_path.string() + suffix);
  return files;
}

std::string redactDatabaseUrl(const std::string& url) {
  // postgresql://user:secret@host -> postgresql://user:***@host; ...password=secret -> password=***
  static const std::regex userinfo(R"(^([a-zA-Z]+://[^:/@?]*):[^@/?]*@)");
  static const std::regex parameter(R"(([?&\s]password\s*=\s*)[^&\s]*)", std::regex::icase);
  std::string out = std::regex_replace(url, userinfo, "$1:***@");
  return std::regex_replace(out, parameter, "$1***");
}

IndexLocation indexLocationOf(const Config& config) {
  if (config.index.backend != "postgresql")
    return IndexLocation(std::filesystem::path(config.storage.dir) / "index.sqlite");
  std::string password;
  if (!config.index.password_file.empty()) {
    std::ifstream in(config.index.password_file);
    if (!in || !std::getline(in, password))
      throw Error(Errc::InvalidConfig, "index.password_file " + config.index.password_file +
                                           " cannot be read (its first line is the database password)");
    while (!password.empty() && (password.back() == '\r' || password.back() == ' ')) password.pop_back();
  } else if (const char* environment = std::getenv("PGPASSWORD")) {
    password = environment;
  }
  return IndexLocation::postgresql(config.index.url, password);
}

IndexSync indexSyncOf(const Config& config) {
  return config.storage.index_sync == "normal" ? IndexSync::Normal : IndexSync::Full;
}

}  // namespace volnode
