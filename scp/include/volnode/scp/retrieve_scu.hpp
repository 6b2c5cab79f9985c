#pragma once
// Query/Retrieve SCU (Study Root): C-FIND at STUDY and SERIES level to learn what
// a peer holds for a study, and C-MOVE of a study or a series to a destination AE
// title (usually this node's own StoreScp).
//
// An unreachable peer, a refused association or a broken DIMSE exchange throw
// Error(Errc::Network) with a message naming the peer. A study the peer does not
// know is an expected outcome: findStudy() returns nullopt, findSeries() an empty
// list, and a move reports nothing_matched.
// Requires volnode::initDicomNetworking() (volnode/scp/dicom_network.hpp) once at start-up.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "volnode/core/config.hpp"
#include "volnode/scp/store_scu.hpp"  // ScuSettings

namespace volnode {

// What a peer answered to a STUDY-level C-FIND about a study it holds. (Named for
// the peer, apart from the pipeline's SeriesInfo, which describes received files.)
struct RemoteStudy {
  std::string study_instance_uid;
  std::string patient_id;
  std::string study_date;             // YYYYMMDD as the peer gave it
  std::string study_description;
  std::string accession_number;
  std::string modalities_in_study;    // backslash-separated, as in DICOM
  std::optional<int> number_of_series;     // NumberOfStudyRelatedSeries, when given
  std::optional<int> number_of_instances;  // NumberOfStudyRelatedInstances, when given
};

// What a peer answered to a SERIES-level C-FIND about a series it holds.
struct RemoteSeries {
  std::string study_instance_uid;     // the study it belongs to
  std::string patient_id;             // when the peer gave it (findSeriesByUid asks for it)
  std::string series_instance_uid;
  std::string modality;
  std::string series_description;
  std::optional<int> series_number;
  std::optional<int> number_of_instances;  // NumberOfSeriesRelatedInstances, when given
};

struct MoveResult {
  uint16_t status = 0;          // status of the final C-MOVE response
  std::string status_text;      // e.g. "Success", "Failed: UnableToProcess (0xC000)"
  int completed = 0;            // sub-operation counts of the final response
  int failed = 0;
  int warning = 0;
  int remaining = 0;
  bool nothing_matched = false; // the peer has no such study/series (checked by C-FIND when a move fails empty)
  std::vector<std::string> failed_sop_instance_uids;  // when the peer listed them

  // Final status Success and every sub-operation completed.
  bool ok() const { return status == 0x0000 && failed == 0 && !nothing_matched; }
};

class RetrieveScu {
 public:
  explicit RetrieveScu(ScuSettings settings);

  // STUDY-level C-FIND for one StudyInstanceUID; nullopt when the peer has none.
  std::optional<RemoteStudy> findStudy(const Destination& peer, const std::string& study_uid) const;

  // SERIES-level C-FIND: the series of a study; empty when the peer has none.
  std::vector<RemoteSeries> findSeries(const Destination& peer, const std::string& study_uid) const;

  // SERIES-level C-FIND by SeriesInstanceUID alone, asking for StudyInstanceUID,
  // PatientID, Modality and NumberOfSeriesRelatedInstances: where a series lives
  // when only its UID is known; nullopt when the peer has no such series. The
  // StudyInstanceUID key is empty (universal), which a strictly hierarchical SCP
  // may refuse (it then answers a failure status, thrown as Error(Network)).
  std::optional<RemoteSeries> findSeriesByUid(const Destination& peer, const std::string& series_uid) const;

  // C-MOVE to `move_destination_aet` (an AE title the peer knows). Returns when
  // the peer sends its final response; the DIMSE timeout applies to each response.
  // A move that fails before any sub-operation is followed by a C-FIND, so that
  // an unknown study/series is reported as nothing_matched rather than a bare status.
  MoveResult moveStudy(const Destination& peer, const std::string& study_uid,
                       const std::string& move_destination_aet) const;
  MoveResult moveSeries(const Destination& peer, const std::string& study_uid, const std::string& series_uid,
                        const std::string& move_destination_aet) const;

 private:
  ScuSettings settings_;
};

}  // namespace volnode
