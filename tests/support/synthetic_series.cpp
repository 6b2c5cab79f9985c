#include "support/synthetic_series.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <numeric>
#include <random>
#include <stdexcept>

#include <dcmtk/dcmdata/dctk.h>

namespace volnode::test {
namespace {

std::string ds(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.6g", v);
  // DS is at most 16 characters.
  std::string s = buf;
  if (s.size() > 16) {
    std::snprintf(buf, sizeof buf, "%.8g", v);
    s = buf;
    if (s.size() > 16) s = s.substr(0, 16);
  }
  return s;
}

std::string dsList(const double* v, int n) {
  std::string s;
  for (int i = 0; i < n; ++i) {
    if (i) s += '\\';
    s += ds(v[i]);
  }
  return s;
}

std::string newUid() {
  char uid[100];
  dcmGenerateUniqueIdentifier(uid, SITE_INSTANCE_UID_ROOT);
  return uid;
}

void check(OFCondition c, const char* what) {
  if (c.bad()) throw std::runtime_error(std::string("synthetic series: ") + what + ": " + c.text());
}

}  // namespace

std::array<double, 6> tiltedAxial(double tilt_deg) {
  const double t = tilt_deg * M_PI / 180.0;
  return {1, 0, 0, 0, std::cos(t), -std::sin(t)};
}

double OrientationPhantom::operator()(const Vec3& p) const {
  auto inSphere = [&](const Vec3& c) {
    const double dx = p[0] - c[0], dy = p[1] - c[1], dz = p[2] - c[2];
    return dx * dx + dy * dy + dz * dz <= marker_radius * marker_radius;
  };
  if (inSphere(leftMarker()) || inSphere(anteriorMarker()) || inSphere(headMarker())) return marker_value;
  const double x = (p[0] - center[0]) / radii[0], y = (p[1] - center[1]) / radii[1], z = (p[2] - center[2]) / radii[2];
  return x * x + y * y + z * z <= 1.0 ? body_value : air_value;
}

namespace {

struct StackGeometry {
  Vec3 row, col;               // ImageOrientationPatient
  std::vector<Vec3> positions;  // ImagePositionPatient per slice, slice 0 first
};

StackGeometry stackGeometry(const SyntheticSeries& s) {
  StackGeometry g;
  g.row = {s.orientation[0], s.orientation[1], s.orientation[2]};
  g.col = {s.orientation[3], s.orientation[4], s.orientation[5]};
  const Vec3& r = g.row;
  const Vec3& c = g.col;
  const Vec3 n{r[1] * c[2] - r[2] * c[1], r[2] * c[0] - r[0] * c[2], r[0] * c[1] - r[1] * c[0]};
  const Vec3 dirv = s.stack_direction.value_or(n);
  g.positions = s.positions;
  if (g.positions.empty()) {
    for (int k = 0; k < s.slices; ++k)
      g.positions.push_back({s.origin[0] + k * s.slice_spacing * dirv[0], s.origin[1] + k * s.slice_spacing * dirv[1],
                             s.origin[2] + k * s.slice_spacing * dirv[2]});
  }
  return g;
}

// The stored values of the slice at `p`: s.value sampled at each pixel centre.
void sampleSlice(const SyntheticSeries& s, const StackGeometry& g, const Vec3& p, Uint16* pixels) {
  const Vec3& r = g.row;
  const Vec3& c = g.col;
  const double default_value = s.modality == "CT" ? -1000.0 : 0.0;
  const double lo = s.signed_pixels ? -32768.0 : 0.0, hi = s.signed_pixels ? 32767.0 : 65535.0;
  for (int j = 0; j < s.rows; ++j) {
    const double bx = p[0] + j * s.row_spacing * c[0], by = p[1] + j * s.row_spacing * c[1],
                 bz = p[2] + j * s.row_spacing * c[2];
    Uint16* row = pixels + size_t(j) * s.cols;
    for (int i = 0; i < s.cols; ++i) {
      const Vec3 q{bx + i * s.col_spacing * r[0], by + i * s.col_spacing * r[1], bz + i * s.col_spacing * r[2]};
      const double v = s.value ? s.value(q) : default_value;
      double stored = std::nearbyint((v - s.rescale_intercept) / s.rescale_slope);
      stored = std::clamp(stored, lo, hi);
      row[i] = s.signed_pixels ? Uint16(Sint16(stored)) : Uint16(stored);
    }
  }
}

E_TransferSyntax transferSyntaxOf(const SyntheticSeries& s) {
  if (s.transfer_syntax == SyntheticTransferSyntax::ImplicitLittle) return EXS_LittleEndianImplicit;
  if (s.transfer_syntax == SyntheticTransferSyntax::ExplicitBig) return EXS_BigEndianExplicit;
  return EXS_LittleEndianExplicit;
}

std::string joined(const std::vector<std::string>& values) {
  std::string out;
  for (const auto& v : values) out += (out.empty() ? "" : "\\") + v;
  return out;
}

// Patient, study, series and the Image Pixel module: what every written object shares.
void putCommon(DcmDataset* d, const SyntheticSeries& s, const WrittenSeries& out, const std::string& for_uid,
               const char* sop_class) {
  check(d->putAndInsertString(DCM_SOPClassUID, sop_class), "SOPClassUID");
  d->putAndInsertString(DCM_SOPInstanceUID, newUid().c_str());
  d->putAndInsertString(DCM_StudyInstanceUID, out.study_instance_uid.c_str());
  d->putAndInsertString(DCM_SeriesInstanceUID, out.series_instance_uid.c_str());
  d->putAndInsertString(DCM_FrameOfReferenceUID, for_uid.c_str());
  d->putAndInsertString(DCM_Modality, s.modality.c_str());
  d->putAndInsertString(DCM_PatientName, s.patient_name.c_str());
  d->putAndInsertString(DCM_PatientID, s.patient_id.c_str());
  d->putAndInsertString(DCM_StudyDate, "20240101");
  d->putAndInsertString(DCM_StudyTime, "120000");
  d->putAndInsertString(DCM_SeriesDescription, s.series_description.c_str());
  d->putAndInsertString(DCM_BodyPartExamined, s.body_part.c_str());
  if (!s.study_description.empty()) d->putAndInsertString(DCM_StudyDescription, s.study_description.c_str());
  if (!s.contrast_bolus_agent.empty()) d->putAndInsertString(DCM_ContrastBolusAgent, s.contrast_bolus_agent.c_str());
  d->putAndInsertString(DCM_SeriesNumber, std::to_string(s.series_number).c_str());
  d->putAndInsertUint16(DCM_SamplesPerPixel, 1);
  d->putAndInsertString(DCM_PhotometricInterpretation, "MONOCHROME2");
  d->putAndInsertUint16(DCM_Rows, Uint16(s.rows));
  d->putAndInsertUint16(DCM_Columns, Uint16(s.cols));
  d->putAndInsertUint16(DCM_BitsAllocated, 16);
  d->putAndInsertUint16(DCM_BitsStored, 16);
  d->putAndInsertUint16(DCM_HighBit, 15);
  d->putAndInsertUint16(DCM_PixelRepresentation, s.signed_pixels ? 1 : 0);
  if (s.pixel_padding_value) {
    if (s.signed_pixels)
      d->putAndInsertSint16(DCM_PixelPaddingValue, Sint16(*s.pixel_padding_value));
    else
      d->putAndInsertUint16(DCM_PixelPaddingValue, Uint16(*s.pixel_padding_value));
  }
}

}  // namespace

WrittenSeries writeSyntheticSeries(const SyntheticSeries& s, const std::filesystem::path& dir) {
  std::filesystem::create_directories(dir);
  WrittenSeries out;
  out.study_instance_uid = s.study_instance_uid.empty() ? newUid() : s.study_instance_uid;
  out.series_instance_uid = s.series_instance_uid.empty() ? newUid() : s.series_instance_uid;
  const std::string for_uid = s.frame_of_reference_uid.empty() ? newUid() : s.frame_of_reference_uid;
  const StackGeometry geometry = stackGeometry(s);
  const int count = int(geometry.positions.size());

  // Instance numbers per slice.
  std::vector<int> instance(count);
  std::iota(instance.begin(), instance.end(), 1);
  if (s.instance_order == InstanceOrder::Descending) std::reverse(instance.begin(), instance.end());
  if (s.instance_order == InstanceOrder::Shuffled) std::shuffle(instance.begin(), instance.end(), std::mt19937(42));

  const bool ct = s.modality == "CT";
  std::vector<Uint16> pixels(size_t(s.rows) * s.cols);
  for (int k = 0; k < count; ++k) {
    const Vec3& p = geometry.positions[k];
    sampleSlice(s, geometry, p, pixels.data());

    DcmFileFormat file;
    DcmDataset* d = file.getDataset();
    putCommon(d, s, out, for_uid, ct ? UID_CTImageStorage : UID_MRImageStorage);
    d->putAndInsertString(DCM_ImageType, joined(s.image_type).c_str());
    d->putAndInsertString(DCM_InstanceNumber, std::to_string(instance[k]).c_str());
    d->putAndInsertString(DCM_ImagePositionPatient, dsList(p.data(), 3).c_str());
    d->putAndInsertString(DCM_ImageOrientationPatient, dsList(s.orientation.data(), 6).c_str());
    const double ps[2] = {s.row_spacing, s.col_spacing};
    d->putAndInsertString(DCM_PixelSpacing, dsList(ps, 2).c_str());
    d->putAndInsertString(DCM_SliceThickness, ds(s.slice_spacing).c_str());
    if (ct || s.rescale_slope != 1.0 || s.rescale_intercept != 0.0) {
      d->putAndInsertString(DCM_RescaleIntercept, ds(s.rescale_intercept).c_str());
      d->putAndInsertString(DCM_RescaleSlope, ds(s.rescale_slope).c_str());
      if (ct) d->putAndInsertString(DCM_RescaleType, "HU");
    }
    check(d->putAndInsertUint16Array(DCM_PixelData, pixels.data(), unsigned(pixels.size())), "PixelData");

    char name[64];
    std::snprintf(name, sizeof name, "%s%04d.dcm", s.file_prefix.c_str(), instance[k]);
    const auto path = dir / name;
    check(file.saveFile(path.c_str(), transferSyntaxOf(s)), ("write " + path.string()).c_str());
    out.files.push_back(path);
    out.positions.push_back(p);
  }
  return out;
}

WrittenSeries writeSyntheticEnhancedCt(const SyntheticSeries& s, const std::filesystem::path& file) {
  if (s.modality != "CT") throw std::runtime_error("synthetic series: the enhanced writer writes CT only");
  if (file.has_parent_path()) std::filesystem::create_directories(file.parent_path());
  WrittenSeries out;
  out.study_instance_uid = s.study_instance_uid.empty() ? newUid() : s.study_instance_uid;
  out.series_instance_uid = s.series_instance_uid.empty() ? newUid() : s.series_instance_uid;
  const std::string for_uid = s.frame_of_reference_uid.empty() ? newUid() : s.frame_of_reference_uid;
  const StackGeometry geometry = stackGeometry(s);
  const size_t frames = geometry.positions.size(), frame_pixels = size_t(s.rows) * s.cols;

  DcmFileFormat format;
  DcmDataset* d = format.getDataset();
  putCommon(d, s, out, for_uid, UID_EnhancedCTImageStorage);
  d->putAndInsertString(DCM_ImageType, "ORIGINAL\\PRIMARY\\AXIAL\\NONE");
  d->putAndInsertString(DCM_InstanceNumber, "1");
  d->putAndInsertString(DCM_NumberOfFrames, std::to_string(frames).c_str());

  // Shared: spacing, orientation, rescale, frame type. Per frame: position and stack place.
  DcmItem* shared = nullptr;
  check(d->findOrCreateSequenceItem(DCM_SharedFunctionalGroupsSequence, shared, 0), "shared groups");
  DcmItem* group = nullptr;
  check(shared->findOrCreateSequenceItem(DCM_PixelMeasuresSequence, group, 0), "pixel measures");
  const double ps[2] = {s.row_spacing, s.col_spacing};
  group->putAndInsertString(DCM_PixelSpacing, dsList(ps, 2).c_str());
  group->putAndInsertString(DCM_SliceThickness, ds(s.slice_spacing).c_str());
  check(shared->findOrCreateSequenceItem(DCM_PlaneOrientationSequence, group, 0), "plane orientation");
  group->putAndInsertString(DCM_ImageOrientationPatient, dsList(s.orientation.data(), 6).c_str());
  check(shared->findOrCreateSequenceItem(DCM_PixelValueTransformationSequence, group, 0), "rescale");
  group->putAndInsertString(DCM_RescaleIntercept, ds(s.rescale_intercept).c_str());
  group->putAndInsertString(DCM_RescaleSlope, ds(s.rescale_slope).c_str());
  group->putAndInsertString(DCM_RescaleType, "HU");
  check(shared->findOrCreateSequenceItem(DCM_CTImageFrameTypeSequence, group, 0), "frame type");
  group->putAndInsertString(DCM_FrameType, "ORIGINAL\\PRIMARY\\AXIAL\\NONE");

  std::vector<Uint16> pixels(frame_pixels * frames);
  for (size_t k = 0; k < frames; ++k) {
    const Vec3& p = geometry.positions[k];
    sampleSlice(s, geometry, p, pixels.data() + k * frame_pixels);
    DcmItem* frame = nullptr;
    check(d->findOrCreateSequenceItem(DCM_PerFrameFunctionalGroupsSequence, frame, long(k)), "per-frame groups");
    check(frame->findOrCreateSequenceItem(DCM_PlanePositionSequence, group, 0), "plane position");
    group->putAndInsertString(DCM_ImagePositionPatient, dsList(p.data(), 3).c_str());
    check(frame->findOrCreateSequenceItem(DCM_FrameContentSequence, group, 0), "frame content");
    group->putAndInsertString(DCM_StackID, "1");
    group->putAndInsertUint32(DCM_InStackPositionNumber, Uint32(k + 1));
    out.positions.push_back(p);
  }
  check(d->putAndInsertUint16Array(DCM_PixelData, pixels.data(), unsigned(pixels.size())), "PixelData");
  check(format.saveFile(file.c_str(), transferSyntaxOf(s)), ("write " + file.string()).c_str());
  out.files.push_back(file);
  return out;
}

}  // namespace volnode::test
