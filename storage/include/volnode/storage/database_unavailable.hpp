#pragma once
// The index's database server cannot be reached (PostgreSQL stopped, restarting,
// out of reach, or refusing connections): an outage, not an outcome. Thrown by the
// PostgreSQL backend as an Error(Errc::Database) of this type, so code that handles
// database errors keeps doing so, and the loops that can wait for the database
// (ingest, workers, start-up) tell it apart with isDatabaseUnavailable().
#include <exception>
#include <string>

#include "volnode/core/error.hpp"

namespace volnode {

class DatabaseUnavailable : public Error {
 public:
  explicit DatabaseUnavailable(const std::string& message) : Error(Errc::Database, message) {}
};

inline bool isDatabaseUnavailable(const std::exception& e) noexcept {
  return dynamic_cast<const DatabaseUnavailable*>(&e) != nullptr;
}

}  // namespace volnode
