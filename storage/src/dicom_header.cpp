#include "dicom_header.hpp"

#include <cstring>
#include <fstream>

#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcfilefo.h>
#include <dcmtk/dcmdata/dcmetinf.h>
#include <dcmtk/dcmdata/dcuid.h>
#include <dcmtk/dcmdata/dcxfer.h>

#include "volnode/core/error.hpp"
#include "volnode/core/files.hpp"

namespace volnode {
namespace {

std::string stringOf(DcmItem& item, const DcmTagKey& tag) {
  OFString value;
  if (item.findAndGetOFStringArray(tag, value).bad()) return {};
  return value.c_str();
}

std::optional<int64_t> integerOf(DcmItem& item, const DcmTagKey& tag) {
  OFString value;
  if (item.findAndGetOFString(tag, value).bad() || value.empty()) return std::nullopt;
  try {
    return std::stoll(value.c_str());
  } catch (...) {
    return std::nullopt;
  }
}

// A UID the node can trust enough to index: 1..64 characters of digits and dots.
bool plausibleUid(const std::string& uid) {
  if (uid.empty() || uid.size() > 64) return false;
  for (char c : uid)
    if (!(c == '.' || (c >= '0' && c <= '9'))) return false;
  return true;
}

// Offset of the first byte after the File Meta Information (group 0002, always
// explicit VR little endian), or 0 when there is no meta header.
size_t datasetOffset(const std::string& bytes) {
  if (bytes.size() < 132 || std::memcmp(bytes.data() + 128, "DICM", 4) != 0) return 0;
  size_t pos = 132;
  while (pos + 8 <= bytes.size()) {
    auto u16 = [&](size_t at) { return uint16_t(uint8_t(bytes[at]) | (uint8_t(bytes[at + 1]) << 8)); };
    if (u16(pos) != 0x0002) break;
    std::string vr = bytes.substr(pos + 4, 2);
    bool long_form = vr == "OB" || vr == "OW" || vr == "OF" || vr == "SQ" || vr == "UT" || vr == "UN" ||
                     vr == "UC" || vr == "UR" || vr == "OD" || vr == "OL" || vr == "OV";
    if (long_form) {
      if (pos + 12 > bytes.size()) break;
      uint32_t length = uint32_t(u16(pos + 8)) | (uint32_t(u16(pos + 10)) << 16);
      pos += 12 + length;
    } else {
      pos += 8 + u16(pos + 6);
    }
  }
  return std::min(pos, bytes.size());
}

}  // namespace

InstanceAttributes readInstanceAttributes(const std::filesystem::path& file) {
  DcmFileFormat format;
  OFCondition status = format.loadFileUntilTag(file.c_str(), EXS_Unknown, EGL_noChange, DCM_MaxReadLength,
                                               ERM_autoDetect, DCM_PixelData);
  if (status.bad()) throw Error(Errc::InvalidDicom, std::string("cannot parse DICOM: ") + status.text());
  DcmDataset& ds = *format.getDataset();
  DcmMetaInfo& meta = *format.getMetaInfo();

  InstanceAttributes a;
  a.specific_character_set = stringOf(ds, DCM_SpecificCharacterSet);
  // Index text in UTF-8 whatever the source repertoire. Conversion failure keeps the raw bytes.
  if (!a.specific_character_set.empty() && a.specific_character_set != "ISO_IR 6" &&
      a.specific_character_set != "ISO_IR 192")
    (void)ds.convertToUTF8();

  a.sop_uid = stringOf(ds, DCM_SOPInstanceUID);
  a.sop_class_uid = stringOf(ds, DCM_SOPClassUID);
  a.study_uid = stringOf(ds, DCM_StudyInstanceUID);
  a.series_uid = stringOf(ds, DCM_SeriesInstanceUID);
  for (auto [uid, name] : {std::pair{&a.sop_uid, "SOPInstanceUID"}, {&a.sop_class_uid, "SOPClassUID"},
                           {&a.study_uid, "StudyInstanceUID"}, {&a.series_uid, "SeriesInstanceUID"}}) {
    if (uid->empty()) throw Error(Errc::InvalidDicom, std::string("missing ") + name);
    if (!plausibleUid(*uid))
      throw Error(Errc::InvalidDicom, std::string(name) + " is not a valid UID (digits and dots, at most 64)");
  }
  a.transfer_syntax_uid = stringOf(meta, DCM_TransferSyntaxUID);
  if (a.transfer_syntax_uid.empty()) a.transfer_syntax_uid = DcmXfer(ds.getOriginalXfer()).getXferID();

  a.patient_id = stringOf(ds, DCM_PatientID);
  a.issuer_of_patient_id = stringOf(ds, DCM_IssuerOfPatientID);
  a.patient_name = stringOf(ds, DCM_PatientName);
  a.patient_birth_date = stringOf(ds, DCM_PatientBirthDate);
  a.patient_sex = stringOf(ds, DCM_PatientSex);
  a.study_date = stringOf(ds, DCM_StudyDate);
  a.study_time = stringOf(ds, DCM_StudyTime);
  a.accession_number = stringOf(ds, DCM_AccessionNumber);
  a.study_id = stringOf(ds, DCM_StudyID);
  a.study_description = stringOf(ds, DCM_StudyDescription);
  a.referring_physician = stringOf(ds, DCM_ReferringPhysicianName);
  a.modality = stringOf(ds, DCM_Modality);
  a.series_description = stringOf(ds, DCM_SeriesDescription);
  a.series_number = stringOf(ds, DCM_SeriesNumber);
  a.body_part = stringOf(ds, DCM_BodyPartExamined);
  a.protocol_name = stringOf(ds, DCM_ProtocolName);
  a.frame_of_reference = stringOf(ds, DCM_FrameOfReferenceUID);
  a.instance_number = integerOf(ds, DCM_InstanceNumber);
  a.rows = integerOf(ds, DCM_Rows);
  a.columns = integerOf(ds, DCM_Columns);
  a.number_of_frames = integerOf(ds, DCM_NumberOfFrames);
  a.bits_allocated = integerOf(ds, DCM_BitsAllocated);
  a.images_in_acquisition = integerOf(ds, DCM_ImagesInAcquisition);
  a.temporal_positions = integerOf(ds, DCM_NumberOfTemporalPositions);
  a.pixel_spacing = stringOf(ds, DCM_PixelSpacing);
  a.image_position = stringOf(ds, DCM_ImagePositionPatient);
  a.image_orientation = stringOf(ds, DCM_ImageOrientationPatient);
  a.slice_thickness = stringOf(ds, DCM_SliceThickness);
  a.image_type = stringOf(ds, DCM_ImageType);
  a.acquisition_number = stringOf(ds, DCM_AcquisitionNumber);
  return a;
}

bool sameDataset(const std::filesystem::path& a, const std::filesystem::path& b) {
  std::error_code ec;
  auto size_a = std::filesystem::file_size(a, ec);
  if (ec) return false;
  auto size_b = std::filesystem::file_size(b, ec);
  if (ec) return false;
  // Meta headers differ by a few bytes at most (sender AE title); a large size
  // difference means different content without reading anything.
  if (size_a > size_b + 1024 || size_b > size_a + 1024) return false;
  std::string bytes_a = readFile(a), bytes_b = readFile(b);
  size_t off_a = datasetOffset(bytes_a), off_b = datasetOffset(bytes_b);
  return bytes_a.size() - off_a == bytes_b.size() - off_b &&
         std::memcmp(bytes_a.data() + off_a, bytes_b.data() + off_b, bytes_a.size() - off_a) == 0;
}

}  // namespace volnode
