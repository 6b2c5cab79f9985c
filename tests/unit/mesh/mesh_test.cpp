// Surfaces: in patient millimetres whatever the volume's direction, within the
// triangle budget, outward-facing, and a binary STL that reads back.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>

#include "support/process.hpp"
#include "volnode/mesh/mesh.hpp"

namespace volnode::test {
namespace {

// A CT volume (air, -1000 HU) with bone (1000 HU) wherever `inside(lps)` holds.
template <class Inside>
Volume phantom(std::array<int, 3> dims, std::array<double, 3> spacing, std::array<double, 9> direction,
               std::array<double, 3> origin, Inside inside) {
  Volume v;
  v.modality = "CT";
  v.dimensions = dims;
  v.spacing = spacing;
  v.direction = direction;
  v.origin = origin;
  v.voxels.resize(v.voxelCount());
  for (int k = 0; k < dims[2]; ++k)
    for (int j = 0; j < dims[1]; ++j)
      for (int i = 0; i < dims[0]; ++i)
        v.voxels[(size_t(k) * dims[1] + j) * dims[0] + i] = inside(v.physicalPoint(i, j, k)) ? 1000 : -1000;
  return v;
}

// Columns = LPS directions of the index axes; a rotation of 30 degrees about z
// combined with reversed slices (a left-handed grid, like feet-first stacks).
std::array<double, 9> obliqueLeftHanded() {
  const double a = 30 * M_PI / 180, c = std::cos(a), s = std::sin(a);
  return {c, -s, 0,  //
          s, c,  0,  //
          0, 0,  -1};
}

TEST(ExtractSurface, BoneBoxBoundsMatchItsPhysicalExtentWithObliqueDirection) {
  // Box [-20, 15] x [-10, 25] x [30, 50] mm in LPS.
  const Volume v = phantom({90, 90, 50}, {1.0, 1.0, 1.5}, obliqueLeftHanded(), {-5, -60, 70}, [](const auto& p) {
    return p[0] >= -20 && p[0] <= 15 && p[1] >= -10 && p[1] <= 25 && p[2] >= 30 && p[2] <= 50;
  });
  MeshOptions options;
  options.max_triangles = 5000;
  const MeshResult r = extractSurface(v, options);
  ASSERT_FALSE(r.mesh.empty());
  EXPECT_EQ(r.threshold, 250);
  EXPECT_LE(r.mesh.triangleCount(), options.max_triangles);
  const auto b = r.mesh.bounds();
  const double expected[6] = {-20, 15, -10, 25, 30, 50};
  for (int n = 0; n < 6; ++n) EXPECT_NEAR(b[n], expected[n], 2.0) << "bound " << n;
}

TEST(ExtractSurface, SphereIsOutwardFacingAndWithinBudget) {
  const std::array<double, 3> centre{10, -20, 40};
  const double radius = 25;
  const Volume v = phantom({80, 80, 80}, {0.8, 0.8, 0.8}, {1, 0, 0, 0, 1, 0, 0, 0, 1}, {-22, -52, 8}, [&](const auto& p) {
    const double dx = p[0] - centre[0], dy = p[1] - centre[1], dz = p[2] - centre[2];
    return dx * dx + dy * dy + dz * dz <= radius * radius;
  });
  MeshOptions options;
  options.max_triangles = 3000;
  const MeshResult r = extractSurface(v, options);
  ASSERT_FALSE(r.mesh.empty());
  EXPECT_LE(r.mesh.triangleCount(), 3000u);
  EXPECT_GT(r.mesh.triangleCount(), 1000u);
  const auto b = r.mesh.bounds();
  for (int a = 0; a < 3; ++a) {
    EXPECT_NEAR(b[a * 2], centre[a] - radius, 2.0);
    EXPECT_NEAR(b[a * 2 + 1], centre[a] + radius, 2.0);
  }
  // Every triangle's normal points away from the centre.
  size_t outward = 0;
  const auto& vx = r.mesh.vertices;
  for (size_t t = 0; t < r.mesh.triangles.size(); t += 3) {
    const float* p0 = &vx[size_t(r.mesh.triangles[t]) * 3];
    const float* p1 = &vx[size_t(r.mesh.triangles[t + 1]) * 3];
    const float* p2 = &vx[size_t(r.mesh.triangles[t + 2]) * 3];
    const double u[3] = {p1[0] - p0[0], p1[1] - p0[1], p1[2] - p0[2]}, w[3] = {p2[0] - p0[0], p2[1] - p0[1], p2[2] - p0[2]};
    const double n[3] = {u[1] * w[2] - u[2] * w[1], u[2] * w[0] - u[0] * w[2], u[0] * w[1] - u[1] * w[0]};
    const double d = n[0] * (p0[0] - centre[0]) + n[1] * (p0[1] - centre[1]) + n[2] * (p0[2] - centre[2]);
    outward += d > 0;
  }
  EXPECT_GT(double(outward), 0.99 * double(r.mesh.triangleCount()));
}

TEST(ExtractSurface, SmallSpecksAreDroppedLargestPartKept) {
  const Volume v = phantom({60, 60, 60}, {1, 1, 1}, {1, 0, 0, 0, 1, 0, 0, 0, 1}, {0, 0, 0}, [](const auto& p) {
    const bool big = std::abs(p[0] - 25) < 15 && std::abs(p[1] - 25) < 15 && std::abs(p[2] - 25) < 15;
    const bool speck = std::abs(p[0] - 52) < 1.5 && std::abs(p[1] - 52) < 1.5 && std::abs(p[2] - 52) < 1.5;
    return big || speck;
  });
  const MeshResult r = extractSurface(v, MeshOptions{});
  EXPECT_EQ(r.parts_kept, 1);
  EXPECT_LT(r.mesh.bounds()[1], 45);
}

// A body-like phantom: a spine column and 24 separate rib-like bars (each ~1.2 cm³,
// a fiftieth of the spine) beside it, and specks. Every rib must be in the model.
TEST(ExtractSurface, EveryRibLikeIslandAboveTheThresholdIsKept) {
  const Volume v = phantom({120, 80, 130}, {1, 1, 1}, {1, 0, 0, 0, 1, 0, 0, 0, 1}, {0, 0, 0}, [](const auto& p) {
    const bool spine = std::abs(p[0] - 60) < 12 && std::abs(p[1] - 60) < 12 && p[2] > 5 && p[2] < 125;
    bool rib = false;
    for (int r = 0; r < 12; ++r) {
      const double z = 10 + r * 9.5;
      // Left and right ribs: 30 mm long bars, 6 x 6 mm, 6 mm from the spine.
      rib = rib || (std::abs(p[2] - z) < 3 && std::abs(p[1] - 40) < 3 && ((p[0] > 78 && p[0] < 108) || (p[0] > 12 && p[0] < 42)));
    }
    const bool speck = std::abs(p[0] - 5) < 1.5 && std::abs(p[1] - 5) < 1.5 && std::abs(p[2] - 60) < 1.5;
    return spine || rib || speck;
  });
  const MeshResult r = extractSurface(v, MeshOptions{});
  EXPECT_EQ(r.parts_kept, 25);  // spine + 24 ribs, no speck
  const auto b = r.mesh.bounds();
  EXPECT_NEAR(b[0], 12.5, 2.0);   // outer end of the right ribs
  EXPECT_NEAR(b[1], 107.5, 2.0);  // outer end of the left ribs
  EXPECT_GT(b[2], 30);            // the speck at y = 5 is gone
  MeshOptions only_large;
  only_large.min_island_mm3 = 5000;
  EXPECT_EQ(extractSurface(v, only_large).parts_kept, 1);
}

TEST(ExtractSurface, MrSkinThresholdIsAutomatic) {
  Volume v = phantom({40, 40, 40}, {2, 2, 2}, {1, 0, 0, 0, 1, 0, 0, 0, 1}, {-40, -40, -40}, [](const auto& p) {
    return p[0] * p[0] + p[1] * p[1] + p[2] * p[2] < 30 * 30;
  });
  v.modality = "MR";
  for (auto& x : v.voxels) x = x > 0 ? int16_t(600 + (&x - v.voxels.data()) % 50) : int16_t((&x - v.voxels.data()) % 20);
  const MeshResult r = extractSurface(v, MeshOptions{});
  EXPECT_GT(r.threshold, 20);
  EXPECT_LT(r.threshold, 600);
  ASSERT_FALSE(r.mesh.empty());
  EXPECT_NEAR(r.mesh.bounds()[1], 30, 2.5);
}

TEST(ExtractSurface, LargeSurfaceIsDownsampledThenDecimatedToBudget) {
  const Volume v = phantom({160, 160, 160}, {0.5, 0.5, 0.5}, {1, 0, 0, 0, 1, 0, 0, 0, 1}, {-40, -40, -40},
                           [](const auto& p) { return p[0] * p[0] + p[1] * p[1] + p[2] * p[2] < 35 * 35; });
  MeshOptions options;
  options.max_triangles = 2000;
  const MeshResult r = extractSurface(v, options);
  EXPECT_GT(r.downsample[0] * r.downsample[1] * r.downsample[2], 1);
  EXPECT_LE(r.mesh.triangleCount(), 2000u);
  EXPECT_NEAR(r.mesh.bounds()[0], -35, 2.0);
  EXPECT_NEAR(r.mesh.bounds()[5], 35, 2.0);
}

TEST(ExtractSurface, NothingAboveThresholdGivesEmptyMesh) {
  const Volume v = phantom({10, 10, 10}, {1, 1, 1}, {1, 0, 0, 0, 1, 0, 0, 0, 1}, {0, 0, 0}, [](const auto&) { return false; });
  EXPECT_TRUE(extractSurface(v, MeshOptions{}).mesh.empty());
}

TEST(BinaryStl, WritesAndReadsBackTriangles) {
  TempDir tmp("stl");
  Mesh m;
  m.vertices = {0, 0, 0, 10, 0, 0, 0, 10, 0, 0, 0, 10};
  m.triangles = {0, 2, 1, 0, 1, 3, 0, 3, 2, 1, 2, 3};
  const auto size = writeBinaryStl(m, tmp / "t.stl");
  EXPECT_EQ(size, 84u + 4 * 50);
  std::ifstream in(tmp / "t.stl", std::ios::binary);
  char head[5];
  in.read(head, 5);
  EXPECT_NE(std::string(head, 5), "solid");
  const Mesh back = readBinaryStl(tmp / "t.stl");
  EXPECT_EQ(back.triangleCount(), 4u);
  EXPECT_EQ(back.bounds(), m.bounds());
}

}  // namespace
}  // namespace volnode::test
