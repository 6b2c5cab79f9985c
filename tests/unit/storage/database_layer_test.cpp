// The parts of the database layer that make one SQL text run on both backends.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <unistd.h>

#include "database/placeholders.hpp"
#include "volnode/core/config.hpp"
#include "volnode/core/error.hpp"
#include "volnode/storage/index_location.hpp"

using namespace volnode;

TEST(Placeholders, AreNumberedAsSqliteNumbersThem) {
  std::vector<bool> used;
  EXPECT_EQ(sql::postgresPlaceholders("SELECT ? , ?", used), "SELECT $1 , $2");
  EXPECT_EQ(used, (std::vector<bool>{true, true}));
  // A bare ? after ?N is N + 1 (SQLite's rule), as claimNext's kind list relies on.
  EXPECT_EQ(sql::postgresPlaceholders("a = ?1 AND b = ?3 AND c IN (?, ?)", used),
            "a = $1 AND b = $3 AND c IN ($4, $5)");
  EXPECT_EQ(used, (std::vector<bool>{true, false, true, true, true}));
}

TEST(Placeholders, QuotedTextAndCommentsAreLeftAlone) {
  std::vector<bool> used;
  EXPECT_EQ(sql::postgresPlaceholders("SELECT '?', \"a?\", 'it''s ?' -- why?\n, ?", used),
            "SELECT '?', \"a?\", 'it''s ?' -- why?\n, $1");
  EXPECT_EQ(used.size(), 1u);
}

// Both dialects carry every version, so neither can fall behind (storage/sql/README.md).
TEST(Migrations, EveryVersionExistsForBothDialects) {
  auto versions = [](const std::filesystem::path& dir) {
    std::set<int> out;
    for (const auto& entry : std::filesystem::directory_iterator(dir))
      if (entry.path().extension() == ".sql") out.insert(std::stoi(entry.path().filename().string().substr(0, 3)));
    return out;
  };
  const std::filesystem::path sql = std::filesystem::path(VOLNODE_SOURCE_DIR) / "storage" / "sql";
  const auto sqlite = versions(sql);
  const auto postgresql = versions(sql / "postgresql");
  EXPECT_EQ(sqlite, postgresql) << "a migration lacks its SQLite or PostgreSQL file";
  ASSERT_FALSE(sqlite.empty());
  EXPECT_EQ(*sqlite.rbegin(), static_cast<int>(sqlite.size())) << "versions are consecutive from 1";
}

TEST(IndexLocation, PasswordsNeverAppearInDescriptions) {
  EXPECT_EQ(redactDatabaseUrl("postgresql://volnode:s3cret@db:5432/volnode"), "postgresql://volnode:***@db:5432/volnode");
  EXPECT_EQ(redactDatabaseUrl("postgresql://db/volnode?sslmode=require&password=s3cret"),
            "postgresql://db/volnode?sslmode=require&password=***");
  EXPECT_EQ(redactDatabaseUrl("postgresql://volnode@db/volnode"), "postgresql://volnode@db/volnode");
  EXPECT_EQ(IndexLocation::postgresql("postgresql://volnode@db/volnode", "s3cret").describe(),
            "postgresql://volnode@db/volnode");
}

// A worker's sandbox lets it write exactly these: the SQLite file with the companions
// SQLite creates beside it (WAL, shared memory, rollback journal), nothing on PostgreSQL.
TEST(IndexLocation, FilesAreTheSqliteFileAndItsCompanionsAndNoneOnPostgresql) {
  const IndexLocation sqlite(std::filesystem::path("/srv/volnode/index.sqlite"));
  EXPECT_EQ(sqlite.files(), (std::vector<std::filesystem::path>{"/srv/volnode/index.sqlite", "/srv/volnode/index.sqlite-wal",
                                                                 "/srv/volnode/index.sqlite-shm",
                                                                 "/srv/volnode/index.sqlite-journal"}));
  EXPECT_TRUE(IndexLocation::postgresql("postgresql://volnode@db/volnode").files().empty());
}

TEST(IndexLocation, ConfigurationChoosesTheBackendAndReadsThePasswordFile) {
  Config sqlite = parseConfig("[storage]\ndir = \"/srv/volnode\"\n", "test");
  EXPECT_EQ(indexLocationOf(sqlite).backend, IndexBackend::Sqlite);
  EXPECT_EQ(indexLocationOf(sqlite).sqlite_path, std::filesystem::path("/srv/volnode/index.sqlite"));

  const auto password_file = std::filesystem::temp_directory_path() / ("volnode-pw-" + std::to_string(::getpid()));
  {
    std::ofstream out(password_file);
    out << "pw-from-file\n";
  }
  Config pg = parseConfig("[index]\nbackend = \"postgresql\"\nurl = \"postgresql://volnode@db/volnode\"\n"
                          "password_file = \"" + password_file.string() + "\"\n",
                          "test");
  auto location = indexLocationOf(pg);
  std::filesystem::remove(password_file);
  EXPECT_EQ(location.backend, IndexBackend::Postgresql);
  EXPECT_EQ(location.url, "postgresql://volnode@db/volnode");
  EXPECT_EQ(location.password, "pw-from-file");

  EXPECT_THROW(parseConfig("[index]\nbackend = \"postgresql\"\n", "test"), Error) << "a URL is needed";
  EXPECT_THROW(parseConfig("[index]\nbackend = \"postgresql\"\nurl = \"postgresql://u:pw@db/v\"\n", "test"), Error)
      << "the password does not belong in the URL";
  EXPECT_THROW(parseConfig("[index]\nbackend = \"mysql\"\n", "test"), Error);
}
