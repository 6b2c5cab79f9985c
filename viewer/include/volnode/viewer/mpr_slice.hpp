#pragma once
// Multiplanar reformatting for the viewer's slice panes: one plane through the
// volume in patient geometry, sampled trilinearly (a slab: averaged or its
// maximum), windowed to 8-bit grey. The image carries where each pixel lies in
// patient coordinates, so the page can put a crosshair on a point and the other
// panes can go there. Plain C++.
//   axial     image right = patient left (L), image down = posterior (P): seen from the feet
//   coronal   image right = L, image down = inferior (F): seen from the front
//   sagittal  image right = posterior (P), image down = F: seen from the patient's left
//   oblique   normal n given; image down = the foot direction projected on the plane
//             (posterior when n is head-foot), image right = down x n
#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "volnode/viewer/view_parameters.hpp"
#include "volnode/volume/volume.hpp"

namespace volnode::viewer {

struct SliceImage {
  int width = 0, height = 0;
  std::vector<uint8_t> pixels;        // grey, top row first
  std::array<double, 3> origin{};     // LPS mm of the centre of pixel (0, 0)
  std::array<double, 3> right{}, down{};  // unit LPS directions of +column and +row
  std::array<double, 3> normal{};
  double pixel_mm = 1;                // square pixels
  double position_mm = 0;             // where the plane lies (see SliceParameters)
  std::array<double, 2> window{};     // centre, width applied
  std::array<std::string, 4> edge_letters;  // left, right, top, bottom

  // Patient point (mm) of a pixel position (column, row; pixel centres at integers).
  std::array<double, 3> pointAt(double column, double row) const {
    return {origin[0] + column * pixel_mm * right[0] + row * pixel_mm * down[0],
            origin[1] + column * pixel_mm * right[1] + row * pixel_mm * down[1],
            origin[2] + column * pixel_mm * right[2] + row * pixel_mm * down[2]};
  }
};

// Throws ParameterError("position_mm" or "through") when the plane misses the volume.
SliceImage reformatSlice(const Volume& volume, const SliceParameters& parameters);

}  // namespace volnode::viewer
