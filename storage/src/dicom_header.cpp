#include "dicom_header.hpp"

#include <pthread.h>

#include <cstring>
#include <exception>
#include <fstream>

#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcfilefo.h>
#include <dcmtk/dcmdata/dcmetinf.h>
#include <dcmtk/dcmdata/dcuid.h>
#include <dcmtk/dcmdata/dcxfer.h>

#include "dicom_completeness.hpp"
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
// explicit VR little endian), or 0 when there is no meta header or an element of it
// runs past the end of the file (then whole files are compared: two such files are
// never taken for the same data set just because nothing is left after the header).
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
      // 64-bit arithmetic: in 32 bits, 12 + a length of 0xFFFFFFF4 wraps to 0 and the
      // walk never advances (a hostile header held the storing thread forever).
      const uint64_t length = uint64_t(u16(pos + 8)) | (uint64_t(u16(pos + 10)) << 16);
      if (length > bytes.size() - pos - 12) return 0;
      pos += 12 + size_t(length);
    } else {
      if (pos + 8 + u16(pos + 6) > bytes.size()) return 0;
      pos += 8 + u16(pos + 6);
    }
  }
  return std::min(pos, bytes.size());
}

// DCMTK parses nested sequences recursively on the calling thread's stack; a
// hostile instance nested tens of thousands deep would overflow an ordinary
// thread stack. Items are counted first (an upper bound of the depth) and the
// parse runs on a thread whose stack holds that depth with room to spare.
constexpr size_t kMaxSequenceItems = 50000;
constexpr size_t kParseStackBytes = size_t(256) << 20;  // reserved, committed only as used

size_t countItemTags(const std::string& bytes) {
  size_t count = 0;
  for (size_t at = 0; at + 4 <= bytes.size(); ++at) {
    at = bytes.find('\xFE', at);  // both byte orders of (FFFE,E000) contain 0xFE next to 0xFF
    if (at == std::string::npos || at + 4 > bytes.size()) break;
    const char* p = bytes.data() + at;
    if ((p[1] == '\xFF' && p[2] == '\x00' && p[3] == '\xE0') || (at > 0 && p[-1] == '\xFF' && p[1] == '\xE0' && p[2] == '\x00'))
      ++count;
  }
  return count;
}

template <typename Function>
void runWithLargeStack(Function&& function) {
  struct Call {
    Function* function;
    std::exception_ptr error;
  } call{&function, nullptr};
  pthread_attr_t attributes;
  pthread_attr_init(&attributes);
  pthread_attr_setstacksize(&attributes, kParseStackBytes);
  pthread_t thread;
  auto trampoline = [](void* argument) -> void* {
    auto* c = static_cast<Call*>(argument);
    try {
      (*c->function)();
    } catch (...) {
      c->error = std::current_exception();
    }
    return nullptr;
  };
  int created = pthread_create(&thread, &attributes, trampoline, &call);
  pthread_attr_destroy(&attributes);
  if (created != 0) throw Error(Errc::Internal, "cannot start the header parser thread");
  pthread_join(thread, nullptr);
  if (call.error) std::rethrow_exception(call.error);
}

InstanceAttributes parseInstanceAttributes(const std::filesystem::path& file, const std::string& bytes,
                                           std::string* source_aet);

// The header parse stops at the pixel data; the rest of the file must be there
// too, or the instance was cut off (a transfer that broke off, a crash while it
// was written) and must not be kept as if it were whole.
void requireWholeDataset(const std::filesystem::path& file, const std::string& bytes, DcmMetaInfo& meta,
                         const DcmXfer& xfer, const InstanceAttributes& a) {
  std::string incomplete;
  bool pixel_data = false;
  if (xfer.getStreamCompression() != ESC_none) {
    // Deflated: the elements cannot be walked in the compressed bytes; DCMTK
    // inflates and parses all of it (values stay in the file) and reports a cut.
    DcmFileFormat format;
    OFCondition status = format.loadFile(file.c_str());
    if (status.bad()) incomplete = status.text();
    pixel_data = format.getDataset()->tagExists(DCM_PixelData) ||
                 format.getDataset()->tagExists(DCM_FloatPixelData) ||
                 format.getDataset()->tagExists(DCM_DoubleFloatPixelData);
  } else {
    // Where the data set starts: after the group length's 12 bytes and the length it
    // gives (the File Meta Information of a received file always has one).
    const bool has_meta = bytes.size() >= 132 && std::memcmp(bytes.data() + 128, "DICM", 4) == 0;
    size_t offset = datasetOffset(bytes);
    Uint32 group_length = 0;
    if (has_meta && meta.findAndGetUint32(DCM_FileMetaInformationGroupLength, group_length).good())
      offset = std::min(bytes.size(), size_t{132} + 12 + group_length);
    auto structure = walkDataset(std::string_view(bytes).substr(offset),
                                 {bool(xfer.isExplicitVR()), bool(xfer.isBigEndian())});
    incomplete = structure.incomplete;
    pixel_data = structure.pixel_data;
  }
  if (!incomplete.empty()) throw Error(Errc::InvalidDicom, "incomplete data set: " + incomplete);
  // An image (an Image Storage SOP Class, or the Image Pixel module's Rows, Columns,
  // Bits Allocated) without its pixel data was cut off between two elements.
  const bool image = dcmIsImageStorageSOPClassUID(a.sop_class_uid.c_str()) || (a.rows && a.columns && a.bits_allocated);
  if (image && !pixel_data)
    throw Error(Errc::InvalidDicom, "incomplete data set: an image without Pixel Data");
}

}  // namespace

InstanceAttributes readInstanceAttributes(const std::filesystem::path& file, std::string* source_aet) {
  const std::string bytes = readFile(file);
  if (countItemTags(bytes) > kMaxSequenceItems)
    throw Error(Errc::InvalidDicom, "more than " + std::to_string(kMaxSequenceItems) + " sequence items");
  InstanceAttributes attributes;
  runWithLargeStack([&] { attributes = parseInstanceAttributes(file, bytes, source_aet); });
  return attributes;
}

namespace {

InstanceAttributes parseInstanceAttributes(const std::filesystem::path& file, const std::string& bytes,
                                           std::string* source_aet) {
  DcmFileFormat format;
  OFCondition status = format.loadFileUntilTag(file.c_str(), EXS_Unknown, EGL_noChange, DCM_MaxReadLength,
                                               ERM_autoDetect, DCM_PixelData);
  if (status.bad()) throw Error(Errc::InvalidDicom, std::string("cannot parse DICOM: ") + status.text());
  DcmDataset& ds = *format.getDataset();
  DcmMetaInfo& meta = *format.getMetaInfo();
  if (source_aet) *source_aet = stringOf(meta, DCM_SourceApplicationEntityTitle);

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
  requireWholeDataset(file, bytes, meta, DcmXfer(ds.getOriginalXfer()), a);
  return a;
}

}  // namespace

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
