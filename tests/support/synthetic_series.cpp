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

WrittenSeries writeSyntheticSeries(const SyntheticSeries& s, const std::filesystem::path& dir) {
  std::filesystem::create_directories(dir);
  WrittenSeries out;
  out.study_instance_uid = s.study_instance_uid.empty() ? newUid() : s.study_instance_uid;
  out.series_instance_uid = s.series_instance_uid.empty() ? newUid() : s.series_instance_uid;
  const std::string for_uid = s.frame_of_reference_uid.empty() ? newUid() : s.frame_of_reference_uid;

  const Vec3 r{s.orientation[0], s.orientation[1], s.orientation[2]};
  const Vec3 c{s.orientation[3], s.orientation[4], s.orientation[5]};
  const Vec3 n{r[1] * c[2] - r[2] * c[1], r[2] * c[0] - r[0] * c[2], r[0] * c[1] - r[1] * c[0]};
  const Vec3 dirv = s.stack_direction.value_or(n);

  std::vector<Vec3> positions = s.positions;
  if (positions.empty()) {
    for (int k = 0; k < s.slices; ++k)
      positions.push_back({s.origin[0] + k * s.slice_spacing * dirv[0], s.origin[1] + k * s.slice_spacing * dirv[1],
                           s.origin[2] + k * s.slice_spacing * dirv[2]});
  }
  const int count = int(positions.size());

  // Instance numbers per slice.
  std::vector<int> instance(count);
  std::iota(instance.begin(), instance.end(), 1);
  if (s.instance_order == InstanceOrder::Descending) std::reverse(instance.begin(), instance.end());
  if (s.instance_order == InstanceOrder::Shuffled) std::shuffle(instance.begin(), instance.end(), std::mt19937(42));

  const bool ct = s.modality == "CT";
  const char* sop_class = ct ? UID_CTImageStorage : UID_MRImageStorage;
  E_TransferSyntax xfer = EXS_LittleEndianExplicit;
  if (s.transfer_syntax == SyntheticTransferSyntax::ImplicitLittle) xfer = EXS_LittleEndianImplicit;
  if (s.transfer_syntax == SyntheticTransferSyntax::ExplicitBig) xfer = EXS_BigEndianExplicit;

  const double default_value = ct ? -1000.0 : 0.0;
  const double lo = s.signed_pixels ? -32768.0 : 0.0, hi = s.signed_pixels ? 32767.0 : 65535.0;
  std::vector<Uint16> pixels(size_t(s.rows) * s.cols);
  std::string image_type;
  for (const auto& t : s.image_type) image_type += (image_type.empty() ? "" : "\\") + t;

  for (int k = 0; k < count; ++k) {
    const Vec3& p = positions[k];
    for (int j = 0; j < s.rows; ++j) {
      const double bx = p[0] + j * s.row_spacing * c[0], by = p[1] + j * s.row_spacing * c[1],
                   bz = p[2] + j * s.row_spacing * c[2];
      Uint16* row = pixels.data() + size_t(j) * s.cols;
      for (int i = 0; i < s.cols; ++i) {
        const Vec3 q{bx + i * s.col_spacing * r[0], by + i * s.col_spacing * r[1], bz + i * s.col_spacing * r[2]};
        const double v = s.value ? s.value(q) : default_value;
        double stored = std::nearbyint((v - s.rescale_intercept) / s.rescale_slope);
        stored = std::clamp(stored, lo, hi);
        row[i] = s.signed_pixels ? Uint16(Sint16(stored)) : Uint16(stored);
      }
    }

    DcmFileFormat file;
    DcmDataset* d = file.getDataset();
    const std::string sop_uid = newUid();
    check(d->putAndInsertString(DCM_SOPClassUID, sop_class), "SOPClassUID");
    d->putAndInsertString(DCM_SOPInstanceUID, sop_uid.c_str());
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
    d->putAndInsertString(DCM_ImageType, image_type.c_str());
    d->putAndInsertString(DCM_SeriesNumber, std::to_string(s.series_number).c_str());
    d->putAndInsertString(DCM_InstanceNumber, std::to_string(instance[k]).c_str());
    d->putAndInsertString(DCM_ImagePositionPatient, dsList(p.data(), 3).c_str());
    d->putAndInsertString(DCM_ImageOrientationPatient, dsList(s.orientation.data(), 6).c_str());
    const double ps[2] = {s.row_spacing, s.col_spacing};
    d->putAndInsertString(DCM_PixelSpacing, dsList(ps, 2).c_str());
    d->putAndInsertString(DCM_SliceThickness, ds(s.slice_spacing).c_str());
    d->putAndInsertUint16(DCM_SamplesPerPixel, 1);
    d->putAndInsertString(DCM_PhotometricInterpretation, "MONOCHROME2");
    d->putAndInsertUint16(DCM_Rows, Uint16(s.rows));
    d->putAndInsertUint16(DCM_Columns, Uint16(s.cols));
    d->putAndInsertUint16(DCM_BitsAllocated, 16);
    d->putAndInsertUint16(DCM_BitsStored, 16);
    d->putAndInsertUint16(DCM_HighBit, 15);
    d->putAndInsertUint16(DCM_PixelRepresentation, s.signed_pixels ? 1 : 0);
    if (ct || s.rescale_slope != 1.0 || s.rescale_intercept != 0.0) {
      d->putAndInsertString(DCM_RescaleIntercept, ds(s.rescale_intercept).c_str());
      d->putAndInsertString(DCM_RescaleSlope, ds(s.rescale_slope).c_str());
      if (ct) d->putAndInsertString(DCM_RescaleType, "HU");
    }
    if (s.pixel_padding_value) {
      if (s.signed_pixels)
        d->putAndInsertSint16(DCM_PixelPaddingValue, Sint16(*s.pixel_padding_value));
      else
        d->putAndInsertUint16(DCM_PixelPaddingValue, Uint16(*s.pixel_padding_value));
    }
    check(d->putAndInsertUint16Array(DCM_PixelData, pixels.data(), unsigned(pixels.size())), "PixelData");

    char name[64];
    std::snprintf(name, sizeof name, "%s%04d.dcm", s.file_prefix.c_str(), instance[k]);
    const auto path = dir / name;
    check(file.saveFile(path.c_str(), xfer), ("write " + path.string()).c_str());
    out.files.push_back(path);
    out.positions.push_back(p);
  }
  return out;
}

}  // namespace volnode::test
