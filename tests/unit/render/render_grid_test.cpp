// Crop, downsampling and flip of the rendered grid on generated volumes: every
// grid voxel must hold the mean (or maximum) of the source voxels it covers and
// sit at their centre in patient space. Plain C++: no display.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "volnode/render/render_grid.hpp"

namespace volnode::render {
namespace {

// A volume whose voxel values differ from their neighbours' (so a wrong index shows).
Volume patterned(std::array<int, 3> dims, Vec3 spacing, std::array<double, 9> direction) {
  Volume v;
  v.dimensions = dims;
  v.spacing = spacing;
  v.direction = direction;
  v.origin = {-40, 25, 100};
  v.voxels.resize(v.voxelCount());
  size_t n = 0;
  for (int k = 0; k < dims[2]; ++k)
    for (int j = 0; j < dims[1]; ++j)
      for (int i = 0; i < dims[0]; ++i) v.voxels[n++] = int16_t((i * 7 + j * 131 + k * 1009) % 2000 - 1000);
  return v;
}

const std::array<double, 9> kIdentity{1, 0, 0, 0, 1, 0, 0, 0, 1};

Vec3 gridPoint(const RenderGrid& g, int I, int J, int K) {
  const double d[3] = {I * g.spacing[0], J * g.spacing[1], K * g.spacing[2]};
  Vec3 p{};
  for (int r = 0; r < 3; ++r)
    p[r] = g.origin[r] + g.direction[r * 3] * d[0] + g.direction[r * 3 + 1] * d[1] + g.direction[r * 3 + 2] * d[2];
  return p;
}

int16_t gridAt(const RenderGrid& g, int I, int J, int K) {
  return g.data[(size_t(K) * g.dims[1] + J) * g.dims[0] + I];
}

double det(const std::array<double, 9>& d) {
  return d[0] * (d[4] * d[8] - d[5] * d[7]) - d[1] * (d[3] * d[8] - d[5] * d[6]) + d[2] * (d[3] * d[7] - d[4] * d[6]);
}

// Checks every grid voxel against the source block it stands for.
void expectGridMatchesSource(const Volume& v, const GridPlan& plan, const RenderGrid& g) {
  const auto& f = plan.factors;
  ASSERT_NE(g.data, nullptr);
  EXPECT_GT(det(g.direction), 0);  // never mirrored
  for (int K = 0; K < g.dims[2]; ++K)
    for (int J = 0; J < g.dims[1]; ++J)
      for (int I = 0; I < g.dims[0]; ++I) {
        // The source block's first index along k depends on the flip.
        const int k0 = plan.lo[2] + (plan.flip_k ? g.dims[2] - 1 - K : K) * f[2];
        const int i0 = plan.lo[0] + I * f[0], j0 = plan.lo[1] + J * f[1];
        long sum = 0;
        int max = -32768;
        for (int dk = 0; dk < f[2]; ++dk)
          for (int dj = 0; dj < f[1]; ++dj)
            for (int di = 0; di < f[0]; ++di) {
              sum += v.at(i0 + di, j0 + dj, k0 + dk);
              max = std::max<int>(max, v.at(i0 + di, j0 + dj, k0 + dk));
            }
        const int expected = plan.max_pooling ? max : int(std::lround(double(sum) / (f[0] * f[1] * f[2])));
        ASSERT_EQ(gridAt(g, I, J, K), expected) << "grid voxel " << I << "," << J << "," << K;
        const Vec3 centre = v.physicalPoint(i0 + (f[0] - 1) / 2.0, j0 + (f[1] - 1) / 2.0, k0 + (f[2] - 1) / 2.0);
        const Vec3 p = gridPoint(g, I, J, K);
        for (int c = 0; c < 3; ++c) ASSERT_NEAR(p[c], centre[c], 1e-9) << "grid voxel " << I << "," << J << "," << K;
      }
}

TEST(RenderGrid, FactorsFollowThePixelSizeWithinOneToFour) {
  const Volume v = patterned({8, 8, 8}, {0.5, 0.9, 2.0}, kIdentity);
  const std::array<int, 3> lo{0, 0, 0}, hi{7, 7, 7};
  // ratio 2.5 x 1 mm pixels: 5 -> 4, 2.77 -> 2, 1.25 -> 1.
  EXPECT_EQ(planGrid(v, lo, hi, 1.0, 2.5, false).factors, (std::array<int, 3>{4, 2, 1}));
  // Exactly 2 (2.5 x 0.4 / 0.5) is 2, not 1.
  EXPECT_EQ(planGrid(v, lo, hi, 0.4, 2.5, false).factors[0], 2);
  // Pixels finer than the voxels, or downsampling off.
  EXPECT_EQ(planGrid(v, lo, hi, 0.1, 2.5, false).factors, (std::array<int, 3>{1, 1, 1}));
  EXPECT_EQ(planGrid(v, lo, hi, 10.0, 0, false).factors, (std::array<int, 3>{1, 1, 1}));
}

TEST(RenderGrid, CropKeepsTheVisibleBoxWithAMarginAlignedToTheFactors) {
  const Volume v = patterned({100, 90, 80}, {1, 1, 1}, kIdentity);
  const std::array<int, 3> vis_lo{41, 40, 30}, vis_hi{59, 50, 45};
  const GridPlan full = planGrid(v, vis_lo, vis_hi, 0.1, 2.5, false);  // factors 1: margin 2
  EXPECT_EQ(full.lo, (std::array<int, 3>{39, 38, 28}));
  EXPECT_EQ(full.hi, (std::array<int, 3>{61, 52, 47}));
  EXPECT_TRUE(full.cropped(v));
  const GridPlan half = planGrid(v, vis_lo, vis_hi, 0.8, 2.5, false);  // factors 2: margin 4, lo even
  ASSERT_EQ(half.factors, (std::array<int, 3>{2, 2, 2}));
  EXPECT_EQ(half.lo, (std::array<int, 3>{36, 36, 26}));
  EXPECT_EQ(half.hi, (std::array<int, 3>{63, 54, 49}));
  const RenderGrid g = buildGrid(v, half);
  EXPECT_EQ(g.dims, (std::array<int, 3>{14, 9, 12}));
  expectGridMatchesSource(v, half, g);
}

TEST(RenderGrid, AnAlmostWholeBoxKeepsTheWholeGridAndSharesTheVoxels) {
  const Volume v = patterned({40, 40, 40}, {1, 1, 1}, kIdentity);
  const GridPlan plan = planGrid(v, {1, 0, 1}, {38, 39, 38}, 0.1, 2.5, true);
  EXPECT_EQ(plan.lo, (std::array<int, 3>{0, 0, 0}));
  EXPECT_EQ(plan.hi, (std::array<int, 3>{39, 39, 39}));
  EXPECT_FALSE(plan.cropped(v));
  EXPECT_FALSE(plan.max_pooling);  // no downsampling: mean and maximum are the same grid
  const RenderGrid g = buildGrid(v, plan);
  EXPECT_EQ(g.data, v.voxels.data());
  EXPECT_TRUE(g.own.empty());
  EXPECT_EQ(g.origin, (Vec3{-40, 25, 100}));
}

TEST(RenderGrid, BoxAverageAndMaxPoolingDownsample) {
  const Volume v = patterned({17, 12, 9}, {0.5, 0.5, 1.0}, kIdentity);
  const std::array<int, 3> lo{0, 0, 0}, hi{16, 11, 8};
  for (bool use_max : {false, true}) {
    SCOPED_TRACE(use_max ? "max" : "mean");
    const GridPlan plan = planGrid(v, lo, hi, 0.6, 2.5, use_max);  // factors 3, 3, 1
    ASSERT_EQ(plan.factors, (std::array<int, 3>{3, 3, 1}));
    EXPECT_EQ(plan.max_pooling, use_max);
    const RenderGrid g = buildGrid(v, plan);
    EXPECT_EQ(g.dims, (std::array<int, 3>{5, 4, 9}));  // a partial block at the end is left out
    EXPECT_EQ(g.spacing, (Vec3{1.5, 1.5, 1.0}));
    expectGridMatchesSource(v, plan, g);
  }
}

TEST(RenderGrid, AMirroredGridIsFlippedAlongKAndKeepsEveryVoxelInPlace) {
  // Reversed slice order (k towards the feet) and an oblique, mirrored grid.
  const double c = std::cos(0.3), s = std::sin(0.3);
  for (const auto& direction : {std::array<double, 9>{1, 0, 0, 0, 1, 0, 0, 0, -1},
                                std::array<double, 9>{c, 0, s, 0, 1, 0, s, 0, -c}}) {
    const Volume v = patterned({10, 11, 12}, {0.7, 0.8, 1.5}, direction);
    ASSERT_LT(det(direction), 0);
    for (double pixel_mm : {0.1, 0.8}) {  // without and with downsampling
      SCOPED_TRACE(pixel_mm);
      const GridPlan plan = planGrid(v, {0, 0, 0}, {9, 10, 11}, pixel_mm, 2.5, false);
      EXPECT_TRUE(plan.flip_k);
      const RenderGrid g = buildGrid(v, plan);
      EXPECT_FALSE(g.own.empty());
      expectGridMatchesSource(v, plan, g);
    }
  }
}

TEST(RenderGrid, PlansAreEqualExactlyWhenTheyBuildTheSameGrid) {
  const Volume v = patterned({30, 30, 30}, {1, 1, 1}, kIdentity);
  const std::array<int, 3> lo{10, 10, 10}, hi{15, 15, 15};
  EXPECT_EQ(planGrid(v, lo, hi, 1.0, 2.5, false), planGrid(v, lo, hi, 1.0, 2.5, false));
  EXPECT_NE(planGrid(v, lo, hi, 1.0, 2.5, false), planGrid(v, lo, hi, 1.0, 2.5, true));   // mean vs max
  EXPECT_EQ(planGrid(v, lo, hi, 0.1, 2.5, false), planGrid(v, lo, hi, 0.1, 2.5, true));   // not downsampled
  EXPECT_NE(planGrid(v, lo, hi, 1.0, 2.5, false), planGrid(v, lo, hi, 2.0, 2.5, false));  // other factors
  EXPECT_NE(planGrid(v, lo, hi, 0.1, 2.5, false), planGrid(v, {9, 10, 10}, hi, 0.1, 2.5, false));  // other box
}

}  // namespace
}  // namespace volnode::render
