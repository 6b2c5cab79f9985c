// Visible hull and reference intensity of generated volumes whose answers are
// known by construction. Plain C++: no display.
#include <gtest/gtest.h>

#include <cmath>

#include "volnode/render/volume_survey.hpp"

namespace volnode::render {
namespace {

// An ni x nj x nk grid of `background` with spacing (1, 2, 3) mm, origin (10, 20, 30), axes along L, P, H.
Volume grid(int ni, int nj, int nk, int16_t background) {
  Volume v;
  v.dimensions = {ni, nj, nk};
  v.spacing = {1, 2, 3};
  v.origin = {10, 20, 30};
  v.voxels.assign(v.voxelCount(), background);
  return v;
}

int16_t& at(Volume& v, int i, int j, int k) {
  return v.voxels[(size_t(k) * v.dimensions[1] + j) * v.dimensions[0] + i];
}

TEST(VolumeSurvey, HullOfABoxIsItsIndexBoxAndItsCentre) {
  Volume v = grid(20, 16, 12, -1000);
  for (int k = 3; k <= 8; ++k)
    for (int j = 2; j <= 10; ++j)
      for (int i = 5; i <= 14; ++i) at(v, i, j, k) = 200;
  at(v, 0, 0, 0) = 99;  // just below the threshold: not visible
  const VisibleHull hull = visibleHull(v, 99.5);  // rounded up to 100
  EXPECT_EQ(hull.threshold, 99.5);
  EXPECT_EQ(hull.index_lo, (std::array<int, 3>{5, 2, 3}));
  EXPECT_EQ(hull.index_hi, (std::array<int, 3>{14, 10, 8}));
  // Box centre in index (9.5, 6, 5.5) -> LPS 10 + 9.5, 20 + 12, 30 + 16.5.
  EXPECT_NEAR(hull.centre[0], 19.5, 1e-12);
  EXPECT_NEAR(hull.centre[1], 32, 1e-12);
  EXPECT_NEAR(hull.centre[2], 46.5, 1e-12);
  // Two points (first and last visible voxel) per visible i-line.
  EXPECT_EQ(hull.points.size(), size_t(2 * 9 * 6));
}

TEST(VolumeSurvey, AThresholdOnAVoxelValueIncludesIt) {
  Volume v = grid(8, 8, 8, 0);
  at(v, 3, 4, 5) = 100;
  const VisibleHull hull = visibleHull(v, 100);
  EXPECT_EQ(hull.index_lo, (std::array<int, 3>{3, 4, 5}));
  EXPECT_EQ(hull.index_hi, (std::array<int, 3>{3, 4, 5}));
  ASSERT_EQ(hull.points.size(), 1u);  // a line with one visible voxel gives one point
  EXPECT_EQ(hull.points[0], (Vec3{13, 28, 45}));
  EXPECT_EQ(hull.centre, (Vec3{13, 28, 45}));
}

TEST(VolumeSurvey, NothingVisibleFramesTheWholeGrid) {
  Volume v = grid(4, 5, 6, -1000);
  const VisibleHull hull = visibleHull(v, 0);
  EXPECT_EQ(hull.index_lo, (std::array<int, 3>{0, 0, 0}));
  EXPECT_EQ(hull.index_hi, (std::array<int, 3>{3, 4, 5}));
  EXPECT_EQ(hull.points.size(), 8u);
  EXPECT_EQ(hull.centre, (Vec3{11.5, 24, 37.5}));
}

TEST(VolumeSurvey, HullFollowsTheDirectionCosines) {
  // Axes along R, A, F: the hull's points are in LPS whatever the grid.
  Volume v = grid(6, 6, 6, 0);
  v.direction = {-1, 0, 0, 0, -1, 0, 0, 0, -1};
  at(v, 1, 2, 3) = 50;
  at(v, 4, 2, 3) = 50;
  const VisibleHull hull = visibleHull(v, 10);
  ASSERT_EQ(hull.points.size(), 2u);
  EXPECT_EQ(hull.points[0], (Vec3{9, 16, 21}));
  EXPECT_EQ(hull.points[1], (Vec3{6, 16, 21}));
  EXPECT_EQ(hull.centre, (Vec3{7.5, 16, 21}));
}

TEST(VolumeSurvey, ReferenceIntensityIsThe99thPercentileAboveTheBackground) {
  // 1000 voxels: 500 background (the minimum, left out), then 1..500 once each.
  Volume v = grid(10, 10, 10, -2048);
  for (int n = 0; n < 500; ++n) v.voxels[size_t(500 + n)] = int16_t(n + 1);
  // 99 % of 500 values = 495: the 495th smallest is 495.
  EXPECT_EQ(referenceIntensity(v), 495);
}

TEST(VolumeSurvey, ReferenceIntensityIsAtLeastOne) {
  EXPECT_EQ(referenceIntensity(grid(4, 4, 4, 7)), 1);  // all background
  Volume v = grid(4, 4, 4, -1000);
  for (auto& x : v.voxels) x = -500;
  v.voxels[0] = -1000;
  EXPECT_EQ(referenceIntensity(v), 1);  // every voxel above the background is negative
}

}  // namespace
}  // namespace volnode::render
