#pragma once
// Plain records that go in and out of the index.
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "volnode/storage/states.hpp"

namespace volnode {

// When an index commit is on disk (docs/durability.md): Full at every commit
// (survives a power loss), Normal at checkpoints only (survives a crash of the
// process; a power loss can lose the last commits).
enum class IndexSync { Full, Normal };

// The attributes the index keeps of one instance, as read from its header.
// Text is UTF-8 (converted from the instance's SpecificCharacterSet).
struct InstanceAttributes {
  std::string patient_id, issuer_of_patient_id, patient_name, patient_birth_date, patient_sex;
  std::string study_uid, study_date, study_time, accession_number, study_id, study_description,
      referring_physician;
  std::string series_uid, modality, series_description, series_number, body_part, protocol_name,
      frame_of_reference;
  std::string sop_uid, sop_class_uid, transfer_syntax_uid;
  std::optional<int64_t> instance_number, rows, columns, number_of_frames, bits_allocated,
      images_in_acquisition, temporal_positions;
  std::string pixel_spacing, image_position, image_orientation, slice_thickness, image_type,
      acquisition_number, specific_character_set;
};

struct NewInstance {
  InstanceAttributes attributes;
  std::string file_path;        // relative to the store root
  uint64_t file_size = 0;
  std::optional<int64_t> association_id;
  bool conflict = false;        // same SOP Instance UID already held with other content
  // Found in the store at start-up rather than received now: when it was written
  // and who sent it (the listener names the calling AE title in the file).
  std::optional<std::chrono::system_clock::time_point> received_at;
  std::string calling_aet;      // used when there is no association
};

// A copy of an instance already held (to tell re-sends from conflicts).
struct HeldCopy {
  int64_t id = 0;
  std::string file_path;        // relative to the store root
};

// Where one instance sits in space, for the completion check.
struct SliceGeometry {
  std::string image_position;     // "x\\y\\z"
  std::string image_orientation;  // six cosines
  std::optional<int64_t> images_in_acquisition;
  std::optional<int64_t> number_of_frames;
};

struct InstanceFile {
  std::string sop_uid;
  std::string file_path;        // relative to the store root
  std::optional<int64_t> instance_number;
  bool conflict = false;
};

struct SeriesSummary {
  std::string series_uid, study_uid, modality, series_description, series_number, body_part,
      protocol_name, frame_of_reference, calling_aet;
  int64_t instances = 0;
  std::string first_received, last_received;
  double last_received_unix = 0;
  SeriesState state = SeriesState::Receiving;
  std::string state_reason, state_time;
  int64_t conflicts = 0;
};

struct StudySummary {
  std::string study_uid, study_date, study_time, accession_number, study_id, study_description,
      referring_physician;
  std::string patient_id, issuer_of_patient_id, patient_name, patient_birth_date, patient_sex;
  std::string modalities;       // distinct, '\'-separated
  int64_t series_count = 0;
  int64_t instances = 0;
  std::string first_received, last_received;
};

struct StudyQuery {
  std::string text;             // matches patient ID, name, accession (substring, case-insensitive)
  std::string modality;         // exact, empty: any
  std::string date_from, date_to;  // YYYYMMDD, inclusive
  int limit = 100;
  int offset = 0;
};

struct SeriesTransition {
  std::string state, reason, at;  // state: a name of states.hpp's SeriesState
};

struct AssociationRecord {
  int64_t id = 0;
  std::string calling_aet, called_aet, peer_host, started_at, ended_at, outcome;
  int64_t instances = 0, bytes = 0, failures = 0;
};

struct IndexCounts {
  int64_t patients = 0, studies = 0, series = 0, instances = 0, bytes = 0;
  int64_t associations_open = 0;
  int64_t instances_today = 0;
};

}  // namespace volnode
