#pragma once
// One error type for the whole node. Expected outcomes are return values;
// an Error ends the operation it was thrown from and is translated exactly once
// at a boundary (DIMSE status, HTTP status, job state).
#include <stdexcept>
#include <string>
#include <string_view>

namespace volnode {

enum class Errc {
  InvalidConfig,       // configuration file or --set override is wrong
  InvalidArgument,     // a caller passed something that cannot be used
  NotFound,            // a UID, job or file that does not exist
  Io,                  // file system failure (open, write, fsync, rename)
  OutOfSpace,          // below the free-space watermark or disk full
  Database,            // SQLite failure
  SchemaTooNew,        // the index was written by a newer volnode
  InvalidDicom,        // data that cannot be parsed or is not what it claims
  NotAVolume,          // a series that cannot be assembled into a volume
  Network,             // association / DIMSE failure towards a peer
  Render,              // rendering failed (no display, OpenGL error)
  Unsupported,         // a feature or syntax this build cannot handle
  Internal,            // a bug: an invariant did not hold
};

std::string_view errcName(Errc code) noexcept;

class Error : public std::runtime_error {
 public:
  Error(Errc code, const std::string& message) : std::runtime_error(message), code_(code) {}
  Errc code() const noexcept { return code_; }

 private:
  Errc code_;
};

}  // namespace volnode
