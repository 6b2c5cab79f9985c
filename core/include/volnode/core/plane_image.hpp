#pragma once
// One 2D image with its place in patient space (the DICOM Image Plane module):
// what reformatting (volnode_volume) produces and the geometry-exact image
// encoder (volnode_encode) writes. Plain data in core so neither module needs
// the other.
#include <array>
#include <cstdint>
#include <vector>

namespace volnode {

// Where an image lies, in the terms of ImagePositionPatient, ImageOrientationPatient,
// PixelSpacing and SliceThickness (LPS, mm).
struct PlaneGeometry {
  std::array<double, 3> position{0, 0, 0};          // centre of the first pixel (row 0, column 0)
  std::array<double, 3> row_direction{1, 0, 0};     // unit vector along a row (increasing column index)
  std::array<double, 3> column_direction{0, 1, 0};  // unit vector down a column (increasing row index)
  double row_spacing = 1;     // PixelSpacing[0]: distance between row centres
  double column_spacing = 1;  // PixelSpacing[1]: distance between column centres
  double thickness = 0;       // SliceThickness (slab thickness); 0: unknown
  int rows = 0, columns = 0;

  std::array<double, 3> normal() const {
    const auto& r = row_direction;
    const auto& c = column_direction;
    return {r[1] * c[2] - r[2] * c[1], r[2] * c[0] - r[0] * c[2], r[0] * c[1] - r[1] * c[0]};
  }
  // LPS position of the centre of pixel (column, row).
  std::array<double, 3> pointAt(double column, double row) const {
    std::array<double, 3> p{};
    for (int a = 0; a < 3; ++a)
      p[a] = position[a] + column * column_spacing * row_direction[a] + row * row_spacing * column_direction[a];
    return p;
  }
};

// A grey image in physical units (HU for CT, stored values for MR), row-major, first row first.
struct PlaneImage {
  PlaneGeometry geometry;
  std::vector<int16_t> pixels;  // rows * columns values
  int16_t at(int column, int row) const { return pixels[size_t(row) * geometry.columns + column]; }
};

}  // namespace volnode
