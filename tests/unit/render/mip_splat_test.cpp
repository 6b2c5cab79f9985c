// The CPU MIP splatter on generated grids whose projections are known exactly:
// a bright voxel or bar lands on the pixel its patient position projects to in
// each view, and the phantom's markers appear as discs where they should.
// Plain C++: no display.
#include <gtest/gtest.h>

#include <climits>
#include <cmath>

#include "phantom.hpp"
#include "volnode/render/mip_splat.hpp"

namespace volnode::render {
namespace {

// 64^3 voxels of 1 mm centred on the LPS origin, axes along L, P, H: with a
// 64 x 64 frame of 1 mm pixels (scale 32) centred there, voxel centres fall on
// pixel centres.
constexpr int kN = 64;
constexpr int16_t kBackground = 0, kBody = 100, kBright = 1000, kThreshold = 50;

RenderGrid cube() {
  RenderGrid g;
  g.dims = {kN, kN, kN};
  g.spacing = {1, 1, 1};
  g.origin = {-31.5, -31.5, -31.5};
  g.direction = {1, 0, 0, 0, 1, 0, 0, 0, 1};
  g.own.assign(size_t(kN) * kN * kN, kBackground);
  g.data = g.own.data();
  return g;
}

int16_t& voxel(RenderGrid& g, int i, int j, int k) { return g.own[(size_t(k) * g.dims[1] + j) * g.dims[0] + i]; }

// Scatters `count` voxels of values first, first + 1, ... at pseudo-random places (a fixed sequence).
void scatter(RenderGrid& g, int count, int first) {
  uint32_t state = 12345;
  auto next = [&] { return int((state = state * 1664525u + 1013904223u) >> 16) % kN; };
  for (int n = 0; n < count; ++n) {
    const int i = next(), j = next(), k = next();
    voxel(g, i, j, k) = int16_t(first + n);
  }
}

std::vector<int16_t> project(const RenderGrid& g, View view, int threads = 2) {
  return splatMip(g, viewBasis(view), {0, 0, 0}, kN / 2.0, kN, kN, kThreshold, threads);
}

struct Pixel {
  int x, y;
  bool operator==(const Pixel& o) const { return x == o.x && y == o.y; }
};

std::vector<Pixel> pixelsAtLeast(const std::vector<int16_t>& image, int width, int16_t value) {
  std::vector<Pixel> out;
  for (size_t p = 0; p < image.size(); ++p)
    if (image[p] >= value) out.push_back({int(p % width), int(p / width)});
  return out;
}

TEST(MipSplat, ABrightVoxelLandsWhereItsPositionProjectsInEveryView) {
  RenderGrid g = cube();
  const int i = 40, j = 20, k = 10;  // LPS (8.5, -11.5, -21.5): left of centre, anterior, below
  voxel(g, i, j, k) = kBright;
  // Column = 32 + position along image right, row = 32 - position along image up (1 mm pixels).
  const std::vector<std::pair<View, Pixel>> expected{
      {View::Anterior, {i, kN - 1 - k}},           // right = L, up = H
      {View::Posterior, {kN - 1 - i, kN - 1 - k}},  // right = R
      {View::Left, {j, kN - 1 - k}},                // right = P
      {View::Right, {kN - 1 - j, kN - 1 - k}},      // right = A
      {View::Superior, {kN - 1 - i, j}},            // right = R, up = A
      {View::Inferior, {i, j}},                     // right = L, up = A
  };
  for (const auto& [view, pixel] : expected) {
    SCOPED_TRACE(viewName(view));
    const auto image = project(g, view);
    ASSERT_EQ(image.size(), size_t(kN) * kN);
    EXPECT_EQ(pixelsAtLeast(image, kN, kBright), std::vector<Pixel>{pixel});
  }
}

TEST(MipSplat, ABarAlongTheHeadFootAxisIsAVerticalLineInTheLateralViews) {
  RenderGrid g = cube();
  const int i = 12, j = 45;
  for (int k = 5; k <= 50; ++k) voxel(g, i, j, k) = kBright;
  for (auto [view, column] : {std::pair{View::Anterior, i}, std::pair{View::Left, j}}) {
    SCOPED_TRACE(viewName(view));
    const auto bright = pixelsAtLeast(project(g, view), kN, kBright);
    ASSERT_EQ(bright.size(), 46u);
    for (const Pixel& p : bright) {
      EXPECT_EQ(p.x, column);
      EXPECT_GE(p.y, kN - 1 - 50);
      EXPECT_LE(p.y, kN - 1 - 5);
    }
  }
  // From above the bar is a single pixel.
  EXPECT_EQ(pixelsAtLeast(project(g, View::Superior), kN, kBright), (std::vector<Pixel>{{kN - 1 - i, j}}));
}

TEST(MipSplat, KeepsTheMaximumAlongTheRayAndLeavesEmptyPixelsUnset) {
  RenderGrid g = cube();
  // A body block with a brighter voxel behind it (anteriorly hidden in a composite render, not in a MIP).
  for (int k = 20; k < 30; ++k)
    for (int j = 20; j < 30; ++j)
      for (int i = 20; i < 30; ++i) voxel(g, i, j, k) = kBody;
  voxel(g, 25, 29, 25) = kBright;
  voxel(g, 2, 2, 2) = kThreshold - 1;  // below the threshold: not projected
  const auto image = project(g, View::Anterior);
  for (int y = 0; y < kN; ++y)
    for (int x = 0; x < kN; ++x) {
      const bool in_block = x >= 20 && x < 30 && y >= kN - 30 && y < kN - 20;
      const int16_t expected = !in_block ? INT16_MIN : (x == 25 && y == kN - 1 - 25) ? kBright : kBody;
      ASSERT_EQ(image[size_t(y) * kN + x], expected) << "pixel " << x << "," << y;
    }
}

TEST(MipSplat, VoxelsLargerThanPixelsLeaveNoGaps) {
  RenderGrid g;
  g.dims = {10, 10, 10};
  g.spacing = {2.5, 2.5, 2.5};  // 2.5 pixels per voxel
  g.origin = {-11.25, -11.25, -11.25};
  g.direction = {1, 0, 0, 0, 1, 0, 0, 0, 1};
  g.own.assign(1000, kBody);
  g.data = g.own.data();
  const auto image = splatMip(g, viewBasis(View::Left), {0, 0, 0}, kN / 2.0, kN, kN, kThreshold, 2);
  // The block spans [-12.5, 12.5] mm: pixels 20..44 along both axes, every one of them filled.
  const auto filled = pixelsAtLeast(image, kN, kBody);
  EXPECT_EQ(filled.size(), 25u * 25u);
  for (const Pixel& p : filled) {
    EXPECT_GE(p.x, 20);
    EXPECT_LE(p.x, 44);
    EXPECT_GE(p.y, 20);
    EXPECT_LE(p.y, 44);
  }
}

TEST(MipSplat, TheResultDoesNotDependOnTheNumberOfThreads) {
  RenderGrid g = cube();
  scatter(g, 400, 100);
  // Views across a grid axis project each slice onto a band of rows.
  for (View view : {View::Anterior, View::Superior}) {
    const auto one = project(g, view, 1);
    for (int threads : {2, 3, 8, 100}) EXPECT_EQ(project(g, view, threads), one) << viewName(view) << " " << threads;
  }
  // A grid tilted about L-R projects voxel by voxel.
  const double c = std::cos(0.4), s = std::sin(0.4);
  g.direction = {1, 0, 0, 0, c, -s, 0, s, c};
  const auto one = project(g, View::Anterior, 1);
  EXPECT_GT(pixelsAtLeast(one, kN, 100).size(), 300u);
  for (int threads : {2, 5, 100}) EXPECT_EQ(project(g, View::Anterior, threads), one) << threads;
}

TEST(MipSplat, TheOppositeViewIsTheMirroredImage) {
  RenderGrid g = cube();
  scatter(g, 300, 60);
  EXPECT_EQ(mirrorRows(project(g, View::Anterior), kN, kN), project(g, View::Posterior));
  EXPECT_EQ(mirrorRows(project(g, View::Left), kN, kN), project(g, View::Right));
  EXPECT_EQ(mirrorRows(project(g, View::Superior), kN, kN), project(g, View::Inferior));
}

// The phantom of the render tests (markers in LPS) sampled on an axial grid
// and on a grid tilted 25 degrees about L-R, whose voxels project one by one.
// On a 200 x 200 frame of 1 mm pixels centred on the LPS origin, a marker at
// (x, y, z) is a disc of radius 9 px around column 100 + x, row 100 - z
// (anterior) or column 100 + y (left).
TEST(MipSplat, PhantomMarkersAppearAsDiscsWhereTheirPositionsProject) {
  using test::Phantom;
  const double t = 25 * M_PI / 180;
  const auto axial = test::columns({1, 0, 0}, {0, 1, 0}, {0, 0, 1});
  const auto tilted = test::columns({1, 0, 0}, {0, std::cos(t), std::sin(t)}, {0, -std::sin(t), std::cos(t)});
  for (const auto& direction : {axial, tilted}) {
    const auto volume = test::samplePhantom(direction, {1.0, 1.0, 1.0});
    const GridPlan plan = planGrid(*volume, {0, 0, 0}, {volume->dimensions[0] - 1, volume->dimensions[1] - 1,
                                                        volume->dimensions[2] - 1}, 0.1, 2.5, true);
    const RenderGrid grid = buildGrid(*volume, plan);
    for (View view : {View::Anterior, View::Left}) {
      SCOPED_TRACE(viewName(view) + (direction == axial ? " axial" : " tilted"));
      const auto image = splatMip(grid, viewBasis(view), {0, 0, 0}, 100, 200, 200, -500, 2);
      const auto left_marker = pixelsAtLeast(image, 200, Phantom::kLeftValue);
      ASSERT_FALSE(left_marker.empty());
      double sx = 0, sy = 0;
      for (const Pixel& p : left_marker) sx += p.x + 0.5, sy += p.y + 0.5;
      const double x = sx / left_marker.size(), y = sy / left_marker.size();
      const double along = view == View::Anterior ? Phantom::kLeft[0] : Phantom::kLeft[1];
      EXPECT_NEAR(x, 100 + along, 1.0);
      EXPECT_NEAR(y, 100 - Phantom::kLeft[2], 1.0);
      const double disc = M_PI * Phantom::kRadius * Phantom::kRadius;
      EXPECT_NEAR(double(left_marker.size()), disc, 0.2 * disc);
      // The body (40 HU) is drawn around the markers, air is not.
      EXPECT_EQ(image[size_t(100) * 200 + 100], Phantom::kBodyValue);
      EXPECT_EQ(image[0], INT16_MIN);
    }
  }
}

}  // namespace
}  // namespace volnode::render
