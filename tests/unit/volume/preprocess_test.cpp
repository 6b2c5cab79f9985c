// Preprocessing: isotropic resampling, crop to body (table removal), smoothing, clamping.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "support/synthetic_series.hpp"
#include "volnode/core/error.hpp"
#include "volnode/volume/assembly.hpp"
#include "volnode/volume/preprocess.hpp"
#include "volume_test_util.hpp"

namespace volnode {
namespace {

using test::Vec3;

// A synthetic CT volume built in memory: body ellipsoid + a table slab below it (posterior, +y).
Volume bodyWithTable() {
  Volume v;
  v.modality = "CT";
  v.dimensions = {80, 80, 20};
  v.spacing = {1.0, 1.0, 2.5};
  v.origin = {-40, -40, 0};
  v.voxels.resize(v.voxelCount());
  for (int k = 0; k < 20; ++k)
    for (int j = 0; j < 80; ++j)
      for (int i = 0; i < 80; ++i) {
        const auto p = v.physicalPoint(i, j, k);
        const double e = (p[0] / 25) * (p[0] / 25) + (p[1] / 20) * (p[1] / 20);
        const double lung = ((p[0] - 10) / 6) * ((p[0] - 10) / 6) + (p[1] / 6) * (p[1] / 6);
        int16_t val = -1000;
        if (e <= 1) val = lung <= 1 ? -850 : 40;                 // body with an air-like lung inside
        if (p[1] >= 26 && p[1] <= 30 && std::abs(p[0]) < 35) val = 200;  // the table, detached
        if (e <= 1 && i == 40 && j == 40 && k == 10) val = 5000;          // an outlier
        v.voxels[(size_t(k) * 80 + j) * 80 + i] = val;
      }
  return v;
}

TEST(Preprocess, CropToBodyRemovesTheTableAndKeepsInnerAir) {
  PreprocessOptions o;
  o.isotropic = false;
  o.crop_body = true;
  o.clamp = std::make_pair(-1024, 3071);
  const auto r = preprocess(bodyWithTable(), o);
  const Volume& v = r.volume;
  // Cropped to the body's bounding box (+2 voxel margin): 51 x 41 plus margins.
  EXPECT_LE(v.dimensions[0], 56);
  EXPECT_LE(v.dimensions[1], 46);
  EXPECT_EQ(v.dimensions[2], 20);
  int table = 0, lung = 0, outlier = 0;
  for (int k = 0; k < v.dimensions[2]; ++k)
    for (int j = 0; j < v.dimensions[1]; ++j)
      for (int i = 0; i < v.dimensions[0]; ++i) {
        const auto p = v.physicalPoint(i, j, k);
        const int16_t x = v.at(i, j, k);
        if (x == 200) ++table;
        if (x == -850) ++lung;
        if (x > 3071) ++outlier;
        EXPECT_LT(p[1], 26.0);  // nothing of the table region is left
      }
  EXPECT_EQ(table, 0);
  EXPECT_GT(lung, 100) << "air inside the body must be kept";
  EXPECT_EQ(outlier, 0);
  std::vector<std::string> steps;
  for (const auto& [step, seconds] : r.timings.stages) steps.push_back(step);
  EXPECT_EQ(steps, (std::vector<std::string>{"clamp", "crop_body"}));
}

TEST(Preprocess, IsotropicResamplingKeepsThePhysicalExtent) {
  Volume in = bodyWithTable();
  const auto first = in.physicalPoint(0, 0, 0);
  const auto last = in.physicalPoint(79, 79, 19);
  PreprocessOptions o;  // isotropic at the finest in-plane spacing (1 mm)
  const auto r = preprocess(std::move(in), o);
  const Volume& v = r.volume;
  EXPECT_EQ(v.spacing, (std::array<double, 3>{1, 1, 1}));
  EXPECT_EQ(v.dimensions, (std::array<int, 3>{80, 80, 48}));  // 47.5 mm / 1 mm + 1
  const auto p0 = v.physicalPoint(0, 0, 0);
  for (int a = 0; a < 3; ++a) EXPECT_NEAR(p0[a], first[a], 1e-9);
  EXPECT_LE(v.physicalPoint(79, 79, 47)[2], last[2] + 1e-9);
  ASSERT_EQ(r.timings.stages.size(), 1u);
  EXPECT_EQ(r.timings.stages[0].first, "resample");
  EXPECT_GE(r.timings.stages[0].second, 0.0);
}

double linearFieldAt(const std::array<double, 3>& p) { return 3.0 * p[0] - 2.0 * p[1] + 5.0 * p[2] + 100; }

// Trilinear interpolation reproduces a linear field exactly, so every resampled
// voxel must equal the field at its own position (to the integer rounding),
// whatever the spacing ratios along each axis and the grid's orientation.
Volume linearField(const std::array<double, 3>& spacing) {
  Volume in;
  in.modality = "MR";
  in.dimensions = {37, 29, 23};
  in.spacing = spacing;
  in.origin = {12, -7, 40};
  in.direction = {0, 1, 0, 0, 0, -1, -1, 0, 0};  // a sagittal grid
  in.voxels.resize(in.voxelCount());
  for (int k = 0; k < 23; ++k)
    for (int j = 0; j < 29; ++j)
      for (int i = 0; i < 37; ++i)
        in.voxels[(size_t(k) * 29 + j) * 37 + i] = int16_t(std::lround(linearFieldAt(in.physicalPoint(i, j, k))));
  return in;
}

int worstDeviationFromLinearField(const Volume& v) {
  int worst = 0;
  for (int k = 0; k < v.dimensions[2]; ++k)
    for (int j = 0; j < v.dimensions[1]; ++j)
      for (int i = 0; i < v.dimensions[0]; ++i)
        worst = std::max(worst, int(std::lround(std::abs(v.at(i, j, k) - linearFieldAt(v.physicalPoint(i, j, k))))));
  return worst;
}

TEST(Preprocess, ResamplingInterpolatesLinearlyOnTheNewGrid) {
  PreprocessOptions o;
  o.target_spacing_mm = 0.7;
  const auto r = preprocess(linearField({0.9, 1.3, 2.7}), o);
  ASSERT_EQ(r.volume.spacing, (std::array<double, 3>{0.7, 0.7, 0.7}));
  ASSERT_EQ(r.volume.dimensions, (std::array<int, 3>{47, 53, 85}));  // floor(36*0.9/0.7)+1, ...
  EXPECT_LE(worstDeviationFromLinearField(r.volume), 1)
      << "resampled values must lie on the linear field (input rounding + output rounding)";
}

// The usual case: isotropic at the in-plane spacing, only the slices change.
TEST(Preprocess, ResamplingOnlyTheSliceSpacingInterpolatesLinearly) {
  const auto r = preprocess(linearField({0.8, 0.8, 2.0}), PreprocessOptions{});
  ASSERT_EQ(r.volume.spacing, (std::array<double, 3>{0.8, 0.8, 0.8}));
  ASSERT_EQ(r.volume.dimensions, (std::array<int, 3>{37, 29, 56}));  // 22*2.0/0.8 + 1
  EXPECT_LE(worstDeviationFromLinearField(r.volume), 1);
}

TEST(Preprocess, MaxVoxelsCapsTheIsotropicGrid) {
  PreprocessOptions o;
  o.max_voxels = 20000;
  const auto r = preprocess(bodyWithTable(), o);
  EXPECT_LE(r.volume.voxelCount(), 20000u);
  EXPECT_NEAR(r.volume.spacing[0], r.volume.spacing[2], 1e-9);
  EXPECT_GT(r.volume.spacing[0], 1.0);
}

TEST(Preprocess, MedianSmoothingRemovesASingleOutlier) {
  PreprocessOptions o;
  o.isotropic = false;
  o.smoothing = Smoothing::Median;
  const auto r = preprocess(bodyWithTable(), o);
  EXPECT_EQ(r.volume.at(40, 40, 10), 40);
  EXPECT_EQ(r.timings.stages.back().first, "smooth");
}

// Every voxel, edges and corners included, is the median of its 3x3x3
// neighbourhood with the volume's border replicated (ITK's default boundary).
TEST(Preprocess, MedianSmoothingIsTheNeighbourhoodMedianEverywhere) {
  Volume in;
  in.modality = "MR";
  in.dimensions = {9, 7, 5};
  in.voxels.resize(in.voxelCount());
  uint32_t rng = 7;
  for (auto& x : in.voxels) {
    rng = rng * 1664525u + 1013904223u;
    x = int16_t(int(rng >> 20) - 2048);
  }
  const Volume copy = in;
  PreprocessOptions o;
  o.isotropic = false;
  o.smoothing = Smoothing::Median;
  const auto r = preprocess(std::move(in), o);
  for (int k = 0; k < 5; ++k)
    for (int j = 0; j < 7; ++j)
      for (int i = 0; i < 9; ++i) {
        std::vector<int16_t> n;
        for (int dk = -1; dk <= 1; ++dk)
          for (int dj = -1; dj <= 1; ++dj)
            for (int di = -1; di <= 1; ++di)
              n.push_back(copy.at(std::clamp(i + di, 0, 8), std::clamp(j + dj, 0, 6), std::clamp(k + dk, 0, 4)));
        std::sort(n.begin(), n.end());
        ASSERT_EQ(r.volume.at(i, j, k), n[13]) << i << "," << j << "," << k;
      }
}

TEST(Preprocess, AnisotropicDiffusionKeepsEdges) {
  PreprocessOptions o;
  o.isotropic = false;
  o.smoothing = Smoothing::Anisotropic;
  o.smoothing_iterations = 2;
  const auto r = preprocess(bodyWithTable(), o);
  // Deep inside the body and far outside stay close to their values.
  EXPECT_NEAR(r.volume.at(25, 40, 10), 40, 30);
  EXPECT_NEAR(r.volume.at(2, 2, 10), -1000, 30);
}

TEST(Preprocess, EmptyVolumeIsRejected) {
  EXPECT_THROW(preprocess(Volume{}, PreprocessOptions{}), Error);
}

}  // namespace
}  // namespace volnode
