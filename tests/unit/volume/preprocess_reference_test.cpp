// The fast crop-and-resample path (runs, union-find, one pass on all cores) against
// the plain voxel-by-voxel reference (preprocess_reference.hpp) and against analytic
// answers: the same geometry exactly, the same voxels after a crop, values within one
// unit after resampling (float blending in one, double in the other; both round).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>

#include "preprocess_reference.hpp"
#include "volnode/volume/preprocess.hpp"
#include "volume_test_util.hpp"

namespace volnode {
namespace {

struct Lcg {
  uint32_t state;
  double next() {
    state = state * 1664525u + 1013904223u;
    return double(state >> 8) / double(1u << 24);
  }
  int between(int lo, int hi) { return lo + int(next() * (hi - lo + 1)) % (hi - lo + 1); }
};

// A CT volume of air with random ellipsoids: dense blobs (some touching the volume's
// border, some of equal size), air pockets inside them, thin rods and loose specks.
Volume randomPhantom(uint32_t seed, const std::array<int, 3>& dims, const std::array<double, 9>& direction) {
  Lcg rng{seed};
  Volume v;
  v.modality = "CT";
  v.dimensions = dims;
  v.spacing = {0.9, 0.8, 2.3};
  v.origin = {-20, 13, 101};
  v.direction = direction;
  v.voxels.assign(v.voxelCount(), -1000);
  auto paint = [&](double cx, double cy, double cz, double rx, double ry, double rz, int16_t value) {
    for (int k = 0; k < dims[2]; ++k)
      for (int j = 0; j < dims[1]; ++j)
        for (int i = 0; i < dims[0]; ++i) {
          const double e = std::pow((i - cx) / rx, 2) + std::pow((j - cy) / ry, 2) + std::pow((k - cz) / rz, 2);
          if (e <= 1) v.voxels[(size_t(k) * dims[1] + j) * dims[0] + i] = value;
        }
  };
  const int blobs = rng.between(1, 4);
  for (int b = 0; b < blobs; ++b) {
    const double cx = rng.between(0, dims[0] - 1), cy = rng.between(0, dims[1] - 1), cz = rng.between(0, dims[2] - 1);
    const double rx = rng.between(3, dims[0] / 2), ry = rng.between(3, dims[1] / 2), rz = rng.between(2, dims[2] / 2);
    paint(cx, cy, cz, rx, ry, rz, int16_t(rng.between(-300, 1500)));
    if (rng.next() < 0.7) paint(cx, cy, cz, rx / 2.5, ry / 2.5, rz / 2, -850);  // a lung inside
  }
  for (int r = rng.between(0, 3); r > 0; --r) {  // thin rods along x
    const int j = rng.between(0, dims[1] - 1), k = rng.between(0, dims[2] - 1);
    for (int i = rng.between(0, dims[0] / 2); i < dims[0]; ++i) v.voxels[(size_t(k) * dims[1] + j) * dims[0] + i] = 200;
  }
  for (int s = rng.between(0, 40); s > 0; --s)
    v.voxels[size_t(rng.next() * double(v.voxelCount())) % v.voxelCount()] = int16_t(rng.between(-1000, 400));
  return v;
}

const std::array<double, 9> kAxialDirection{1, 0, 0, 0, 1, 0, 0, 0, 1};
const std::array<double, 9> kSagittalDirection{0, 0, -1, 1, 0, 0, 0, -1, 0};

void expectSameGeometry(const Volume& a, const Volume& b) {
  EXPECT_EQ(a.dimensions, b.dimensions);
  for (int i = 0; i < 3; ++i) {
    EXPECT_NEAR(a.origin[i], b.origin[i], 1e-9);
    EXPECT_NEAR(a.spacing[i], b.spacing[i], 1e-12);
  }
  EXPECT_EQ(a.direction, b.direction);
}

// Index of the first voxel that differs (or of the end of the shorter one), -1 if none.
long firstDifference(const Volume& a, const Volume& b) {
  if (a.voxels == b.voxels) return -1;
  const auto m = std::mismatch(a.voxels.begin(), a.voxels.end(), b.voxels.begin(), b.voxels.end());
  return long(m.first - a.voxels.begin());
}

int largestDifference(const Volume& a, const Volume& b) {
  int worst = 0;
  for (size_t i = 0; i < a.voxels.size() && i < b.voxels.size(); ++i)
    worst = std::max(worst, std::abs(int(a.voxels[i]) - int(b.voxels[i])));
  return worst;
}

TEST(PreprocessReference, CropIsVoxelForVoxelTheFloodFill) {
  int cropped = 0;
  for (uint32_t seed = 1; seed <= 40; ++seed) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    const Volume in = randomPhantom(seed, {37, 29, 17}, seed % 2 ? kAxialDirection : kSagittalDirection);
    const auto expected = test::referenceCropToBody(in, -400);
    PreprocessOptions o;
    o.isotropic = false;
    o.crop_body = true;
    const auto r = preprocess(in, o);
    if (!expected) {
      EXPECT_EQ(firstDifference(r.volume, in), -1);
      expectSameGeometry(r.volume, in);
      continue;
    }
    ++cropped;
    expectSameGeometry(r.volume, *expected);
    ASSERT_EQ(r.volume.voxels.size(), expected->voxels.size());
    EXPECT_EQ(firstDifference(r.volume, *expected), -1);
  }
  EXPECT_GE(cropped, 30) << "the phantoms must mostly have a body to crop";
}

// Two bodies of the same size: the first in scan order is kept, as a flood fill from
// the first voxel of each component keeps it.
TEST(PreprocessReference, OfEqualBodiesTheFirstInScanOrderIsKept) {
  Volume v;
  v.modality = "CT";
  v.dimensions = {30, 20, 10};
  v.voxels.assign(v.voxelCount(), -1000);
  for (int k = 2; k < 8; ++k)
    for (int j = 5; j < 15; ++j)
      for (int i = 0; i < 30; ++i)
        if (i >= 2 && i < 10) v.voxels[(size_t(k) * 20 + j) * 30 + i] = 100;   // first
        else if (i >= 18 && i < 26) v.voxels[(size_t(k) * 20 + j) * 30 + i] = 50;  // second, same size
  PreprocessOptions o;
  o.isotropic = false;
  o.crop_body = true;
  const auto r = preprocess(v, o);
  EXPECT_EQ(r.volume.dimensions, (std::array<int, 3>{12, 14, 10}));
  EXPECT_EQ(firstDifference(r.volume, *test::referenceCropToBody(v, -400)), -1);
  EXPECT_EQ(r.volume.at(4, 4, 4), 100);
}

TEST(PreprocessReference, CropAndResampleMatchTheReferenceOnEveryGrid) {
  for (uint32_t seed = 101; seed <= 124; ++seed) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    const Volume in = randomPhantom(seed, {33, 31, 13}, seed % 2 ? kAxialDirection : kSagittalDirection);
    PreprocessOptions o;
    o.crop_body = true;
    o.clamp = std::make_pair(-1024, 1200);
    if (seed % 3 == 0) o.max_voxels = 4000;  // coarser than the input in plane too
    if (seed % 3 == 1) o.target_spacing_mm = 0.5;  // finer in every direction
    const auto r = preprocess(in, o);
    Volume clamped = in;
    for (auto& x : clamped.voxels) x = std::clamp<int16_t>(x, -1024, 1200);
    const auto cropped = test::referenceCropToBody(clamped, -400);
    const Volume& source = cropped ? *cropped : clamped;
    // The grid: isotropic, from the cropped volume's first voxel, covering it.
    EXPECT_NEAR(r.volume.spacing[0], r.volume.spacing[2], 1e-12);
    for (int a = 0; a < 3; ++a) {
      EXPECT_NEAR(r.volume.origin[a], source.origin[a], 1e-9);
      EXPECT_LE((r.volume.dimensions[a] - 1) * r.volume.spacing[a], (source.dimensions[a] - 1) * source.spacing[a] + 1e-6);
      EXPECT_GT(r.volume.dimensions[a] * r.volume.spacing[a], (source.dimensions[a] - 1) * source.spacing[a] - 1e-6);
    }
    EXPECT_EQ(r.volume.direction, in.direction);
    EXPECT_LE(largestDifference(r.volume, test::referenceResample(source, r.volume)), 1);
  }
}

// A body ellipsoid whose values are a linear function of position, a lung inside it
// and a table below it: the box, the values and what is removed are known exactly.
TEST(PreprocessReference, AnalyticPhantomKeepsTheBodyOnItsBoxAndItsValues) {
  Volume v;
  v.modality = "CT";
  v.dimensions = {96, 80, 40};
  v.spacing = {0.75, 0.75, 1.6};
  v.origin = {-36, -30, -32};
  v.voxels.resize(v.voxelCount());
  const double cx = 47, cy = 37, cz = 19, rx = 30.5, ry = 22.5, rz = 15.5;  // in voxels
  auto inBody = [&](double i, double j, double k) {
    return std::pow((i - cx) / rx, 2) + std::pow((j - cy) / ry, 2) + std::pow((k - cz) / rz, 2) <= 1;
  };
  auto field = [](const std::array<double, 3>& p) { return 300 + 2.0 * p[0] - 3.0 * p[1] + 1.5 * p[2]; };
  for (int k = 0; k < 40; ++k)
    for (int j = 0; j < 80; ++j)
      for (int i = 0; i < 96; ++i) {
        double value = -1000;
        if (inBody(i, j, k)) value = std::hypot(i - cx, j - cy) < 6 ? -850 : field(v.physicalPoint(i, j, k));
        if (j >= 64 && j <= 66) value = 150;  // the table, below the body (rows 64-66), not touching it
        if (i == 0 && j == 0) value = -3024;  // padding, clamped
        v.voxels[(size_t(k) * 80 + j) * 96 + i] = int16_t(std::lround(value));
      }
  PreprocessOptions o;
  o.crop_body = true;
  o.clamp = std::make_pair(-1024, 3071);
  const auto r = preprocess(v, o);
  const Volume& out = r.volume;
  // The box: the ellipsoid's voxel extent (centre +- floor(radius)) + 2 on each side.
  const std::array<int, 3> low{int(cx) - 30 - 2, int(cy) - 22 - 2, int(cz) - 15 - 2};
  const std::array<int, 3> high{int(cx) + 30 + 2, int(cy) + 22 + 2, int(cz) + 15 + 2};
  const auto first = v.physicalPoint(low[0], low[1], low[2]);
  for (int a = 0; a < 3; ++a) EXPECT_NEAR(out.origin[a], first[a], 1e-9);
  EXPECT_EQ(out.spacing, (std::array<double, 3>{0.75, 0.75, 0.75}));
  EXPECT_EQ(out.dimensions, (std::array<int, 3>{high[0] - low[0] + 1, high[1] - low[1] + 1,
                                                 int(std::floor((high[2] - low[2]) * 1.6 / 0.75 + 1e-6)) + 1}));
  int checked_body = 0, checked_lung = 0;
  for (int k = 0; k < out.dimensions[2]; ++k)
    for (int j = 0; j < out.dimensions[1]; ++j)
      for (int i = 0; i < out.dimensions[0]; ++i) {
        const auto p = out.physicalPoint(i, j, k);
        // Back into input voxels: the grids share their direction (identity here).
        const double vi = (p[0] - v.origin[0]) / 0.75, vj = (p[1] - v.origin[1]) / 0.75, vk = (p[2] - v.origin[2]) / 1.6;
        const int value = out.at(i, j, k);
        EXPECT_LE(vj, 63.0) << "the table's rows are cropped away";
        // Well inside the body, away from the lung: the linear field, to the roundings.
        bool deep = true;
        for (int d = 0; d < 8 && deep; ++d)
          deep = inBody(std::floor(vi) + (d & 1), std::floor(vj) + (d >> 1 & 1), std::floor(vk) + (d >> 2 & 1)) &&
                 std::hypot(std::floor(vi) + (d & 1) - cx, std::floor(vj) + (d >> 1 & 1) - cy) >= 6.0;
        if (deep) {
          ASSERT_LE(std::abs(value - field(p)), 1.0) << i << "," << j << "," << k;
          ++checked_body;
        }
        if (std::hypot(vi - cx, vj - cy) < 4.5 && std::abs(vk - cz) < 10) {
          ASSERT_EQ(value, -850) << "air inside the body is kept";
          ++checked_lung;
        }
        bool away = true;
        for (int d = 0; d < 8 && away; ++d)
          away = !inBody(std::floor(vi) + (d & 1), std::floor(vj) + (d >> 1 & 1), std::floor(vk) + (d >> 2 & 1));
        if (away) {
          ASSERT_EQ(value, -1024) << "outside the body is air";
        }
      }
  EXPECT_GT(checked_body, 50000);
  EXPECT_GT(checked_lung, 500);
}

// Noise that crosses the threshold at every other voxel has no body, and finding one
// would cost more memory than the volume: the crop is skipped and says why.
TEST(PreprocessReference, FragmentedNoiseIsLeftUncroppedWithTheReason) {
  Volume v;
  v.modality = "CT";
  v.dimensions = {256, 256, 8};
  v.voxels.resize(v.voxelCount());
  for (size_t i = 0; i < v.voxels.size(); ++i) v.voxels[i] = i % 2 ? 100 : -1000;
  PreprocessOptions o;
  o.isotropic = false;
  o.crop_body = true;
  const auto r = preprocess(v, o);
  EXPECT_EQ(r.volume.dimensions, v.dimensions);
  EXPECT_EQ(firstDifference(r.volume, v), -1);
  ASSERT_FALSE(r.notes.empty());
  EXPECT_NE(r.notes.back().find("crop to body skipped: too fragmented"), std::string::npos) << r.notes.back();
}

// The real scans, with the options of the default CT rule.
void expectTheReferenceOnRealData(const std::string& series) {
  const auto& a = test::cachedAssembly(series);
  ASSERT_EQ(a.decision, VolumeDecision::Renderable) << a.reason;
  Volume in = *a.renderable()[0]->volume;
  PreprocessOptions o;
  o.crop_body = true;
  o.clamp = std::make_pair(-1024, 3071);
  for (auto& x : in.voxels) x = std::clamp<int16_t>(x, -1024, 3071);
  const auto cropped = test::referenceCropToBody(in, o.body_threshold);
  ASSERT_TRUE(cropped);

  PreprocessOptions crop_only = o;
  crop_only.isotropic = false;
  const auto c = preprocess(*a.renderable()[0]->volume, crop_only);
  expectSameGeometry(c.volume, *cropped);
  EXPECT_EQ(firstDifference(c.volume, *cropped), -1);

  const auto r = preprocess(*a.renderable()[0]->volume, o);
  for (int i = 0; i < 3; ++i) EXPECT_NEAR(r.volume.origin[i], cropped->origin[i], 1e-9);
  EXPECT_LE(largestDifference(r.volume, test::referenceResample(*cropped, r.volume)), 1);
}

TEST(PreprocessReference, PhantomHeadCtMatchesTheReference) { expectTheReferenceOnRealData("ct-head-phantom-study/S2020"); }

TEST(PreprocessReference, ChestCtMatchesTheReference) {
  expectTheReferenceOnRealData("ct-chest-transfer-syntaxes/implicit_le");
}

}  // namespace
}  // namespace volnode
