// A preset's cut-away as cropping regions of the rendered grid: the planes pass
// through the object's centre and exactly the octant on the cut sides is left
// out, whatever way the grid's axes point. Plain C++: no display.
#include <gtest/gtest.h>

#include "volnode/render/cutaway.hpp"

namespace volnode::render {
namespace {

RenderGrid gridWith(const std::array<double, 9>& direction) {
  RenderGrid g;
  g.dims = {50, 60, 70};
  g.spacing = {0.5, 1.0, 2.0};
  g.origin = {-10, -20, -30};
  g.direction = direction;
  return g;
}

constexpr int kAllRegions = (1 << 27) - 1;
int region(int i, int j, int k) { return 1 << (i + 3 * j + 9 * k); }

TEST(Cutaway, LeftAnteriorSuperiorOctantOfAnAxialGrid) {
  const RenderGrid g = gridWith({1, 0, 0, 0, 1, 0, 0, 0, 1});
  const CutawayCrop crop = cutawayCrop(g, {5, 6, 7}, {+1, -1, +1});
  // The centre in data coordinates: (5 - -10, 6 - -20, 7 - -30) mm.
  EXPECT_EQ(crop.planes[0], 15);
  EXPECT_EQ(crop.planes[2], 26);
  EXPECT_EQ(crop.planes[4], 37);
  for (int c = 0; c < 3; ++c) EXPECT_GT(crop.planes[2 * c + 1], 1e6);
  // Left = above the i plane, anterior = below the j plane, superior = above the k plane.
  EXPECT_EQ(crop.region_flags, kAllRegions & ~region(1, 0, 1));
}

TEST(Cutaway, FollowsGridAxesThatPointTheOtherWay) {
  // Feet-first supine: i towards the patient's right, k towards the feet.
  const RenderGrid g = gridWith({-1, 0, 0, 0, 1, 0, 0, 0, -1});
  const CutawayCrop crop = cutawayCrop(g, {5, 6, 7}, {+1, -1, +1});
  EXPECT_EQ(crop.planes[0], -15);
  EXPECT_EQ(crop.planes[4], -37);
  EXPECT_EQ(crop.region_flags, kAllRegions & ~region(0, 0, 0));
}

TEST(Cutaway, ASagittalGridCutsAcrossTheAxisClosestToEachPatientAxis) {
  // Sagittal: i along P, j along F, k along L.
  const RenderGrid g = gridWith({0, 0, 1, 1, 0, 0, 0, -1, 0});
  // Cutting only the left half: region 1 along k, everything along i and j.
  const CutawayCrop crop = cutawayCrop(g, {0, 0, 0}, {+1, 0, 0});
  int expected = kAllRegions;
  for (int j = 0; j < 3; ++j)
    for (int i = 0; i < 3; ++i) expected &= ~region(i, j, 1);
  EXPECT_EQ(crop.region_flags, expected);
  // The centre's data coordinates along i (P), j (F), k (L).
  EXPECT_EQ(crop.planes[0], 20);
  EXPECT_EQ(crop.planes[2], -30);
  EXPECT_EQ(crop.planes[4], 10);
}

TEST(Cutaway, NoCutDrawsEveryRegion) {
  const RenderGrid g = gridWith({1, 0, 0, 0, 1, 0, 0, 0, 1});
  EXPECT_EQ(cutawayCrop(g, {0, 0, 0}, {0, 0, 0}).region_flags, kAllRegions);
}

}  // namespace
}  // namespace volnode::render
