#pragma once
// "Deliver these files to destination X", whatever the transport: C-STORE for DIMSE
// destinations, STOW-RS for DICOMweb ones. The send worker keeps the policy that is
// the same for both (resume, back-off with jitter, attempt limit, refusal cache) and
// reads one kind of report: a STOW-RS FailureReason or WarningReason is a DICOM
// status like a C-STORE response status, so the same status rules apply to both.
#include <filesystem>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "volnode/core/config.hpp"
#include "volnode/scp/store_scu.hpp"

namespace volnode {

class ObjectDelivery {
 public:
  virtual ~ObjectDelivery() = default;
  // One FileSendResult per file, in order. SOP classes in `known_refused` are not
  // offered; their files come back NotAccepted. A failure of the whole exchange
  // (no association, HTTP 401, 503, timeout) is in `association`/`association_error`.
  virtual SendReport deliver(const std::vector<std::filesystem::path>& files,
                             const std::set<std::string>& known_refused) = 0;
  // The peer, for messages: "AET@host:port" or the DICOMweb url.
  virtual std::string peerDescription() const = 0;
};

// The transport that `destination.type` names; for DIMSE, `destination.associations`
// associations in parallel, the files split across them.
std::unique_ptr<ObjectDelivery> makeObjectDelivery(const Destination& destination, const std::string& calling_aet);

// Checks a destination's settings before the first send (TLS files, DICOMweb url and
// secret files); throws Error(InvalidConfig) naming the key.
void checkDeliverySettings(const Destination& destination);

}  // namespace volnode
