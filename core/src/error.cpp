#include "volnode/core/error.hpp"

namespace volnode {

std::string_view errcName(Errc code) noexcept {
  switch (code) {
    case Errc::InvalidConfig: return "invalid configuration";
    case Errc::InvalidArgument: return "invalid argument";
    case Errc::NotFound: return "not found";
    case Errc::Io: return "i/o error";
    case Errc::OutOfSpace: return "out of space";
    case Errc::Database: return "database error";
    case Errc::SchemaTooNew: return "schema too new";
    case Errc::InvalidDicom: return "invalid DICOM";
    case Errc::NotAVolume: return "not a volume";
    case Errc::Network: return "network error";
    case Errc::Render: return "render error";
    case Errc::Unsupported: return "unsupported";
    case Errc::Internal: return "internal error";
  }
  return "unknown error";
}

}  // namespace volnode
