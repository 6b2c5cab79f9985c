#pragma once
// The index backend the suite's nodes run on. By default SQLite (<storage.dir>/index.sqlite,
// the node's own default). With VOLNODE_TEST_INDEX_BACKEND=postgresql every node, worker
// and index a test starts is on PostgreSQL instead: one database per storage folder
// (created at first use, dropped when the test executable exits), on the server that
// VOLNODE_TEST_POSTGRES_URL names (scripts/test-postgresql-suite.sh starts one for the whole
// run) or else on one this executable starts (support/postgres_server.hpp).
// A node restarted on the same folder finds the same database, as it would find its file.
#include <filesystem>
#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace volnode::test {

// True when VOLNODE_TEST_INDEX_BACKEND is "postgresql"; any value other than that or
// "sqlite" stops the test executable with a message naming it.
bool suiteOnPostgresql();

// --set overrides that put the index of the node whose storage.dir is `storage_dir` on the
// suite's backend: none on SQLite, index.backend and index.url on PostgreSQL.
std::vector<std::string> suiteIndexOverrides(const std::filesystem::path& storage_dir);

// A volnode command line with those overrides appended as --set KEY=VALUE, for tests that
// start `volnode serve` or another command themselves.
std::vector<std::string> withSuiteIndexArgs(std::vector<std::string> argv, const std::filesystem::path& storage_dir);

// On PostgreSQL the URL of that database (for tests that open the index in-process:
// IndexLocation::postgresql(url)); "" on SQLite.
std::string suitePostgresUrl(const std::filesystem::path& storage_dir);

// Runs `sql` on that index and returns the rows as the sqlite3 tool prints them: one line
// per row, columns separated by '|', NULL as nothing. SQLite is read with `sqlite3 -readonly`
// (WAL readers never block the node); throws std::runtime_error when the query fails.
std::string suiteIndexQuery(const std::filesystem::path& storage_dir, const std::string& sql);

}  // namespace volnode::test

// For tests about SQLite itself (its file, lock, log): skipped on the PostgreSQL suite, naming why.
#define VOLNODE_SKIP_ON_POSTGRESQL(why)                                     \
  if (::volnode::test::suiteOnPostgresql())                                 \
  GTEST_SKIP() << "not on the PostgreSQL index backend: " << why
