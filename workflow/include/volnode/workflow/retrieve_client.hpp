#pragma once
// What a retrieval asks of a peer: which series it holds (C-FIND) and to move a
// study or one series to this node (C-MOVE). The node talks DICOM
// (dicomRetrieveClient); tests answer in process.
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "volnode/core/config.hpp"
#include "volnode/scp/retrieve_scu.hpp"

namespace volnode {

class RetrieveClient {
 public:
  virtual ~RetrieveClient() = default;
  // The series of a study the peer holds; empty when it has none.
  virtual std::vector<RemoteSeries> findSeries(const Destination& peer, const std::string& study_uid) = 0;
  // A series by its UID alone (tells its study); nullopt when the peer has none.
  virtual std::optional<RemoteSeries> findSeriesByUid(const Destination& peer, const std::string& series_uid) = 0;
  // Moves the study (`series_uid` empty) or one of its series to `move_destination_aet`.
  virtual MoveResult move(const Destination& peer, const std::string& study_uid, const std::string& series_uid,
                          const std::string& move_destination_aet) = 0;
};
// Each call throws Error(Errc::Network) when the peer cannot be asked,
// Error(Errc::InvalidArgument) for a request it can never answer.

// Query/Retrieve over DICOM, calling as `calling_aet`.
std::unique_ptr<RetrieveClient> dicomRetrieveClient(const std::string& calling_aet);

}  // namespace volnode
