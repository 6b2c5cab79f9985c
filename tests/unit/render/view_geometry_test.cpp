// View bases, orientation letters and framing scale in patient (LPS)
// coordinates, checked against the anatomical definitions in render.hpp. Plain
// C++: no display.
#include <gtest/gtest.h>

#include <cmath>

#include "volnode/core/error.hpp"
#include "volnode/render/view_geometry.hpp"

namespace volnode::render {
namespace {

void expectNear(const Vec3& actual, const Vec3& expected) {
  for (int c = 0; c < 3; ++c) EXPECT_NEAR(actual[c], expected[c], 1e-12) << "component " << c;
}

// LPS unit vectors.
const Vec3 kLeft{1, 0, 0}, kRight{-1, 0, 0}, kPosterior{0, 1, 0}, kAnterior{0, -1, 0}, kHead{0, 0, 1},
    kFeet{0, 0, -1};

struct Expected {
  View view;
  Vec3 toward_viewer;  // from the patient to the viewer: -dop
  Vec3 image_right, image_up;
  std::array<std::string, 4> letters;  // left, right, top, bottom edge
};

TEST(ViewGeometry, KeyViewsMatchTheirAnatomicalDefinitions) {
  const std::vector<Expected> expected{
      // viewer in front, head up, patient's right on the image's left
      {View::Anterior, kAnterior, kLeft, kHead, {"R", "L", "H", "F"}},
      // viewer behind, head up, patient's right on the image's right
      {View::Posterior, kPosterior, kRight, kHead, {"L", "R", "H", "F"}},
      // viewer at the patient's left, head up, anterior on the image's left
      {View::Left, kLeft, kPosterior, kHead, {"A", "P", "H", "F"}},
      // viewer at the patient's right, head up, anterior on the image's right
      {View::Right, kRight, kAnterior, kHead, {"P", "A", "H", "F"}},
      // viewer above the head, anterior up, patient's right on the image's right
      {View::Superior, kHead, kRight, kAnterior, {"L", "R", "A", "P"}},
      // viewer at the feet, anterior up, patient's right on the image's left
      {View::Inferior, kFeet, kLeft, kAnterior, {"R", "L", "A", "P"}},
  };
  for (const auto& e : expected) {
    SCOPED_TRACE(viewName(e.view));
    const ViewBasis b = viewBasis(e.view);
    expectNear({-b.dop[0], -b.dop[1], -b.dop[2]}, e.toward_viewer);
    expectNear(b.right(), e.image_right);
    expectNear(b.up, e.image_up);
    EXPECT_EQ(edgeLetters(b), e.letters);
  }
}

TEST(ViewGeometry, SpinStartsAnteriorAndTurnsTowardsThePatientsLeft) {
  for (View v : {View::Anterior, View::Left, View::Posterior, View::Right}) {
    SCOPED_TRACE(viewName(v));
    EXPECT_TRUE(isSpinView(v));
    const ViewBasis spin = spinBasis(spinAngleOf(v)), view = viewBasis(v);
    expectNear(spin.dop, view.dop);
    expectNear(spin.up, view.up);
  }
  EXPECT_FALSE(isSpinView(View::Superior));
  EXPECT_FALSE(isSpinView(View::Inferior));
  EXPECT_EQ(spinAngleOf(View::Left), 90);
  // A third of the way from anterior to left the viewer stands in front, a little to the left.
  const ViewBasis b = spinBasis(30);
  expectNear({-b.dop[0], -b.dop[1], -b.dop[2]}, {0.5, -std::sqrt(0.75), 0});
  EXPECT_EQ(edgeLetters(b), (std::array<std::string, 4>{"RA", "LP", "H", "F"}));
}

TEST(ViewGeometry, EverySpinBasisIsOrthonormalWithTheHeadUp) {
  for (int i = 0; i < 36; ++i) {
    const ViewBasis b = spinBasis(10.0 * i);
    EXPECT_NEAR(dot(b.dop, b.dop), 1, 1e-12);
    EXPECT_NEAR(dot(b.dop, b.up), 0, 1e-12);
    EXPECT_NEAR(dot(b.right(), b.right()), 1, 1e-12);
    expectNear(b.up, kHead);
  }
}

TEST(ViewGeometry, OrientationLettersNameTheStrongestComponentsAboveAQuarter) {
  EXPECT_EQ(orientationLetters({1, 0, 0}), "L");
  EXPECT_EQ(orientationLetters({0, -1, 0}), "A");
  EXPECT_EQ(orientationLetters({0, 0, -1}), "F");
  EXPECT_EQ(orientationLetters({0.3, -0.9, 0.1}), "AL");  // strongest first, 0.1 is left out
  EXPECT_EQ(orientationLetters({-0.6, 0.5, 0.62}), "HR");  // at most two letters
  EXPECT_EQ(orientationLetters({0.2, 0.2, 0.2}), "");
}

TEST(ViewGeometry, ViewNamesRoundTripAndUnknownNamesAreRefused) {
  ASSERT_EQ(keyViews().size(), 6u);
  for (View v : keyViews()) EXPECT_EQ(parseView(viewName(v)), v);
  EXPECT_THROW(parseView("lateral"), Error);
}

TEST(ViewGeometry, ParallelScaleFramesTheWidestExtentOverAllBases) {
  // A box 40 mm wide (L-R), 20 mm deep (A-P), 100 mm tall (H-F) about (5, 5, 5).
  std::vector<Vec3> points;
  for (int c = 0; c < 8; ++c) points.push_back({5 + ((c & 1) ? 20.0 : -20.0), 5 + ((c & 2) ? 10.0 : -10.0),
                                                5 + ((c & 4) ? 50.0 : -50.0)});
  const Vec3 centre{5, 5, 5};
  // Anterior: half height 50 mm dominates; fill 0.5 doubles it.
  EXPECT_NEAR(parallelScale(points, centre, {viewBasis(View::Anterior)}, 1.0, 0.5), 100, 1e-9);
  // Superior on a frame 4 times wider than tall: half width 20 / aspect 4 = 5 < half height 10.
  EXPECT_NEAR(parallelScale(points, centre, {viewBasis(View::Superior)}, 4.0, 1.0), 10, 1e-9);
  // Superior on a frame 4 times taller than wide: half width 20 / aspect 0.25 = 80.
  EXPECT_NEAR(parallelScale(points, centre, {viewBasis(View::Superior)}, 0.25, 1.0), 80, 1e-9);
  // Over several bases the largest wins.
  EXPECT_NEAR(parallelScale(points, centre, {viewBasis(View::Superior), viewBasis(View::Left)}, 1.0, 1.0), 50, 1e-9);
  // A single point still gets a positive scale.
  EXPECT_GT(parallelScale({centre}, centre, {viewBasis(View::Anterior)}, 1.0, 1.0), 0);
}

}  // namespace
}  // namespace volnode::render
