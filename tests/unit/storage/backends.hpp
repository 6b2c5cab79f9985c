#pragma once
// Storage tests that run on both index backends: SQLite (a file in a temporary
// folder) and PostgreSQL (a schema of its own on the test executable's server,
// support/postgres_server.hpp). ctest runs the PostgreSQL cases as one test
// `test_storage.postgresql` (label `postgresql`), so the server starts once.
#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include "volnode/storage/index_location.hpp"

namespace volnode::test {

enum class Backend { Sqlite, Postgresql };

// A fresh, empty index of `backend`: <dir>/index.sqlite, or a new schema.
IndexLocation freshIndex(Backend backend, const std::filesystem::path& dir);

std::string backendName(const ::testing::TestParamInfo<Backend>& info);

}  // namespace volnode::test

// Instantiates a TEST_P suite whose parameter is a Backend for both backends.
#define VOLNODE_ON_BOTH_BACKENDS(Suite)                                                                        \
  INSTANTIATE_TEST_SUITE_P(Backends, Suite,                                                                    \
                           ::testing::Values(::volnode::test::Backend::Sqlite,                                  \
                                             ::volnode::test::Backend::Postgresql),                             \
                           ::volnode::test::backendName)
