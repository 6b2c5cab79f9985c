#pragma once
// Synthetic DICOM series for tests and benchmarks (DCMTK).
//
// Describe a series with SyntheticSeries and write it with writeSyntheticSeries():
// one single-frame CT/MR image per slice, stored values = (value(lps) - intercept) / slope.
//
// Geometry (all LPS, mm):
//   slice k is at position origin + k * slice_spacing * stack_direction
//   (stack_direction defaults to the slice normal row x col), unless `positions`
//   lists the ImagePositionPatient of every slice explicitly (gaps, duplicates).
//   Pixel (column i, row j) of a slice at P lies at P + i*col_spacing*row_dir + j*row_spacing*col_dir.
//   Gantry tilt: tilt the orientation (e.g. tiltedAxial()) and keep stack_direction at +z.
//
//   auto s = volnode::test::SyntheticSeries{};
//   s.rows = s.cols = 128; s.slices = 60;
//   s.value = volnode::test::OrientationPhantom{}.function();
//   auto written = volnode::test::writeSyntheticSeries(s, dir);
#include <array>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace volnode::test {

using Vec3 = std::array<double, 3>;
// Physical value (HU for CT) at an LPS position in mm.
using ValueFunction = std::function<double(const Vec3& lps)>;

enum class SyntheticTransferSyntax { ImplicitLittle, ExplicitLittle, ExplicitBig };
enum class InstanceOrder { Ascending, Descending, Shuffled };  // InstanceNumber vs. slice order

struct SyntheticSeries {
  std::string modality = "CT";  // "CT" or "MR"
  int rows = 64;
  int cols = 64;
  double row_spacing = 1.0;  // PixelSpacing[0]: distance between rows (along col_dir)
  double col_spacing = 1.0;  // PixelSpacing[1]: distance between columns (along row_dir)
  int slices = 32;
  double slice_spacing = 1.0;  // distance between consecutive positions along stack_direction
  Vec3 origin{-32, -32, 0};    // ImagePositionPatient of slice 0
  // ImageOrientationPatient: row cosines then column cosines.
  std::array<double, 6> orientation{1, 0, 0, 0, 1, 0};
  std::optional<Vec3> stack_direction;  // unit vector; default: row x col
  std::vector<Vec3> positions;          // explicit per-slice positions; overrides slices/spacing
  InstanceOrder instance_order = InstanceOrder::Ascending;

  std::string patient_name = "SYNTHETIC^PHANTOM";
  std::string patient_id = "SYN0001";
  std::string study_instance_uid;   // empty: generated
  std::string series_instance_uid;  // empty: generated
  std::string frame_of_reference_uid;  // empty: generated
  std::string series_description = "synthetic";
  std::string body_part = "HEAD";
  std::string study_description;     // empty: not written
  std::string contrast_bolus_agent;  // empty: not written
  std::vector<std::string> image_type{"ORIGINAL", "PRIMARY", "AXIAL"};
  int series_number = 1;

  SyntheticTransferSyntax transfer_syntax = SyntheticTransferSyntax::ExplicitLittle;
  bool signed_pixels = true;       // PixelRepresentation 1 (else 0, values clamped at 0)
  double rescale_slope = 1.0;
  double rescale_intercept = 0.0;  // e.g. -1024 with unsigned pixels
  std::optional<int> pixel_padding_value;  // stored value written as (0028,0120)

  ValueFunction value;  // default: -1000 everywhere (CT air) / 0 (MR)
  std::string file_prefix = "IM";  // files are <prefix><instance number, 4 digits>.dcm
};

struct WrittenSeries {
  std::vector<std::filesystem::path> files;  // in slice order (slice 0 first)
  std::vector<Vec3> positions;               // ImagePositionPatient per slice, same order
  std::string study_instance_uid;
  std::string series_instance_uid;
};

// Writes the series into dir (created if missing). Throws std::runtime_error on failure.
WrittenSeries writeSyntheticSeries(const SyntheticSeries& series, const std::filesystem::path& dir);

// Writes the same series as one Enhanced CT Image object (CT only): one frame per slice,
// spacing, orientation and rescale in the shared functional groups, each frame's position
// in its own. `files` holds the one file; instance_order and file_prefix do not apply.
WrittenSeries writeSyntheticEnhancedCt(const SyntheticSeries& series, const std::filesystem::path& file);

// The row/col cosines of an axial slice tilted about the patient's left-right axis
// by tilt_deg (gantry tilt): row (1,0,0), col (0, cos t, -sin t).
std::array<double, 6> tiltedAxial(double tilt_deg);

// An analytic phantom for orientation tests: a water ellipsoid (body) in air with
// three bright spheres (bone) just inside its surface at the patient's left (+x),
// anterior (-y) and head end (+z). Everything else: air.
struct OrientationPhantom {
  Vec3 center{0, 0, 0};
  Vec3 radii{50, 40, 60};       // semi-axes along x (L), y (P), z (S)
  double marker_radius = 6;
  double body_value = 40;       // HU
  double air_value = -1000;
  double marker_value = 1500;

  Vec3 leftMarker() const { return {center[0] + radii[0] - 2 * marker_radius, center[1], center[2]}; }
  Vec3 anteriorMarker() const { return {center[0], center[1] - radii[1] + 2 * marker_radius, center[2]}; }
  Vec3 headMarker() const { return {center[0], center[1], center[2] + radii[2] - 2 * marker_radius}; }
  double operator()(const Vec3& p) const;
  ValueFunction function() const { return *this; }
};

}  // namespace volnode::test
