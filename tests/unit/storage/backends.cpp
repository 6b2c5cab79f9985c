#include "backends.hpp"

#include "support/postgres_server.hpp"

namespace volnode::test {

IndexLocation freshIndex(Backend backend, const std::filesystem::path& dir) {
  if (backend == Backend::Sqlite) return IndexLocation(dir / "index.sqlite");
  return IndexLocation::postgresql(sharedPostgres().freshSchemaUrl());
}

std::string backendName(const ::testing::TestParamInfo<Backend>& info) {
  return info.param == Backend::Sqlite ? "Sqlite" : "Postgresql";
}

}  // namespace volnode::test
