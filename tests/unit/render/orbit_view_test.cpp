// The interactive viewer's free camera and cuts, without a display: elevation 0
// is the spin's own camera, from above the patient's left stays on the image's
// right, and a clipped grid loses exactly the voxels outside the region.
#include <gtest/gtest.h>

#include <climits>

#include "volnode/render/clip_region.hpp"
#include "volnode/render/view_geometry.hpp"

using namespace volnode;
using namespace volnode::render;

TEST(OrbitBasis, ElevationZeroIsTheSpinCamera) {
  for (double azimuth : {0.0, 10.0, 90.0, 180.0, 275.0}) {
    const auto orbit = orbitBasis(azimuth, 0), spin = spinBasis(azimuth);
    EXPECT_EQ(orbit.dop, spin.dop) << azimuth;
    EXPECT_EQ(orbit.up, spin.up) << azimuth;
  }
}

TEST(OrbitBasis, LettersFollowTheCamera) {
  EXPECT_EQ(edgeLetters(orbitBasis(0, 90)), (std::array<std::string, 4>{"R", "L", "P", "A"}))
      << "from above the head: the patient's left on the right, posterior up";
  EXPECT_EQ(edgeLetters(orbitBasis(0, -90)), (std::array<std::string, 4>{"R", "L", "A", "P"}))
      << "from below the feet";
  EXPECT_EQ(edgeLetters(orbitBasis(90, 30))[0], "A") << "from the left and a little above: anterior on the left";
  const auto tilted = orbitBasis(40, 35);
  EXPECT_NEAR(dot(tilted.dop, tilted.up), 0, 1e-12);
  EXPECT_NEAR(dot(tilted.dop, tilted.dop), 1, 1e-12);
  EXPECT_NEAR(dot(tilted.up, tilted.up), 1, 1e-12);
}

TEST(ClipRegion, AClippedGridLosesExactlyWhatLiesOutside) {
  RenderGrid grid;
  grid.dims = {10, 8, 6};
  grid.spacing = {2, 2, 3};
  grid.origin = {-10, -8, 0};
  grid.direction = {1, 0, 0, 0, 1, 0, 0, 0, 1};
  grid.own.assign(10 * 8 * 6, 100);
  grid.data = grid.own.data();
  ClipRegion box;
  box.box = std::array<double, 6>{-10, 0, -100, 100, -100, 100};  // keep x <= 0
  auto kept = clippedCopy(grid, box);
  for (int i = 0; i < 10; ++i) {
    const double x = -10 + 2 * i;
    EXPECT_EQ(kept.data[i], x <= 0 ? 100 : INT16_MIN) << "x = " << x;
  }
  ClipRegion plane;
  plane.plane = std::array<double, 6>{0, 0, 6, 0, 0, -1};  // keep z <= 6
  auto below = clippedCopy(grid, plane);
  for (int k = 0; k < 6; ++k) EXPECT_EQ(below.data[size_t(k) * 80], 3 * k <= 6 ? 100 : INT16_MIN) << "k = " << k;
  EXPECT_EQ(grid.own[79], 100) << "the source grid is untouched";
}
