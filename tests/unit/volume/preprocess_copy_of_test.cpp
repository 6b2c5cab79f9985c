// preprocessCopyOf: the same volume, notes and steps as preprocess() of a copy, and the
// input left exactly as it was (the render job's reformats resample it afterwards).
#include <gtest/gtest.h>

#include <cmath>

#include "volnode/core/error.hpp"
#include "volnode/volume/preprocess.hpp"

namespace volnode {
namespace {

// A CT body (ellipsoid with a lung) on a detached table, with metal-like outliers
// above and detector-like outliers below the usual clamp range, some next to the
// body's edge so that clamped and unclamped interpolation differ.
Volume bodyWithOutliers() {
  Volume v;
  v.modality = "CT";
  v.dimensions = {72, 64, 18};
  v.spacing = {0.8, 0.8, 2.0};
  v.origin = {-28, -25, 0};
  v.direction = {1, 0, 0, 0, 1, 0, 0, 0, 1};
  v.voxels.resize(v.voxelCount());
  for (int k = 0; k < v.dimensions[2]; ++k)
    for (int j = 0; j < v.dimensions[1]; ++j)
      for (int i = 0; i < v.dimensions[0]; ++i) {
        const auto p = v.physicalPoint(i, j, k);
        const double e = (p[0] / 22) * (p[0] / 22) + (p[1] / 16) * (p[1] / 16);
        const double lung = ((p[0] - 8) / 5) * ((p[0] - 8) / 5) + (p[1] / 5) * (p[1] / 5);
        int16_t value = -1000;
        if (e <= 1) value = lung <= 1 ? -850 : int16_t(40 + (i * 7 + j * 3 + k * 11) % 60);
        if (p[1] >= 20 && p[1] <= 23 && std::abs(p[0]) < 26) value = 200;  // the table
        if (e <= 1 && (i + j + k) % 37 == 0) value = 6000;                 // metal
        if ((i * 3 + j + k) % 53 == 0) value = -3000;                      // outside the range, in and out of the body
        v.voxels[(size_t(k) * v.dimensions[1] + j) * v.dimensions[0] + i] = value;
      }
  return v;
}

void expectSameResult(const PreprocessResult& a, const PreprocessResult& b, const std::string& what) {
  EXPECT_EQ(a.volume.dimensions, b.volume.dimensions) << what;
  EXPECT_EQ(a.volume.spacing, b.volume.spacing) << what;
  EXPECT_EQ(a.volume.origin, b.volume.origin) << what;
  EXPECT_EQ(a.volume.direction, b.volume.direction) << what;
  EXPECT_EQ(a.volume.modality, b.volume.modality) << what;
  EXPECT_TRUE(a.volume.voxels == b.volume.voxels) << what;
  EXPECT_EQ(a.notes, b.notes) << what;
  std::vector<std::string> steps_a, steps_b;
  for (const auto& stage : a.timings.stages) steps_a.push_back(stage.first);
  for (const auto& stage : b.timings.stages) steps_b.push_back(stage.first);
  EXPECT_EQ(steps_a, steps_b) << what;
}

TEST(PreprocessCopyOf, GivesWhatPreprocessGivesAndLeavesTheInputAsItWas) {
  struct Case {
    const char* name;
    PreprocessOptions options;
  };
  std::vector<Case> cases;
  PreprocessOptions o;  // clamp, crop and isotropic resampling: the default CT rule's steps
  o.clamp = std::make_pair(-1024, 3071);
  o.crop_body = true;
  o.isotropic = true;
  cases.push_back({"clamp, crop, isotropic", o});
  o.isotropic = false;
  cases.push_back({"clamp and crop only", o});
  o.crop_body = false;
  cases.push_back({"clamp only (no new grid)", o});
  o.isotropic = true;
  o.target_spacing_mm = 1.3;
  cases.push_back({"clamp, coarser isotropic grid", o});
  o.target_spacing_mm = 0;
  o.crop_body = true;
  o.smoothing = Smoothing::Median;
  cases.push_back({"clamp, crop, isotropic, median", o});
  o.smoothing = Smoothing::None;
  o.clamp = std::make_pair(-500, 3071);  // the body threshold (-400) is inside: still read unclamped
  cases.push_back({"narrow clamp", o});
  o.clamp = std::make_pair(-300, 3071);  // the body threshold is below the range: found on clamped voxels
  cases.push_back({"threshold below the clamp range", o});
  o.clamp.reset();
  cases.push_back({"no clamp", o});

  const Volume input = bodyWithOutliers();
  for (const auto& c : cases) {
    const Volume kept = input;
    const PreprocessResult copied = preprocessCopyOf(kept, c.options);
    const PreprocessResult consumed = preprocess(Volume(input), c.options);
    expectSameResult(copied, consumed, c.name);
    EXPECT_TRUE(kept.voxels == input.voxels) << c.name << ": the input was changed";
  }
}

TEST(PreprocessCopyOf, ClampsTheVoxelsItReads) {
  PreprocessOptions o;
  o.clamp = std::make_pair(-1024, 3071);
  o.crop_body = true;
  o.isotropic = true;
  const Volume input = bodyWithOutliers();
  const auto r = preprocessCopyOf(input, o);
  ASSERT_FALSE(r.volume.voxels.empty());
  for (const int16_t x : r.volume.voxels) {
    ASSERT_GE(x, -1024);
    ASSERT_LE(x, 3071);
  }
  EXPECT_NE(r.notes.front().find("clamped"), std::string::npos);
  EXPECT_EQ(r.notes.front().find("clamped 0 "), std::string::npos);
}

TEST(PreprocessCopyOf, EmptyVolumeIsRejected) {
  EXPECT_THROW(preprocessCopyOf(Volume{}, PreprocessOptions{}), Error);
}

}  // namespace
}  // namespace volnode
