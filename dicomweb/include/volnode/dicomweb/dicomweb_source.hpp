#pragma once
// Retrieval from a DICOMweb archive (a `sources.<name>` or `destinations.<name>` of
// type "dicomweb"): which series it holds by QIDO-RS, and the instances of a study
// or series by WADO-RS as multipart/related; type="application/dicom", in the
// transfer syntax the archive holds them in (transfer-syntax=*). The answer is read
// as it arrives and each instance written straight to a file the caller provides,
// so a study is never held in memory.
//
// Credentials and TLS are the destination's (url, username/password_file or
// token_file, tls_ca, tls_verify_host); secrets are read at each request and never
// appear in a message.
#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "volnode/core/config.hpp"

namespace volnode::dicomweb {

struct QidoSeries {
  std::string study_instance_uid;
  std::string patient_id;
  std::string series_instance_uid;
  std::string modality;
  std::string series_description;
  std::optional<int> series_number;
  std::optional<int> number_of_instances;  // NumberOfSeriesRelatedInstances, when given
};

// Where retrieved instances go, one file each.
class RetrievedInstances {
 public:
  virtual ~RetrievedInstances() = default;
  // A new instance begins: the file its bytes are written to.
  virtual std::filesystem::path begin() = 0;
  // Its bytes are all written (and the file closed): keep it. False when it was
  // not kept (invalid, no space...): counted as failed, the retrieval goes on.
  virtual bool complete() = 0;
  // The instance was cut off: drop the file.
  virtual void discard() = 0;
  // Asked after each instance: false stops the retrieval (canceled).
  virtual bool goOn() { return true; }
};

struct WadoReport {
  int kept = 0;             // instances complete() kept
  int not_kept = 0;         // instances complete() refused
  std::uint64_t bytes = 0;  // bytes of the instances received
  bool nothing_matched = false;  // HTTP 404/204: the archive has no such study/series
  bool canceled = false;         // goOn() said stop
  int http_status = 0;           // of the answer; 0 without one
  std::string error;             // "" when the whole answer was read
};

class DicomWebSource {
 public:
  explicit DicomWebSource(Destination source);

  // QIDO-RS {url}/studies/{uid}/series: the series the archive holds of a study
  // (empty when none). Throws Error(Network) when it cannot be asked or answers
  // an HTTP error, Error(InvalidConfig) when the settings cannot be used.
  std::vector<QidoSeries> seriesOfStudy(const std::string& study_uid) const;
  // QIDO-RS {url}/series?SeriesInstanceUID={uid}; nullopt when the archive has none.
  std::optional<QidoSeries> seriesByUid(const std::string& series_uid) const;

  // WADO-RS {url}/studies/{study}[/series/{series}]. Expected failures are in the
  // report, not thrown.
  WadoReport retrieve(const std::string& study_uid, const std::string& series_uid, RetrievedInstances& into) const;

 private:
  std::vector<QidoSeries> query(const std::string& path) const;

  Destination source_;
  std::string config_key_;
};

// Parses a QIDO-RS answer (application/dicom+json, an array of datasets) into
// series; entries without a Series Instance UID are left out. Throws
// Error(InvalidArgument) when the text is not such an array.
std::vector<QidoSeries> parseQidoSeries(const std::string& json_text);

}  // namespace volnode::dicomweb
