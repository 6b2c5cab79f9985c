// MPR slices put what lies at a patient position at the pixel the slice's own
// geometry gives for it, in every plane and for grids stored in any order.
#include <gtest/gtest.h>

#include <cmath>

#include "support/synthetic_series.hpp"
#include "volnode/viewer/mpr_slice.hpp"

using namespace volnode;
using namespace volnode::viewer;

namespace {

// The orientation phantom sampled on a 1.5 mm grid; `mirrored_k` stores the
// slices head first (direction column k = -z), as a feet-first acquisition might.
Volume phantomVolume(bool mirrored_k = false) {
  const test::OrientationPhantom phantom;
  Volume v;
  v.modality = "CT";
  v.dimensions = {80, 70, 90};
  v.spacing = {1.5, 1.5, 1.5};
  v.origin = {-59.25, -51.75, mirrored_k ? 66.75 : -66.75};
  v.direction = {1, 0, 0, 0, 1, 0, 0, 0, mirrored_k ? -1.0 : 1.0};
  v.voxels.resize(v.voxelCount());
  for (int k = 0; k < v.dimensions[2]; ++k)
    for (int j = 0; j < v.dimensions[1]; ++j)
      for (int i = 0; i < v.dimensions[0]; ++i)
        v.voxels[(size_t(k) * v.dimensions[1] + j) * v.dimensions[0] + i] =
            int16_t(phantom(v.physicalPoint(i, j, k)));
  return v;
}

// The pixel a patient point falls on (column, row), from the slice's geometry.
std::pair<int, int> pixelOf(const SliceImage& s, const std::array<double, 3>& p) {
  const std::array<double, 3> d{p[0] - s.origin[0], p[1] - s.origin[1], p[2] - s.origin[2]};
  const double column = (d[0] * s.right[0] + d[1] * s.right[1] + d[2] * s.right[2]) / s.pixel_mm;
  const double row = (d[0] * s.down[0] + d[1] * s.down[1] + d[2] * s.down[2]) / s.pixel_mm;
  return {int(std::lround(column)), int(std::lround(row))};
}

uint8_t pixel(const SliceImage& s, int column, int row) { return s.pixels[size_t(row) * s.width + column]; }

void expectMarkerAt(const SliceImage& s, const std::array<double, 3>& marker) {
  auto [column, row] = pixelOf(s, marker);
  ASSERT_GE(column, 0);
  ASSERT_GE(row, 0);
  ASSERT_LT(column, s.width);
  ASSERT_LT(row, s.height);
  EXPECT_EQ(pixel(s, column, row), 255) << "marker (bone, windowed 40/400) at pixel " << column << "," << row;
  // 10 mm further along the image's right edge lies no marker: body or air.
  auto [c2, r2] = pixelOf(s, {marker[0] + 12 * s.right[0], marker[1] + 12 * s.right[1], marker[2] + 12 * s.right[2]});
  if (c2 >= 0 && c2 < s.width) {
    EXPECT_LT(pixel(s, c2, r2), 200);
  }
}

}  // namespace

TEST(MprSlice, AxialCoronalAndSagittalPutTheMarkersAtTheirPatientPositions) {
  const test::OrientationPhantom phantom;
  for (bool mirrored : {false, true}) {
    SCOPED_TRACE(mirrored ? "slices stored head first" : "slices stored feet first");
    const Volume v = phantomVolume(mirrored);
    SliceParameters axial;
    axial.plane = SlicePlane::Axial;
    axial.position_mm = phantom.leftMarker()[2];
    auto a = reformatSlice(v, axial);
    EXPECT_EQ(a.edge_letters, (std::array<std::string, 4>{"R", "L", "A", "P"}));
    expectMarkerAt(a, phantom.leftMarker());
    expectMarkerAt(a, phantom.anteriorMarker());
    // The patient's left is on the image's right in an axial slice (seen from the feet).
    EXPECT_GT(pixelOf(a, phantom.leftMarker()).first, a.width / 2);

    SliceParameters coronal;
    coronal.plane = SlicePlane::Coronal;
    coronal.position_mm = phantom.headMarker()[1];
    auto c = reformatSlice(v, coronal);
    EXPECT_EQ(c.edge_letters, (std::array<std::string, 4>{"R", "L", "H", "F"}));
    expectMarkerAt(c, phantom.headMarker());
    EXPECT_LT(pixelOf(c, phantom.headMarker()).second, c.height / 2) << "head up";

    SliceParameters sagittal;
    sagittal.plane = SlicePlane::Sagittal;
    sagittal.position_mm = phantom.anteriorMarker()[0];
    auto s = reformatSlice(v, sagittal);
    EXPECT_EQ(s.edge_letters, (std::array<std::string, 4>{"A", "P", "H", "F"}));
    expectMarkerAt(s, phantom.anteriorMarker());
    expectMarkerAt(s, phantom.headMarker());
    EXPECT_LT(pixelOf(s, phantom.anteriorMarker()).first, s.width / 2) << "anterior on the left";
  }
}

TEST(MprSlice, ObliquePlaneThroughAMarkerShowsIt) {
  const test::OrientationPhantom phantom;
  const Volume v = phantomVolume();
  SliceParameters oblique;
  oblique.plane = SlicePlane::Oblique;
  const double n = 1 / std::sqrt(2.0);
  oblique.normal = {n, 0, n};
  const auto marker = phantom.leftMarker();
  // Signed distance of the marker from the volume's centre along the normal.
  const auto centre = v.physicalPoint((v.dimensions[0] - 1) / 2.0, (v.dimensions[1] - 1) / 2.0,
                                      (v.dimensions[2] - 1) / 2.0);
  oblique.position_mm = (marker[0] - centre[0]) * n + (marker[2] - centre[2]) * n;
  expectMarkerAt(reformatSlice(v, oblique), marker);
}

TEST(MprSlice, SlabMaximumFindsAMarkerBesideThePlaneAndAverageDilutesIt) {
  const test::OrientationPhantom phantom;
  const Volume v = phantomVolume();
  SliceParameters p;
  p.plane = SlicePlane::Axial;
  p.position_mm = phantom.leftMarker()[2] + 9;  // beside the 6 mm marker
  p.window = std::array<double, 2>{700, 1400};  // 0 .. 1400 HU
  auto thin = reformatSlice(v, p);
  auto [column, row] = pixelOf(thin, phantom.leftMarker());
  EXPECT_LT(pixel(thin, column, row), 40);
  p.thickness_mm = 20;
  p.mode = SliceMode::Maximum;
  EXPECT_EQ(pixel(reformatSlice(v, p), column, row), 255);
  p.mode = SliceMode::Average;
  const auto average = pixel(reformatSlice(v, p), column, row);
  EXPECT_GT(average, 40);
  EXPECT_LT(average, 255);
}

TEST(MprSlice, APlaneOutsideTheVolumeIsRefusedNamingThePosition) {
  const Volume v = phantomVolume();
  SliceParameters p;
  p.position_mm = 500;
  try {
    reformatSlice(v, p);
    FAIL() << "a plane 500 mm above the volume";
  } catch (const ParameterError& e) {
    EXPECT_EQ(e.parameter(), "position_mm");
  }
}

TEST(MprSlice, PlanesThroughOnePointAllShowItWhateverTheirOrientation) {
  const test::OrientationPhantom phantom;
  const Volume v = phantomVolume(true);
  const auto marker = phantom.headMarker();
  const double n = 1 / std::sqrt(3.0);
  for (auto plane : {SlicePlane::Axial, SlicePlane::Coronal, SlicePlane::Sagittal, SlicePlane::Oblique}) {
    SCOPED_TRACE(int(plane));
    SliceParameters p;
    p.plane = plane;
    if (plane == SlicePlane::Oblique) p.normal = {n, -n, n};
    p.through = marker;
    const auto slice = reformatSlice(v, p);
    expectMarkerAt(slice, marker);
    // The plane holds the point: its distance along the normal from the origin pixel is 0.
    const double off = (marker[0] - slice.origin[0]) * slice.normal[0] + (marker[1] - slice.origin[1]) * slice.normal[1] +
                       (marker[2] - slice.origin[2]) * slice.normal[2];
    EXPECT_NEAR(off, 0, 1e-6);
  }
  SliceParameters outside;
  outside.through = std::array<double, 3>{0, 0, 400};
  try {
    reformatSlice(v, outside);
    FAIL() << "a plane through a point 400 mm above the volume";
  } catch (const ParameterError& e) {
    EXPECT_EQ(e.parameter(), "through");
  }
}
