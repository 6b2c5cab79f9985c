#include "volnode/scp/dicom_network.hpp"

#include <cstdlib>
#include <mutex>

#include <dcmtk/dcmnet/dul.h>
#include <dcmtk/dcmtls/tlslayer.h>
#include <dcmtk/oflog/oflog.h>

namespace volnode {

void initDicomNetworking() {
  static std::once_flag once;
  std::call_once(once, [] {
    ::setenv("TCP_NODELAY", "1", 1);
    dcmDisableGethostbyaddr.set(OFTrue);
    DcmTLSTransportLayer::initializeOpenSSL();
    OFLog::configure(OFLogger::ERROR_LOG_LEVEL);
  });
}

}  // namespace volnode
