// A series too large for the memory budget is averaged down in blocks while it is
// decoded. With a value that is a linear function of the patient position, the mean of
// a block is the value at the block's centre, so every reduced voxel must hold the
// coordinate of the point the reduced geometry says it is at.
#include <gtest/gtest.h>

#include <cmath>

#include "support/process.hpp"
#include "support/synthetic_series.hpp"
#include "volnode/volume/assembly.hpp"

namespace volnode {
namespace {

using test::SyntheticSeries;
using test::TempDir;
using test::Vec3;

SyntheticSeries orientedCoordinateSeries(int axis, std::array<double, 6> orientation = {1, 0, 0, 0, 1, 0}) {
  SyntheticSeries s;
  s.rows = 40;
  s.cols = 48;
  s.row_spacing = 0.5;
  s.col_spacing = 0.5;
  s.slices = 30;
  s.slice_spacing = 1.0;
  s.origin = {-12, -10, -15};
  s.orientation = orientation;
  s.value = [axis](const Vec3& p) { return 10.0 * p[axis]; };
  return s;
}

double worstPositionError(const Volume& v, int axis) {
  double worst = 0;
  for (int k = 0; k < v.dimensions[2]; ++k)
    for (int j = 0; j < v.dimensions[1]; ++j)
      for (int i = 0; i < v.dimensions[0]; ++i)
        worst = std::max(worst, std::abs(v.at(i, j, k) / 10.0 - v.physicalPoint(i, j, k)[axis]));
  return worst;
}

TEST(BlockReduction, AVolumeOverTheBudgetIsAveragedDownWithExactGeometry) {
  for (int axis = 0; axis < 3; ++axis) {
    SCOPED_TRACE(axis);
    TempDir dir;
    const auto written = test::writeSyntheticSeries(orientedCoordinateSeries(axis), dir.path());
    const SeriesAssembly full = assembleSeries(written.files);
    ASSERT_EQ(full.renderable().size(), 1u) << full.reason;
    const Volume& reference = *full.renderable()[0]->volume;
    ASSERT_EQ(reference.dimensions, (std::array<int, 3>{48, 40, 30}));

    AssemblyOptions options;
    options.max_volume_bytes = reference.voxels.size() * 2 / 3;  // needs more than halving one axis
    const SeriesAssembly reduced = assembleSeries(written.files, options);
    ASSERT_EQ(reduced.renderable().size(), 1u) << reduced.reason;
    const VolumeCandidate& c = *reduced.renderable()[0];
    const Volume& v = *c.volume;
    EXPECT_LE(v.voxels.size() * 2, options.max_volume_bytes);
    EXPECT_EQ(v.dimensions, c.dimensions);
    // The finest axes (0.5 mm in plane) are reduced first: 2x2x1 brings 57,600 voxels to 14,400.
    EXPECT_EQ(v.dimensions, (std::array<int, 3>{24, 20, 30}));
    EXPECT_DOUBLE_EQ(v.spacing[0], 1.0);
    EXPECT_DOUBLE_EQ(v.spacing[1], 1.0);
    EXPECT_DOUBLE_EQ(v.spacing[2], 1.0);
    EXPECT_LT(worstPositionError(v, axis), 0.1);
    ASSERT_FALSE(c.corrections.empty());
    EXPECT_NE(c.corrections.back().find("averaged 2x2x1 while decoding"), std::string::npos) << c.corrections.back();
    EXPECT_EQ(v.corrections, c.corrections);
  }
}

TEST(BlockReduction, ATiltedStackIsAveragedAfterItsResamplingWithExactGeometry) {
  // Gantry tilt goes through the resampling path; the reduction follows it.
  TempDir dir;
  auto s = orientedCoordinateSeries(2, test::tiltedAxial(15));
  s.stack_direction = Vec3{0, 0, 1};
  s.rescale_intercept = -1024;
  s.signed_pixels = true;
  const auto written = test::writeSyntheticSeries(s, dir.path());
  AssemblyOptions options;
  options.max_volume_bytes = 48 * 40 * 30 * 2 / 5;
  const SeriesAssembly reduced = assembleSeries(written.files, options);
  ASSERT_EQ(reduced.renderable().size(), 1u) << reduced.reason;
  const Volume& v = *reduced.renderable()[0]->volume;
  EXPECT_LE(v.voxels.size() * 2, options.max_volume_bytes);
  // Inside the acquired data: voxels whose whole block lies where the full-resolution
  // volume holds data (the tilt leaves fill at the edges).
  const SeriesAssembly full = assembleSeries(written.files);
  ASSERT_EQ(full.renderable().size(), 1u) << full.reason;
  const Volume& reference = *full.renderable()[0]->volume;
  const int fill = -1024;
  const int f[3] = {reference.dimensions[0] / v.dimensions[0], reference.dimensions[1] / v.dimensions[1],
                    reference.dimensions[2] / v.dimensions[2]};
  double worst = 0;
  int checked = 0;
  for (int k = 0; k < v.dimensions[2]; ++k)
    for (int j = 0; j < v.dimensions[1]; ++j)
      for (int i = 0; i < v.dimensions[0]; ++i) {
        bool acquired = true;
        for (int c = 0; c < f[2] && acquired; ++c)
          for (int b = 0; b < f[1] && acquired; ++b)
            for (int a = 0; a < f[0] && acquired; ++a)
              acquired = reference.at(i * f[0] + a, j * f[1] + b, k * f[2] + c) != fill;
        if (!acquired) continue;
        ++checked;
        worst = std::max(worst, std::abs(v.at(i, j, k) / 10.0 - v.physicalPoint(i, j, k)[2]));
      }
  EXPECT_GT(checked, v.voxels.size() / 2);
  EXPECT_LT(worst, 0.15);
}

TEST(BlockReduction, NoBudgetOrAVolumeWithinItIsDecodedAsIs) {
  TempDir dir;
  const auto written = test::writeSyntheticSeries(orientedCoordinateSeries(0), dir.path());
  const SeriesAssembly full = assembleSeries(written.files);
  AssemblyOptions options;
  options.max_volume_bytes = 48 * 40 * 30 * 2;  // exactly fits
  const SeriesAssembly within = assembleSeries(written.files, options);
  ASSERT_EQ(within.renderable().size(), 1u);
  EXPECT_TRUE(within.renderable()[0]->volume->voxels == full.renderable()[0]->volume->voxels);
  EXPECT_EQ(within.renderable()[0]->corrections, full.renderable()[0]->corrections);
}

}  // namespace
}  // namespace volnode
