#pragma once
// Index records for storage and workflow unit tests that fill an index without files.
#include <cstdint>
#include <optional>
#include <string>

#include "volnode/storage/records.hpp"

namespace volnode::test {

// One CT instance of `series` in `study` (patient "P-<study>"), received over
// `association` (none by default), its file named after the SOP Instance UID.
inline NewInstance ctInstanceRecord(const std::string& study, const std::string& series, const std::string& sop,
                                    std::optional<int64_t> association = std::nullopt) {
  NewInstance n;
  n.attributes.patient_id = "P-" + study;
  n.attributes.study_uid = study;
  n.attributes.series_uid = series;
  n.attributes.sop_uid = sop;
  n.attributes.sop_class_uid = "1.2.840.10008.5.1.4.1.1.2";
  n.attributes.transfer_syntax_uid = "1.2.840.10008.1.2.1";
  n.attributes.modality = "CT";
  n.association_id = association;
  n.file_path = "ab/cd/" + sop + ".dcm";
  n.file_size = 100;
  return n;
}

}  // namespace volnode::test
