// Volume assembly on synthetic series (tests/support/synthetic_series.hpp):
// geometry is checked against analytic positions.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <iterator>
#include <string>

#include "support/dicom_files.hpp"
#include "support/synthetic_series.hpp"
#include "volnode/core/error.hpp"
#include "volnode/volume/assembly.hpp"
#include "volume_test_util.hpp"

namespace volnode {
namespace {

using test::SyntheticSeries;
using test::TempDir;
using test::Vec3;

// Value = 10 * (LPS coordinate `axis`), so every voxel tells where it came from (0.1 mm resolution).
SyntheticSeries coordinateSeries(int axis) {
  SyntheticSeries s;
  s.rows = 48;
  s.cols = 40;
  s.row_spacing = 0.9;
  s.col_spacing = 0.8;
  s.slices = 24;
  s.slice_spacing = 1.5;
  s.origin = {-20, -25, -10};
  s.value = [axis](const Vec3& p) { return 10.0 * p[axis]; };
  return s;
}

// Checks every voxel whose value came from acquired data (inside `margin` of all slices).
void expectPositionsMatch(const Volume& v, int axis, int x_lo, int x_hi, int y_lo, int y_hi) {
  int checked = 0;
  double worst = 0;
  for (int k = 0; k < v.dimensions[2]; ++k)
    for (int j = y_lo; j <= y_hi; ++j)
      for (int i = x_lo; i <= x_hi; ++i) {
        const double expected = v.physicalPoint(i, j, k)[axis];
        const double got = v.at(i, j, k) / 10.0;
        worst = std::max(worst, std::abs(got - expected));
        ++checked;
      }
  EXPECT_GT(checked, 1000);
  EXPECT_LT(worst, 0.1) << "axis " << axis;
}

TEST(Assembly, SyntheticAxialPositionsMatchSourceWithinTenthMm) {
  for (int axis = 0; axis < 3; ++axis) {
    TempDir dir;
    auto s = coordinateSeries(axis);
    s.instance_order = test::InstanceOrder::Shuffled;  // order must come from positions
    s.transfer_syntax = test::SyntheticTransferSyntax::ImplicitLittle;
    auto written = test::writeSyntheticSeries(s, dir.path());
    const auto a = assembleSeries(written.files);
    ASSERT_EQ(a.renderable().size(), 1u) << a.reason;
    const auto& c = *a.renderable()[0];
    EXPECT_TRUE(c.corrections.empty());
    EXPECT_EQ(c.dimensions, (std::array<int, 3>{40, 48, 24}));
    EXPECT_NEAR(c.spacing[0], 0.8, 1e-9);
    EXPECT_NEAR(c.spacing[1], 0.9, 1e-9);
    EXPECT_NEAR(c.spacing[2], 1.5, 1e-6);
    expectPositionsMatch(*c.volume, axis, 0, 39, 0, 47);
  }
}

TEST(Assembly, SyntheticGantryTiltIsResampledAndPositionsMatchWithinTenthMm) {
  for (int axis = 0; axis < 3; ++axis) {
    TempDir dir;
    auto s = coordinateSeries(axis);
    s.orientation = test::tiltedAxial(20.0);
    s.stack_direction = Vec3{0, 0, 1};  // table moves along z, the gantry is tilted
    s.transfer_syntax = test::SyntheticTransferSyntax::ExplicitBig;
    auto written = test::writeSyntheticSeries(s, dir.path());
    const auto a = assembleSeries(written.files);
    ASSERT_EQ(a.renderable().size(), 1u) << a.reason;
    const auto& c = *a.renderable()[0];
    EXPECT_NEAR(c.tilt_deg, 20.0, 0.05);
    ASSERT_TRUE(test::hasCorrection(c, "gantry tilt 20.0 deg resampled"));
    EXPECT_TRUE(c.uniform);
    // Slice spacing along the normal is the table step times cos(tilt).
    EXPECT_NEAR(c.spacing[2], 1.5 * std::cos(20.0 * M_PI / 180.0), 1e-3);
    const int extra_rows = c.dimensions[1] - s.rows;
    EXPECT_GT(extra_rows, 0);
    EXPECT_EQ(c.dimensions[0], s.cols);
    // Output rows [extra, rows-1] are covered by every source slice.
    expectPositionsMatch(*c.volume, axis, 0, s.cols - 1, extra_rows, s.rows - 1);
  }
}

TEST(Assembly, OrientationPhantomMarkersLandAtTheirLpsPositions) {
  TempDir dir;
  test::OrientationPhantom phantom;
  SyntheticSeries s;
  s.rows = s.cols = 128;
  s.slices = 70;
  s.slice_spacing = 2.0;
  s.origin = {-64, -64, -70};
  s.value = phantom.function();
  s.instance_order = test::InstanceOrder::Descending;
  auto written = test::writeSyntheticSeries(s, dir.path());
  const Volume v = assembleVolume(written.files);
  // Centroid of marker voxels near each marker.
  for (const Vec3& m : {phantom.leftMarker(), phantom.anteriorMarker(), phantom.headMarker()}) {
    Vec3 sum{0, 0, 0};
    int n = 0;
    for (int k = 0; k < v.dimensions[2]; ++k)
      for (int j = 0; j < v.dimensions[1]; ++j)
        for (int i = 0; i < v.dimensions[0]; ++i) {
          if (v.at(i, j, k) < 1000) continue;
          const auto p = v.physicalPoint(i, j, k);
          if (std::hypot(p[0] - m[0], p[1] - m[1], p[2] - m[2]) > 2 * phantom.marker_radius) continue;
          for (int a = 0; a < 3; ++a) sum[a] += p[a];
          ++n;
        }
    ASSERT_GT(n, 10);
    for (int a = 0; a < 3; ++a) EXPECT_NEAR(sum[a] / n, m[a], 1.0) << "axis " << a;
  }
}

TEST(Assembly, NonUniformSpacingIsResampledToMedianSpacing) {
  TempDir dir;
  auto s = coordinateSeries(2);
  s.positions.clear();
  double z = -10;
  for (int k = 0; k < 20; ++k) {
    s.positions.push_back({-20, -25, z});
    z += (k == 9) ? 3.0 : 2.0;  // one missing slice: a 3 mm gap in 2 mm spacing
  }
  auto written = test::writeSyntheticSeries(s, dir.path());
  const auto a = assembleSeries(written.files);
  ASSERT_EQ(a.renderable().size(), 1u) << a.reason;
  const auto& c = *a.renderable()[0];
  EXPECT_FALSE(c.uniform);
  EXPECT_TRUE(test::hasCorrection(c, "non-uniform spacing resampled"));
  EXPECT_NEAR(c.spacing[2], 2.0, 1e-9);
  EXPECT_EQ(c.dimensions[2], 20);  // floor(39 mm / 2) + 1: never extrapolated
  expectPositionsMatch(*c.volume, 2, 0, 39, 0, 47);
}

TEST(Assembly, GapLargerThanTwiceTheMedianSplitsTheStack) {
  TempDir dir;
  auto s = coordinateSeries(2);
  for (int k = 0; k < 10; ++k) s.positions.push_back({-20, -25, -10.0 + 2 * k});
  for (int k = 0; k < 8; ++k) s.positions.push_back({-20, -25, 40.0 + 2 * k});
  auto written = test::writeSyntheticSeries(s, dir.path());
  const auto a = scanSeries(written.files);
  ASSERT_EQ(a.volumes.size(), 2u);
  EXPECT_EQ(a.volumes[0].dimensions[2], 10);
  EXPECT_EQ(a.volumes[1].dimensions[2], 8);
  for (const auto& v : a.volumes) {
    EXPECT_EQ(v.decision, VolumeDecision::Renderable);
    EXPECT_NE(v.label.find("split"), std::string::npos);
  }
}

TEST(Assembly, RepeatedPositionsSplitIntoOneVolumePerRepetition) {
  TempDir dir;
  auto s = coordinateSeries(2);
  for (int phase = 0; phase < 3; ++phase)
    for (int k = 0; k < 12; ++k) s.positions.push_back({-20, -25, -10.0 + 2 * k});
  auto written = test::writeSyntheticSeries(s, dir.path());
  const auto a = scanSeries(written.files);
  ASSERT_EQ(a.renderable().size(), 3u) << a.reason;
  for (const auto* v : a.renderable()) EXPECT_EQ(v->dimensions[2], 12);
}

TEST(Assembly, PaddingValueIsMaskedToAirAndSlopeApplied) {
  TempDir dir;
  SyntheticSeries s;
  s.rows = s.cols = 16;
  s.slices = 5;
  s.signed_pixels = false;
  s.rescale_slope = 2.0;
  s.rescale_intercept = -1024;
  s.pixel_padding_value = 10;  // stored 10 would be -1004 HU: padding must become air
  s.value = [](const Vec3& p) { return p[0] < -20 ? -1004.0 : 100.0; };
  auto written = test::writeSyntheticSeries(s, dir.path());
  const Volume v = assembleVolume(written.files);
  EXPECT_EQ(v.at(15, 8, 2), 100);  // (100 + 1024) / 2 stored, * 2 - 1024
  EXPECT_EQ(v.at(0, 8, 2), -1024);
}

TEST(Assembly, ScanSeriesDoesNotDecodePixels) {
  TempDir dir;
  auto s = coordinateSeries(0);
  auto written = test::writeSyntheticSeries(s, dir.path());
  const auto a = scanSeries(written.files);
  ASSERT_EQ(a.renderable().size(), 1u);
  EXPECT_FALSE(a.renderable()[0]->volume.has_value());
  EXPECT_EQ(a.renderable()[0]->files.size(), 24u);
}

TEST(Assembly, NoVolumeThrowsNotAVolumeFromAssembleVolume) {
  TempDir dir;
  auto s = coordinateSeries(0);
  s.slices = 2;
  auto written = test::writeSyntheticSeries(s, dir.path());
  try {
    assembleVolume(written.files);
    FAIL() << "expected an exception";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), Errc::NotAVolume);
    EXPECT_NE(std::string(e.what()).find("too few slices (2)"), std::string::npos);
  }
}

}  // namespace
}  // namespace volnode

namespace volnode {
namespace {

// Bytes a sender controls that Debian's GDCM reads differently from DCMTK: GDCM used
// to abort the process (an assert() on a File Meta Information VR it cannot read) or
// to allocate 2 GB (text taken for a length after an unknown VR). Pixels are now
// decoded from a copy DCMTK writes (decode.cpp), so such slices decode like intact ones.
std::string fileBytes(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

void replaceOnce(const std::filesystem::path& file, const std::string& from, const std::string& to) {
  std::string bytes = fileBytes(file);
  const size_t at = bytes.find(from);
  ASSERT_NE(at, std::string::npos) << file;
  bytes.replace(at, from.size(), to);
  std::ofstream(file, std::ios::binary | std::ios::trunc) << bytes;
}

void expectSameVoxels(const SeriesAssembly& damaged, const SeriesAssembly& intact) {
  ASSERT_EQ(damaged.renderable().size(), 1u) << damaged.reason;
  ASSERT_EQ(intact.renderable().size(), 1u) << intact.reason;
  ASSERT_TRUE(damaged.renderable()[0]->volume.has_value());
  EXPECT_EQ(damaged.renderable()[0]->volume->voxels, intact.renderable()[0]->volume->voxels);
}

TEST(Assembly, SliceWithAnUnreadableFileMetaVrDecodesLikeItsIntactCopy) {
  test::TempDir dir;
  auto s = coordinateSeries(0);
  s.slices = 4;
  auto written = test::writeSyntheticSeries(s, dir.path());
  const auto intact = assembleSeries(written.files);
  // A bit flip in the VR of (0002,0003) MediaStorageSOPInstanceUID: "UI" -> "uI".
  replaceOnce(written.files[1], std::string("\x02\x00\x03\x00UI", 6), std::string("\x02\x00\x03\x00uI", 6));
  expectSameVoxels(assembleSeries(written.files), intact);
}

TEST(Assembly, SliceWithAnUnknownVrAndAPrivateStrayDecodesLikeItsIntactCopy) {
  test::TempDir dir;
  auto s = coordinateSeries(0);
  s.slices = 4;
  auto written = test::writeSyntheticSeries(s, dir.path());
  const auto intact = assembleSeries(written.files);
  // The corruption the fuzzer found: Modality (0008,0060) moved to the private group 00B9,
  // PatientName's VR "PN" -> "36" (in its file GDCM then took the text of a later value,
  // "Fuzz", for a 32-bit length and allocated 2 GB; fuzz/corpus/assembly keeps that file).
  replaceOnce(written.files[2], std::string("\x08\x00\x60\x00" "CS", 6), std::string("\xB9\x00\x60\x00" "CS", 6));
  replaceOnce(written.files[2], std::string("\x10\x00\x10\x00" "PN", 6), std::string("\x10\x00\x10\x00" "36", 6));
  expectSameVoxels(assembleSeries(written.files), intact);
}

// PixelRepresentation with the VR "UI" instead of "US": GDCM asserted reading it.
TEST(Assembly, SliceWithAPixelRepresentationOfTheWrongVrDoesNotEndTheProcess) {
  test::TempDir dir;
  auto s = coordinateSeries(0);
  s.slices = 4;
  auto written = test::writeSyntheticSeries(s, dir.path());
  replaceOnce(written.files[1], std::string("\x28\x00\x03\x01" "US", 6), std::string("\x28\x00\x03\x01" "UI", 6));
  const auto a = assembleSeries(written.files);
  ASSERT_EQ(a.volumes.size(), 1u);
  if (a.volumes[0].decision == VolumeDecision::Renderable) {
    EXPECT_TRUE(a.volumes[0].volume.has_value());
  }
}

// A sender's (0002,0001) element at the start of an Implicit VR data set: DCMTK reads a
// misplaced element, GDCM File Meta Information with a length of 0xFFFFFFF4.
TEST(Assembly, DatasetStartingWithAHostileGroup2ElementDecodesLikeItsIntactCopy) {
  test::TempDir dir;
  auto s = coordinateSeries(0);
  s.slices = 4;
  s.transfer_syntax = test::SyntheticTransferSyntax::ImplicitLittle;
  auto written = test::writeSyntheticSeries(s, dir.path());
  const auto intact = assembleSeries(written.files);
  auto hostile = dir.path() / "hostile.dcm";
  test::insertAtDatasetStart(written.files[2], test::implicitGroup2ElementWithHugeExplicitLength(), hostile);
  std::filesystem::rename(hostile, written.files[2]);
  expectSameVoxels(assembleSeries(written.files), intact);
}

TEST(Assembly, OversizedGridIsRefusedInsteadOfAllocated) {
  test::TempDir dir;
  auto s = coordinateSeries(0);
  auto written = test::writeSyntheticSeries(s, dir.path());
  AssemblyOptions o;
  o.max_voxels = 1000;
  const auto a = assembleSeries(written.files, o);
  EXPECT_EQ(a.decision, VolumeDecision::Refused);
  EXPECT_EQ(a.reason, "volume too large (40x48x24 voxels)");
}

}  // namespace
}  // namespace volnode
