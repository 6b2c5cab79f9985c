// Renders are anatomically oriented whatever the acquisition geometry: markers
// placed in patient coordinates are found by image analysis of MIP frames.
#include <gtest/gtest.h>

#include <cmath>
#include <string>

#include "phantom.hpp"
#include "render_test_support.hpp"

namespace volnode::test {
namespace {

struct Geometry {
  std::string name;
  std::array<double, 9> direction;
  std::array<double, 3> spacing;
};

std::array<double, 9> obliqueDirection() {
  // Axial head-first supine rotated 20 degrees about the axis (1, 1, 1)/sqrt(3).
  const double a = 20 * M_PI / 180, c = std::cos(a), s = std::sin(a), t = 1 - c;
  const double x = 1 / std::sqrt(3.0), y = x, z = x;
  return {t * x * x + c,     t * x * y - s * z, t * x * z + s * y,  //
          t * x * y + s * z, t * y * y + c,     t * y * z - s * x,  //
          t * x * z - s * y, t * y * z + s * x, t * z * z + c};
}

std::vector<Geometry> geometries() {
  const double tilt = 18.5 * M_PI / 180;
  return {
      {"AxialHeadFirstSupine", columns({1, 0, 0}, {0, 1, 0}, {0, 0, 1}), {1.6, 1.6, 2.0}},
      {"AxialReversedSliceOrder", columns({1, 0, 0}, {0, 1, 0}, {0, 0, -1}), {1.6, 1.6, 2.0}},
      {"AxialFeetFirstSupine", columns({-1, 0, 0}, {0, 1, 0}, {0, 0, -1}), {1.6, 1.6, 2.0}},
      {"AxialHeadFirstProne", columns({-1, 0, 0}, {0, -1, 0}, {0, 0, 1}), {1.6, 1.6, 2.0}},
      {"Sagittal", columns({0, 1, 0}, {0, 0, -1}, {-1, 0, 0}), {1.5, 1.5, 2.2}},
      {"Coronal", columns({1, 0, 0}, {0, 0, -1}, {0, 1, 0}), {1.5, 1.5, 2.2}},
      {"Oblique20Degrees", obliqueDirection(), {1.7, 1.7, 2.4}},
      // Gantry-tilt-like: rows tilted about x, slices stacked along z (a sheared grid).
      {"GantryTiltSheared", columns({1, 0, 0}, {0, std::cos(tilt), std::sin(tilt)}, {0, 0, 1}), {1.6, 1.6, 2.0}},
  };
}

struct Markers {
  const Blob* left = nullptr;
  const Blob* head = nullptr;
  const Blob* front = nullptr;
};

// Markers are told apart by their brightness (1000, 600, 300 HU -> 255, 153, 76).
Markers classify(const std::vector<Blob>& blobs) {
  Markers m;
  for (const auto& b : blobs) {
    if (b.peak >= 210)
      m.left = &b;
    else if (b.peak >= 120 && b.peak <= 185)
      m.head = &b;
    else if (b.peak >= 60 && b.peak <= 100)
      m.front = &b;
  }
  return m;
}

class RenderOrientation : public ::testing::TestWithParam<Geometry> {};

TEST_P(RenderOrientation, MipViewsShowMarkersOnTheAnatomicalSides) {
  const Geometry& g = GetParam();
  auto& r = sharedRenderer();
  r.setVolume(samplePhantom(g.direction, g.spacing));
  const RenderPreset mip = testMip();
  const RenderRequest rq = plainRequest(160);
  const double mid = 80, margin = 12;

  auto render = [&](View v) {
    RenderedFrame f = r.renderView(mip, v, rq);
    maybeDump(f, g.name + "-" + viewName(v));
    EXPECT_EQ(f.channels, 1);
    return f;
  };
  // Threshold between the body (40 HU -> ~10) and the faintest marker (~76); blob
  // edges are interpolated, so use the peaks to classify.
  const int thr = 40;

  {  // Anterior: patient's left on the image's right, head at the top.
    auto f = render(View::Anterior);
    auto blobs = findBlobs(f, thr);
    auto m = classify(blobs);
    ASSERT_TRUE(m.left && m.head && m.front) << g.name << ": " << blobs.size() << " blobs";
    EXPECT_GT(m.left->x, mid + margin) << g.name;
    EXPECT_LT(m.head->y, mid - margin) << g.name;
    EXPECT_LT(m.head->y, m.left->y) << g.name;
    EXPECT_LT(m.head->y, m.front->y) << g.name;
    EXPECT_NEAR(m.front->x, mid, margin) << g.name;
  }
  {  // Posterior: patient's left on the image's left.
    auto m_blobs = findBlobs(render(View::Posterior), thr);
    auto m = classify(m_blobs);
    ASSERT_TRUE(m.left && m.head) << g.name;
    EXPECT_LT(m.left->x, mid - margin) << g.name;
    EXPECT_LT(m.head->y, mid - margin) << g.name;
  }
  {  // Left lateral: front on the image's left, head at the top.
    auto blobs = findBlobs(render(View::Left), thr);
    auto m = classify(blobs);
    ASSERT_TRUE(m.front && m.head) << g.name;
    EXPECT_LT(m.front->x, mid - margin) << g.name;
    EXPECT_LT(m.head->y, mid - margin) << g.name;
  }
  {  // Right lateral: front on the image's right.
    auto m_blobs = findBlobs(render(View::Right), thr);
    auto m = classify(m_blobs);
    ASSERT_TRUE(m.front && m.head) << g.name;
    EXPECT_GT(m.front->x, mid + margin) << g.name;
    EXPECT_LT(m.head->y, mid - margin) << g.name;
  }
  {  // Superior: anterior at the top, patient's left on the image's left.
    auto blobs = findBlobs(render(View::Superior), thr);
    auto m = classify(blobs);
    ASSERT_TRUE(m.front && m.left) << g.name;
    EXPECT_LT(m.front->y, mid - margin) << g.name;
    EXPECT_LT(m.left->x, mid - margin) << g.name;
  }
  {  // Inferior: anterior at the top, patient's left on the image's right.
    auto blobs = findBlobs(render(View::Inferior), thr);
    auto m = classify(blobs);
    ASSERT_TRUE(m.front && m.left) << g.name;
    EXPECT_LT(m.front->y, mid - margin) << g.name;
    EXPECT_GT(m.left->x, mid + margin) << g.name;
  }
}

INSTANTIATE_TEST_SUITE_P(Geometries, RenderOrientation, ::testing::ValuesIn(geometries()),
                         [](const auto& info) { return info.param.name; });

TEST(RenderOrientation, ReversedSliceOrderRendersIdentically) {
  auto& r = sharedRenderer();
  const RenderRequest rq = plainRequest(128);
  r.setVolume(samplePhantom(columns({1, 0, 0}, {0, 1, 0}, {0, 0, 1}), {1.6, 1.6, 2.0}));
  auto a = r.renderView(testMip(), View::Anterior, rq);
  r.setVolume(samplePhantom(columns({1, 0, 0}, {0, 1, 0}, {0, 0, -1}), {1.6, 1.6, 2.0}));
  auto b = r.renderView(testMip(), View::Anterior, rq);
  EXPECT_LT(meanAbsDiff(a, b), 0.5);
}

TEST(RenderOrientation, EdgeLettersNameThePatientDirections) {
  auto& r = sharedRenderer();
  r.setVolume(samplePhantom(columns({1, 0, 0}, {0, 1, 0}, {0, 0, 1}), {2, 2, 2}));
  RenderRequest rq = plainRequest(128);
  auto check = [&](View v, std::array<std::string, 4> expected) {
    EXPECT_EQ(r.renderView(testMip(), v, rq).edge_letters, expected) << viewName(v);
  };
  check(View::Anterior, {"R", "L", "H", "F"});
  check(View::Posterior, {"L", "R", "H", "F"});
  check(View::Left, {"A", "P", "H", "F"});
  check(View::Right, {"P", "A", "H", "F"});
  check(View::Superior, {"L", "R", "A", "P"});
  check(View::Inferior, {"R", "L", "A", "P"});
}

}  // namespace
}  // namespace volnode::test
