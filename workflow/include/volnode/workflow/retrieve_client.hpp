#pragma once
// What a retrieval asks of a peer: which series it holds (C-FIND, or QIDO-RS) and
// to bring a study or one series to this node (C-MOVE, or WADO-RS). The node talks
// to each peer in its own protocol (retrieveClientPerPeerType); tests answer in
// process.
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "volnode/core/config.hpp"
#include "volnode/scp/retrieve_scu.hpp"

namespace volnode {

class InstanceSink;

// Told how far a retrieval got (a stage for the job list, a percentage); false
// when the job is no longer the caller's (canceled): the retrieval stops.
using RetrieveProgress = std::function<bool(const std::string& stage, double percent)>;

class RetrieveClient {
 public:
  virtual ~RetrieveClient() = default;
  // The series of a study the peer holds; empty when it has none.
  virtual std::vector<RemoteSeries> findSeries(const Destination& peer, const std::string& study_uid) = 0;
  // A series by its UID alone (tells its study); nullopt when the peer has none.
  virtual std::optional<RemoteSeries> findSeriesByUid(const Destination& peer, const std::string& series_uid) = 0;
  // Brings the study (`series_uid` empty) or one of its series here: a C-MOVE to
  // `move_destination_aet`, or a WADO-RS retrieve kept as received instances.
  virtual MoveResult move(const Destination& peer, const std::string& study_uid, const std::string& series_uid,
                          const std::string& move_destination_aet, const RetrieveProgress& progress) = 0;
};
// Each call throws Error(Errc::Network) when the peer cannot be asked,
// Error(Errc::InvalidArgument) for a request it can never answer.

// Query/Retrieve over DICOM, calling as `calling_aet`.
std::unique_ptr<RetrieveClient> dicomRetrieveClient(const std::string& calling_aet);

// QIDO-RS and WADO-RS from DICOMweb archives. Each retrieved instance goes to
// `sink` as one received over DICOM does (same checks, index, completion), within
// one "association" per retrieval whose calling AE title is the peer's name.
// A WADO-RS answer that names no failed instance but breaks off is a failed move.
std::unique_ptr<RetrieveClient> dicomWebRetrieveClient(InstanceSink& sink, const std::string& node_aet);

// Asks DIMSE peers through `dimse`, DICOMweb peers (type = "dicomweb") through `web`.
std::unique_ptr<RetrieveClient> retrieveClientPerPeerType(std::unique_ptr<RetrieveClient> dimse,
                                                          std::unique_ptr<RetrieveClient> web);

}  // namespace volnode
