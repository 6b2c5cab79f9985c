#pragma once
// QIDO-RS matching over the index (PS3.18 8.3.4): studies, series and instances the
// node received and, with a results root, the node's own results (the written outputs
// of render jobs, in their source's study), with the standard matching kinds the index
// can answer: single value, list of UIDs, wildcard (* and ?) and date range. Read-only,
// over its own read-only connection, so a DICOMweb client never waits for ingest.
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "volnode/storage/index_location.hpp"

namespace volnode {

enum class QidoLevel { Study, Series, Instance };

// The attributes a query may match on (each maps to one indexed column).
enum class QidoKey {
  StudyInstanceUID, PatientID, PatientName, AccessionNumber, StudyID, StudyDate, StudyDescription,
  ReferringPhysicianName, ModalitiesInStudy,
  SeriesInstanceUID, Modality, SeriesNumber, SeriesDescription,
  SOPInstanceUID, SOPClassUID, InstanceNumber,
};

// The key named by a DICOM keyword or an 8-digit tag ("00100020"); nullopt when the
// index cannot match on it.
std::optional<QidoKey> qidoKeyNamed(const std::string& keyword_or_tag);
// The keywords of every key, for a message.
std::string qidoKeyNames();

struct QidoMatch {
  QidoKey key;
  std::string value;  // as in the query: "a\\b" or "a,b" (UID lists), "*" / "?" wildcards, "d1-d2" (dates)
};

struct QidoQuery {
  QidoLevel level = QidoLevel::Study;
  std::string study_uid;   // the study of the path (/studies/{uid}/series), "" for none
  std::string series_uid;  // the series of the path
  std::vector<QidoMatch> matches;
  int limit = 100;
  int offset = 0;
};

// One matching entity with the attributes of its level and the levels above.
struct QidoRow {
  std::string patient_id, patient_name, patient_birth_date, patient_sex;
  std::string study_uid, study_date, study_time, accession_number, study_id, study_description, referring_physician;
  std::vector<std::string> modalities_in_study;
  int64_t study_series = 0, study_instances = 0;
  std::string series_uid, modality, series_description, series_number, body_part;
  int64_t series_instances = 0;
  std::string sop_uid, sop_class_uid, transfer_syntax_uid, specific_character_set;
  std::optional<int64_t> instance_number, rows, columns, number_of_frames, bits_allocated;
  std::string pixel_spacing, image_position, image_orientation, slice_thickness, image_type, frame_of_reference;
  std::string file_path;  // instance level: relative to the store root, or to the results root (from_results)
  uint64_t file_size = 0;
  bool from_results = false;  // one of the node's own results, not a received instance
};

class DicomWebQueries {
 public:
  // The index must exist (an Index has created and migrated it). results_root: where
  // render jobs write their outputs (job_outputs.file_path is relative to it); empty:
  // the results are left out.
  explicit DicomWebQueries(IndexLocation location, std::filesystem::path results_root = {});
  ~DicomWebQueries();
  DicomWebQueries(const DicomWebQueries&) = delete;
  DicomWebQueries& operator=(const DicomWebQueries&) = delete;

  // Throws Error(InvalidArgument) for a value a matching kind cannot take (a bad date range).
  std::vector<QidoRow> search(const QidoQuery& query);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace volnode
