#include "instance_attributes.hpp"

#include <cstring>
#include <fstream>
#include <vector>

#include "volnode/core/error.hpp"
#include "volnode/dicom/dicom_file.hpp"
#include "volnode/dicom/sop_classes.hpp"

namespace volnode {
namespace {

namespace tags = dicom::tags;

std::optional<int64_t> integerOf(const dicom::Item& item, dicom::Tag tag) {
  const auto value = item.stringAt(tag);
  if (!value || value->empty()) return std::nullopt;
  try {
    return std::stoll(*value);
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

// The guarded reader names the file; the store's reasons go back to the sender, who
// knows the instance but has no business with the node's paths.
dicom::DicomFile openReceived(const std::filesystem::path& file) {
  try {
    return dicom::DicomFile::open(file, dicom::DicomFile::Extent::UpToPixelData);
  } catch (const Error& e) {
    const std::string prefix = file.string() + ": ";
    const std::string message = e.what();
    if (message.rfind(prefix, 0) != 0) throw;
    throw Error(e.code(), message.substr(prefix.size()));
  }
}

// An image: an Image Storage SOP Class, or the Image Pixel module's Rows, Columns and
// Bits Allocated (a cut before them leaves only the SOP class to tell).
bool isImage(const InstanceAttributes& a) {
  return dicom::isImageStorageSopClass(a.sop_class_uid) || (a.rows && a.columns && a.bits_allocated);
}

// The header parse stops at the pixel data; the rest of the file must be there
// too, or the instance was cut off (a transfer that broke off, a crash while it
// was written) and must not be kept as if it were whole. The pre-scan that opened
// the file walked every element header to the last byte and refused a value, item,
// sequence or pixel sequence left open at the end, so what is left to catch is a cut
// exactly between two elements, which no parser can see: an image must have its
// Pixel Data. A deflated data set is parsed whole, since its elements cannot be told
// apart in the compressed bytes.
void requireWholeDataset(const std::filesystem::path& file, const dicom::Structure& structure,
                         const InstanceAttributes& a) {
  if (structure.deflated) (void)dicom::DicomFile::open(file, dicom::DicomFile::Extent::Everything);
  if (isImage(a) && !structure.pixel_data)
    throw Error(Errc::InvalidDicom, "incomplete data set: an image without Pixel Data");
}

// The rest of two streams, compared in blocks, so that checking a duplicate of any
// size costs two small buffers.
bool sameBytesFrom(std::ifstream& a, std::ifstream& b) {
  constexpr size_t kBlock = size_t(1) << 20;
  std::vector<char> block_a(kBlock), block_b(kBlock);
  while (true) {
    a.read(block_a.data(), std::streamsize(kBlock));
    b.read(block_b.data(), std::streamsize(kBlock));
    const std::streamsize got_a = a.gcount(), got_b = b.gcount();
    if (got_a != got_b || std::memcmp(block_a.data(), block_b.data(), size_t(got_a)) != 0) return false;
    if (got_a < std::streamsize(kBlock)) return a.eof() && b.eof() && !a.bad() && !b.bad();
  }
}

// Where the data set starts: the File Meta Information is small, so its first bytes
// are enough; a header longer than that reads as none, for both files alike.
size_t datasetOffsetOf(std::ifstream& in) {
  constexpr size_t kHeaderBytes = size_t(64) << 10;
  std::string head(kHeaderBytes, '\0');
  in.read(head.data(), std::streamsize(head.size()));
  head.resize(size_t(in.gcount()));
  in.clear();
  return dicom::datasetOffset(head);
}

}  // namespace

InstanceAttributes readInstanceAttributes(const std::filesystem::path& file, std::string* source_aet) {
  // The pre-scan refuses what no later stage could read safely (nesting, item count,
  // lengths, pixel data size) before DCMTK parses, on this thread, up to the pixel data.
  dicom::DicomFile format = openReceived(file);
  const dicom::Item ds = format.dataset();
  const dicom::Item meta = format.meta();

  InstanceAttributes a;
  a.specific_character_set = ds.string(tags::SpecificCharacterSet);
  // Index text in UTF-8 whatever the source repertoire. Conversion failure keeps the raw bytes.
  if (!a.specific_character_set.empty() && a.specific_character_set != "ISO_IR 6" &&
      a.specific_character_set != "ISO_IR 192")
    (void)format.convertToUtf8();

  a.sop_uid = ds.string(tags::SOPInstanceUID);
  a.sop_class_uid = ds.string(tags::SOPClassUID);
  a.study_uid = ds.string(tags::StudyInstanceUID);
  a.series_uid = ds.string(tags::SeriesInstanceUID);
  for (auto [uid, name] : {std::pair{&a.sop_uid, "SOPInstanceUID"}, {&a.sop_class_uid, "SOPClassUID"},
                           {&a.study_uid, "StudyInstanceUID"}, {&a.series_uid, "SeriesInstanceUID"}}) {
    if (uid->empty()) throw Error(Errc::InvalidDicom, std::string("missing ") + name);
    if (!plausibleUid(*uid))
      throw Error(Errc::InvalidDicom, std::string(name) + " is not a valid UID (digits and dots, at most 64)");
  }
  a.transfer_syntax_uid = meta.string(tags::TransferSyntaxUID);
  if (a.transfer_syntax_uid.empty()) a.transfer_syntax_uid = format.datasetTransferSyntaxUid();

  a.patient_id = ds.string(tags::PatientID);
  a.issuer_of_patient_id = ds.string(tags::IssuerOfPatientID);
  a.patient_name = ds.string(tags::PatientName);
  a.patient_birth_date = ds.string(tags::PatientBirthDate);
  a.patient_sex = ds.string(tags::PatientSex);
  a.study_date = ds.string(tags::StudyDate);
  a.study_time = ds.string(tags::StudyTime);
  a.accession_number = ds.string(tags::AccessionNumber);
  a.study_id = ds.string(tags::StudyID);
  a.study_description = ds.string(tags::StudyDescription);
  a.referring_physician = ds.string(tags::ReferringPhysicianName);
  a.modality = ds.string(tags::Modality);
  a.series_description = ds.string(tags::SeriesDescription);
  a.series_number = ds.string(tags::SeriesNumber);
  a.body_part = ds.string(tags::BodyPartExamined);
  a.protocol_name = ds.string(tags::ProtocolName);
  a.frame_of_reference = ds.string(tags::FrameOfReferenceUID);
  a.instance_number = integerOf(ds, tags::InstanceNumber);
  a.rows = integerOf(ds, tags::Rows);
  a.columns = integerOf(ds, tags::Columns);
  a.number_of_frames = integerOf(ds, tags::NumberOfFrames);
  a.bits_allocated = integerOf(ds, tags::BitsAllocated);
  a.images_in_acquisition = integerOf(ds, tags::ImagesInAcquisition);
  a.temporal_positions = integerOf(ds, tags::NumberOfTemporalPositions);
  a.pixel_spacing = ds.string(tags::PixelSpacing);
  a.image_position = ds.string(tags::ImagePositionPatient);
  a.image_orientation = ds.string(tags::ImageOrientationPatient);
  a.slice_thickness = ds.string(tags::SliceThickness);
  a.image_type = ds.string(tags::ImageType);
  a.acquisition_number = ds.string(tags::AcquisitionNumber);
  if (source_aet) *source_aet = meta.string(dicom::Tag{0x0002, 0x0016});  // SourceApplicationEntityTitle
  try {
    requireWholeDataset(file, format.structure(), a);
  } catch (const Error& e) {
    const std::string prefix = file.string() + ": ";
    const std::string message = e.what();
    throw Error(e.code(), message.rfind(prefix, 0) == 0 ? message.substr(prefix.size()) : message);
  }
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
  std::ifstream in_a(a, std::ios::binary), in_b(b, std::ios::binary);
  if (!in_a || !in_b) return false;
  // An offset of 0 (no meta header, or one cut short) compares whole files: two such
  // files are never taken for the same data set just because nothing follows the header.
  const size_t off_a = datasetOffsetOf(in_a), off_b = datasetOffsetOf(in_b);
  if (size_a - std::min<uintmax_t>(off_a, size_a) != size_b - std::min<uintmax_t>(off_b, size_b)) return false;
  in_a.seekg(std::streamoff(off_a));
  in_b.seekg(std::streamoff(off_b));
  return sameBytesFrom(in_a, in_b);
}

}  // namespace volnode
