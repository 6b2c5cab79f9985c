#include "dicom_header.hpp"

#include <cmath>
#include <cstdio>
#include <fstream>

#include <dcmtk/dcmdata/dctk.h>

#include "volnode/core/logging.hpp"

namespace volnode::detail {
namespace {

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

std::string str(DcmItem* item, const DcmTagKey& tag) {
  OFString v;
  if (item && item->findAndGetOFStringArray(tag, v).good()) {
    std::string s = v.c_str();
    while (!s.empty() && (s.back() == ' ' || s.back() == '\0')) s.pop_back();
    size_t b = 0;
    while (b < s.size() && s[b] == ' ') ++b;
    return s.substr(b);
  }
  return {};
}

bool numbers(DcmItem* item, const DcmTagKey& tag, double* out, int n) {
  if (!item) return false;
  for (int i = 0; i < n; ++i) {
    Float64 v;
    if (item->findAndGetFloat64(tag, v, i).bad() || !std::isfinite(v)) return false;
    out[i] = v;
  }
  return true;
}

std::optional<double> number(DcmItem* item, const DcmTagKey& tag) {
  double v;
  if (numbers(item, tag, &v, 1)) return v;
  return std::nullopt;
}

int integer(DcmItem* item, const DcmTagKey& tag, int fallback) {
  if (!item) return fallback;
  Uint16 u;
  if (item->findAndGetUint16(tag, u).good()) return u;
  Sint32 s;
  if (item->findAndGetSint32(tag, s).good()) return s;
  auto d = number(item, tag);
  return d ? int(*d) : fallback;
}

std::optional<double> signedOrUnsigned(DcmItem* item, const DcmTagKey& tag, bool is_signed) {
  if (!item) return std::nullopt;
  if (is_signed) {
    Sint16 s;
    if (item->findAndGetSint16(tag, s).good()) return double(s);
  }
  Uint16 u;
  if (item->findAndGetUint16(tag, u).good()) return is_signed ? double(Sint16(u)) : double(u);
  Sint16 s;
  if (item->findAndGetSint16(tag, s).good()) return double(s);
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

// First item of a sequence inside an item, or nullptr.
DcmItem* sub(DcmItem* item, const DcmTagKey& seq) {
  if (!item) return nullptr;
  DcmItem* out = nullptr;
  if (item->findAndGetSequenceItem(seq, out, 0).good()) return out;
  return nullptr;
}

// A functional group macro: per-frame first, then shared.
DcmItem* group(DcmItem* per_frame, DcmItem* shared, const DcmTagKey& seq) {
  if (DcmItem* it = sub(per_frame, seq)) return it;
  return sub(shared, seq);
}

std::string fmt(double v) {
  char b[32];
  std::snprintf(b, sizeof b, "%g", v);
  return b;
}

}  // namespace

std::optional<FileHeader> readHeader(const std::filesystem::path& path) {
  if (!looksLikeDicom(path)) return std::nullopt;
  DcmFileFormat ff;
  // Values larger than 256 bytes (pixel data) stay on disk.
  OFCondition cond = ff.loadFile(path.c_str(), EXS_Unknown, EGL_noChange, 256, ERM_autoDetect);
  if (cond.bad()) {
    moduleLogger("pipeline")->debug("not readable as DICOM: {}: {}", path.string(), cond.text());
    return std::nullopt;
  }
  DcmDataset* d = ff.getDataset();
  DcmMetaInfo* meta = ff.getMetaInfo();
  const std::string media_class = str(meta, DCM_MediaStorageSOPClassUID);
  if (media_class == UID_MediaStorageDirectoryStorage || d->tagExists(DCM_DirectoryRecordSequence)) return std::nullopt;

  FileHeader h;
  h.path = path;
  h.info.sop_class_uid = str(d, DCM_SOPClassUID);
  if (h.info.sop_class_uid.empty()) h.info.sop_class_uid = media_class;
  h.info.series_instance_uid = str(d, DCM_SeriesInstanceUID);
  if (h.info.series_instance_uid.empty() && h.info.sop_class_uid.empty()) return std::nullopt;
  h.sop_instance_uid = str(d, DCM_SOPInstanceUID);
  h.info.study_instance_uid = str(d, DCM_StudyInstanceUID);
  h.info.modality = str(d, DCM_Modality);
  h.info.series_description = str(d, DCM_SeriesDescription);
  h.info.protocol_name = str(d, DCM_ProtocolName);
  h.info.body_part_examined = str(d, DCM_BodyPartExamined);
  h.info.mr_acquisition_type = str(d, DCM_MRAcquisitionType);
  h.info.frame_of_reference_uid = str(d, DCM_FrameOfReferenceUID);
  h.info.patient_id = str(d, DCM_PatientID);
  h.info.patient_name = str(d, DCM_PatientName);
  const std::string image_type = str(d, DCM_ImageType);
  if (!image_type.empty()) h.info.image_type = splitValues(image_type);
  h.transfer_syntax_uid = str(meta, DCM_TransferSyntaxUID);

  h.rows = integer(d, DCM_Rows, 0);
  h.cols = integer(d, DCM_Columns, 0);
  h.samples_per_pixel = integer(d, DCM_SamplesPerPixel, 1);
  h.bits_allocated = integer(d, DCM_BitsAllocated, 16);
  h.bits_stored = integer(d, DCM_BitsStored, h.bits_allocated);
  h.pixel_representation = integer(d, DCM_PixelRepresentation, 0);
  h.number_of_frames = std::max(1, integer(d, DCM_NumberOfFrames, 1));
  h.has_pixel_data = d->tagExists(DCM_PixelData) || d->tagExists(DCM_FloatPixelData) ||
                     d->tagExists(DCM_DoubleFloatPixelData);
  h.padding_value = signedOrUnsigned(d, DCM_PixelPaddingValue, h.pixel_representation == 1);
  h.padding_limit = signedOrUnsigned(d, DCM_PixelPaddingRangeLimit, h.pixel_representation == 1);
  h.instance_number = integer(d, DCM_InstanceNumber, 0);

  bool localizer = false;
  for (const auto& t : h.info.image_type)
    if (t == "LOCALIZER") localizer = true;

  DcmItem* shared = sub(d, DCM_SharedFunctionalGroupsSequence);
  DcmSequenceOfItems* per_frame_seq = nullptr;
  if (d->findAndGetSequence(DCM_PerFrameFunctionalGroupsSequence, per_frame_seq).good() && per_frame_seq &&
      per_frame_seq->card() > 0) {
    h.enhanced = true;
    const int n = std::min<int>(h.number_of_frames, int(per_frame_seq->card()));
    h.frames.reserve(n);
    for (int f = 0; f < n; ++f) {
      DcmItem* pf = per_frame_seq->getItem(f);
      FrameHeader fr;
      fr.frame = f;
      fr.instance_number = h.instance_number;
      fr.has_position = numbers(group(pf, shared, DCM_PlanePositionSequence), DCM_ImagePositionPatient,
                                fr.position.data(), 3);
      fr.has_orientation = numbers(group(pf, shared, DCM_PlaneOrientationSequence), DCM_ImageOrientationPatient,
                                   fr.orientation.data(), 6);
      fr.has_spacing = numbers(group(pf, shared, DCM_PixelMeasuresSequence), DCM_PixelSpacing,
                               fr.pixel_spacing.data(), 2);
      if (DcmItem* pvt = group(pf, shared, DCM_PixelValueTransformationSequence)) {
        fr.slope = number(pvt, DCM_RescaleSlope).value_or(1.0);
        fr.intercept = number(pvt, DCM_RescaleIntercept).value_or(0.0);
      } else {
        fr.slope = number(d, DCM_RescaleSlope).value_or(1.0);
        fr.intercept = number(d, DCM_RescaleIntercept).value_or(0.0);
      }
      if (fr.slope == 0) fr.slope = 1;
      // What distinguishes stacks inside one multi-frame object.
      std::string key, label;
      auto add = [&](const std::string& k, const std::string& l) {
        if (k.empty()) return;
        key += k + "|";
        if (!l.empty()) label += (label.empty() ? "" : ", ") + l;
      };
      DcmItem* ftype = group(pf, shared, DCM_MRImageFrameTypeSequence);
      if (!ftype) ftype = group(pf, shared, DCM_CTImageFrameTypeSequence);
      const std::string frame_type = str(ftype, DCM_FrameType);
      const std::string complex = str(ftype, DCM_ComplexImageComponent);
      std::string frame_type_last;
      if (!frame_type.empty()) {
        auto parts = splitValues(frame_type);
        frame_type_last = parts.size() >= 3 ? parts[2] + (parts.size() > 3 ? " " + parts[3] : "") : frame_type;
        for (const auto& p : parts)
          if (p == "LOCALIZER") fr.localizer = true;
      }
      add(frame_type, frame_type_last);
      add(complex, complex);
      if (auto te = number(group(pf, shared, DCM_MREchoSequence), DCM_EffectiveEchoTime)) add("te" + fmt(*te), "TE " + fmt(*te));
      if (auto b = number(group(pf, shared, DCM_MRDiffusionSequence), DCM_DiffusionBValue)) add("b" + fmt(*b), "b " + fmt(*b));
      DcmItem* content = group(pf, shared, DCM_FrameContentSequence);
      const std::string stack = str(content, DCM_StackID);
      add(stack.empty() ? "" : "stack" + stack, stack.empty() ? "" : "stack " + stack);
      if (auto t = number(content, DCM_TemporalPositionIndex)) add("t" + fmt(*t), "time " + fmt(*t));
      fr.split_key = key;
      fr.split_label = label;
      fr.localizer = fr.localizer || localizer;
      h.frames.push_back(fr);
    }
  } else {
    const int n = h.number_of_frames;  // classic multi-frame without groups: all frames share one plane
    FrameHeader fr;
    fr.instance_number = h.instance_number;
    fr.has_position = numbers(d, DCM_ImagePositionPatient, fr.position.data(), 3);
    fr.has_orientation = numbers(d, DCM_ImageOrientationPatient, fr.orientation.data(), 6);
    fr.has_spacing = numbers(d, DCM_PixelSpacing, fr.pixel_spacing.data(), 2);
    fr.slope = number(d, DCM_RescaleSlope).value_or(1.0);
    if (fr.slope == 0) fr.slope = 1;
    fr.intercept = number(d, DCM_RescaleIntercept).value_or(0.0);
    fr.localizer = localizer;
    std::string key, label;
    if (auto echo = number(d, DCM_EchoNumbers)) {
      key += "echo" + fmt(*echo) + "|";
      label = "echo " + fmt(*echo);
    }
    if (auto tp = number(d, DCM_TemporalPositionIdentifier)) {
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
