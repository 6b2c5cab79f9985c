#pragma once
// The suite's index (support/suite_index.hpp) as an IndexLocation, for tests that open
// the index in-process (they link volnode_storage): <dir>/index.sqlite by default, a
// database of its own on the PostgreSQL suite.
#include <filesystem>

#include "support/suite_index.hpp"
#include "volnode/storage/index_location.hpp"

namespace volnode::test {

inline IndexLocation suiteIndexLocation(const std::filesystem::path& dir) {
  const std::string url = suitePostgresUrl(dir);
  return url.empty() ? IndexLocation(dir / "index.sqlite") : IndexLocation::postgresql(url);
}

}  // namespace volnode::test
