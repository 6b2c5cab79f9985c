#include "file_header.hpp"

#include <cmath>
#include <cstdio>
#include <fstream>

#include "volnode/core/error.hpp"
#include "volnode/core/logging.hpp"
#include "volnode/dicom/dicom_file.hpp"

namespace volnode::detail {
namespace {

namespace tags = dicom::tags;
using dicom::Item;
using dicom::Tag;
using MaybeItem = std::optional<Item>;  // absent functional group macros read as nothing

constexpr char kMediaStorageDirectoryStorage[] = "1.2.840.10008.1.3.10";  // a DICOMDIR

// Cheap sniffing: a Part 10 preamble, or a raw dataset starting with a group 0x0008 tag.
bool looksLikeDicom(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  char buf[132] = {};
  in.read(buf, sizeof buf);
  const auto got = in.gcount();
  if (got >= 132 && buf[128] == 'D' && buf[129] == 'I' && buf[130] == 'C' && buf[131] == 'M') return true;
  // Raw (no meta header) little endian dataset: (0008,xxxx) first.
  return got >= 8 && buf[0] == 0x08 && buf[1] == 0x00;
}

std::string str(const MaybeItem& item, Tag tag) {
  if (!item) return {};
  std::string s = item->string(tag);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\0')) s.pop_back();
  size_t b = 0;
  while (b < s.size() && s[b] == ' ') ++b;
  return s.substr(b);
}

bool numbers(const MaybeItem& item, Tag tag, double* out, int n) {
  if (!item) return false;
  for (int i = 0; i < n; ++i) {
    const auto v = item->float64(tag, static_cast<unsigned long>(i));
    if (!v || !std::isfinite(*v)) return false;
    out[i] = *v;
  }
  return true;
}

std::optional<double> number(const MaybeItem& item, Tag tag) {
  double v;
  if (numbers(item, tag, &v, 1)) return v;
  return std::nullopt;
}

int integer(const MaybeItem& item, Tag tag, int fallback) {
  if (!item) return fallback;
  if (auto u = item->uint16(tag)) return *u;
  if (auto s = item->int32(tag)) return *s;
  auto d = number(item, tag);
  return d ? int(*d) : fallback;
}

std::optional<double> signedOrUnsigned(const MaybeItem& item, Tag tag, bool is_signed) {
  if (!item) return std::nullopt;
  if (is_signed) {
    if (auto s = item->int16(tag)) return double(*s);
  }
  if (auto u = item->uint16(tag)) return is_signed ? double(int16_t(*u)) : double(*u);
  if (auto s = item->int16(tag)) return double(*s);
  return std::nullopt;
}

std::vector<std::string> splitValues(const std::string& s) {
  std::vector<std::string> out;
  size_t b = 0;
  while (b <= s.size()) {
    size_t e = s.find('\\', b);
    if (e == std::string::npos) e = s.size();
    std::string v = s.substr(b, e - b);
    while (!v.empty() && v.back() == ' ') v.pop_back();
    while (!v.empty() && v.front() == ' ') v.erase(v.begin());
    out.push_back(v);
    b = e + 1;
  }
  return out;
}

// First item of a sequence inside an item, or nothing.
MaybeItem sub(const MaybeItem& item, Tag seq) {
  if (!item) return std::nullopt;
  return item->sequenceItem(seq, 0);
}

// A functional group macro: per-frame first, then shared.
MaybeItem group(const MaybeItem& per_frame, const MaybeItem& shared, Tag seq) {
  if (MaybeItem it = sub(per_frame, seq)) return it;
  return sub(shared, seq);
}

std::string fmt(double v) {
  char b[32];
  std::snprintf(b, sizeof b, "%g", v);
  return b;
}

constexpr const char* kImplicitVrLittleEndian = "1.2.840.10008.1.2";
constexpr const char* kExplicitVrLittleEndian = "1.2.840.10008.1.2.1";

}  // namespace

std::optional<FileHeader> readHeader(const std::filesystem::path& path, std::string* refusal) {
  if (!looksLikeDicom(path)) return std::nullopt;
  std::optional<dicom::DicomFile> file;
  try {
    file = dicom::DicomFile::open(path);
  } catch (const Error& e) {
    moduleLogger("pipeline")->warn("not read: {}", e.what());
    if (refusal) *refusal = e.what();
    return std::nullopt;
  }
  const MaybeItem d = file->dataset();
  const MaybeItem meta = file->meta();
  const std::string media_class = str(meta, tags::MediaStorageSOPClassUID);
  if (media_class == kMediaStorageDirectoryStorage || d->has(tags::DirectoryRecordSequence)) return std::nullopt;

  FileHeader h;
  h.path = path;
  h.info.sop_class_uid = str(d, tags::SOPClassUID);
  if (h.info.sop_class_uid.empty()) h.info.sop_class_uid = media_class;
  h.info.series_instance_uid = str(d, tags::SeriesInstanceUID);
  if (h.info.series_instance_uid.empty() && h.info.sop_class_uid.empty()) return std::nullopt;
  h.sop_instance_uid = str(d, tags::SOPInstanceUID);
  h.info.study_instance_uid = str(d, tags::StudyInstanceUID);
  h.info.modality = str(d, tags::Modality);
  h.info.series_description = str(d, tags::SeriesDescription);
  h.info.protocol_name = str(d, tags::ProtocolName);
  h.info.study_description = str(d, tags::StudyDescription);
  h.info.body_part_examined = str(d, tags::BodyPartExamined);
  h.info.mr_acquisition_type = str(d, tags::MRAcquisitionType);
  h.info.contrast_bolus_agent = str(d, dicom::Tag{0x0018, 0x0010});
  h.info.convolution_kernel = str(d, dicom::Tag{0x0018, 0x1210});
  h.info.slice_thickness = str(d, dicom::Tag{0x0018, 0x0050});
  h.info.frame_of_reference_uid = str(d, tags::FrameOfReferenceUID);
  h.info.patient_id = str(d, tags::PatientID);
  h.info.patient_name = str(d, tags::PatientName);
  const std::string image_type = str(d, tags::ImageType);
  if (!image_type.empty()) h.info.image_type = splitValues(image_type);
  h.transfer_syntax_uid = str(meta, tags::TransferSyntaxUID);

  h.rows = integer(d, tags::Rows, 0);
  h.cols = integer(d, tags::Columns, 0);
  h.samples_per_pixel = integer(d, tags::SamplesPerPixel, 1);
  h.bits_allocated = integer(d, tags::BitsAllocated, 16);
  h.bits_stored = integer(d, tags::BitsStored, h.bits_allocated);
  h.pixel_representation = integer(d, tags::PixelRepresentation, 0);
  h.number_of_frames = std::max(1, integer(d, tags::NumberOfFrames, 1));
  h.has_pixel_data = d->has(tags::PixelData) || d->has(tags::FloatPixelData) || d->has(tags::DoubleFloatPixelData);
  h.padding_value = signedOrUnsigned(d, tags::PixelPaddingValue, h.pixel_representation == 1);
  h.padding_limit = signedOrUnsigned(d, tags::PixelPaddingRangeLimit, h.pixel_representation == 1);
  h.instance_number = integer(d, tags::InstanceNumber, 0);
  const auto& layout = file->structure().pixel_data;
  const std::string& syntax = file->structure().transfer_syntax_uid;
  if (layout && !layout->encapsulated && layout->file_offset > 0 && h.samples_per_pixel == 1 &&
      (syntax == kImplicitVrLittleEndian || syntax == kExplicitVrLittleEndian)) {
    h.native_pixels_offset = layout->file_offset;
    h.native_pixels_length = layout->length;
  }

  bool localizer = false;
  for (const auto& t : h.info.image_type)
    if (t == "LOCALIZER") localizer = true;

  const MaybeItem shared = sub(d, tags::SharedFunctionalGroupsSequence);
  const size_t per_frame_items = d->sequenceSize(tags::PerFrameFunctionalGroupsSequence);
  if (per_frame_items > 0) {
    h.enhanced = true;
    const int n = std::min<int>(h.number_of_frames, int(per_frame_items));
    h.frames.reserve(n);
    for (int f = 0; f < n; ++f) {
      const MaybeItem pf = d->sequenceItem(tags::PerFrameFunctionalGroupsSequence, size_t(f));
      FrameHeader fr;
      fr.frame = f;
      fr.instance_number = h.instance_number;
      fr.has_position = numbers(group(pf, shared, tags::PlanePositionSequence), tags::ImagePositionPatient,
                                fr.position.data(), 3);
      fr.has_orientation = numbers(group(pf, shared, tags::PlaneOrientationSequence), tags::ImageOrientationPatient,
                                   fr.orientation.data(), 6);
      fr.has_spacing = numbers(group(pf, shared, tags::PixelMeasuresSequence), tags::PixelSpacing,
                               fr.pixel_spacing.data(), 2);
      if (const MaybeItem pvt = group(pf, shared, tags::PixelValueTransformationSequence)) {
        fr.slope = number(pvt, tags::RescaleSlope).value_or(1.0);
        fr.intercept = number(pvt, tags::RescaleIntercept).value_or(0.0);
      } else {
        fr.slope = number(d, tags::RescaleSlope).value_or(1.0);
        fr.intercept = number(d, tags::RescaleIntercept).value_or(0.0);
      }
      if (fr.slope == 0) fr.slope = 1;
      // What distinguishes stacks inside one multi-frame object.
      std::string key, label;
      auto add = [&](const std::string& k, const std::string& l) {
        if (k.empty()) return;
        key += k + "|";
        if (!l.empty()) label += (label.empty() ? "" : ", ") + l;
      };
      MaybeItem ftype = group(pf, shared, tags::MRImageFrameTypeSequence);
      if (!ftype) ftype = group(pf, shared, tags::CTImageFrameTypeSequence);
      const std::string frame_type = str(ftype, tags::FrameType);
      const std::string complex = str(ftype, tags::ComplexImageComponent);
      std::string frame_type_last;
      if (!frame_type.empty()) {
        auto parts = splitValues(frame_type);
        frame_type_last = parts.size() >= 3 ? parts[2] + (parts.size() > 3 ? " " + parts[3] : "") : frame_type;
        for (const auto& p : parts)
          if (p == "LOCALIZER") fr.localizer = true;
      }
      add(frame_type, frame_type_last);
      add(complex, complex);
      if (auto te = number(group(pf, shared, tags::MREchoSequence), tags::EffectiveEchoTime)) add("te" + fmt(*te), "TE " + fmt(*te));
      if (auto b = number(group(pf, shared, tags::MRDiffusionSequence), tags::DiffusionBValue)) add("b" + fmt(*b), "b " + fmt(*b));
      const MaybeItem content = group(pf, shared, tags::FrameContentSequence);
      const std::string stack = str(content, tags::StackID);
      add(stack.empty() ? "" : "stack" + stack, stack.empty() ? "" : "stack " + stack);
      if (auto t = number(content, tags::TemporalPositionIndex)) add("t" + fmt(*t), "time " + fmt(*t));
      fr.split_key = key;
      fr.split_label = label;
      fr.localizer = fr.localizer || localizer;
      h.frames.push_back(fr);
    }
  } else {
    const int n = h.number_of_frames;  // classic multi-frame without groups: all frames share one plane
    FrameHeader fr;
    fr.instance_number = h.instance_number;
    fr.has_position = numbers(d, tags::ImagePositionPatient, fr.position.data(), 3);
    fr.has_orientation = numbers(d, tags::ImageOrientationPatient, fr.orientation.data(), 6);
    fr.has_spacing = numbers(d, tags::PixelSpacing, fr.pixel_spacing.data(), 2);
    fr.slope = number(d, tags::RescaleSlope).value_or(1.0);
    if (fr.slope == 0) fr.slope = 1;
    fr.intercept = number(d, tags::RescaleIntercept).value_or(0.0);
    fr.localizer = localizer;
    std::string key, label;
    if (auto echo = number(d, tags::EchoNumbers)) {
      key += "echo" + fmt(*echo) + "|";
      label = "echo " + fmt(*echo);
    }
    if (auto tp = number(d, tags::TemporalPositionIdentifier)) {
      key += "tp" + fmt(*tp) + "|";
      label += (label.empty() ? "" : ", ") + std::string("time ") + fmt(*tp);
    }
    // ImageType values 1-3 (ORIGINAL/DERIVED, PRIMARY/SECONDARY, AXIAL/M/P...) separate stacks;
    // later values are vendor detail (GE marks some slices of one stack "ADD").
    key += "it";
    for (size_t i = 0; i < h.info.image_type.size() && i < 3; ++i) key += h.info.image_type[i] + "\\";
    fr.split_key = key;
    fr.split_label = label;
    for (int f = 0; f < n; ++f) {
      fr.frame = f;
      h.frames.push_back(fr);
    }
  }
  return h;
}

}  // namespace volnode::detail
