#pragma once
// A preset's cut-away (RenderPreset::cutaway) as cropping regions of the
// rendered grid, in plain C++: the numbers VTK's volume mapper takes for its
// 27-region cropping (SetCroppingRegionPlanes / SetCroppingRegionFlags).
#include <array>

#include "volnode/render/render_grid.hpp"
#include "volnode/render/view_geometry.hpp"

namespace volnode::render {

struct CutawayCrop {
  // Per grid axis, two planes in data coordinates (index * spacing): the
  // object's centre, and one far beyond the grid (the regions past it are empty).
  std::array<double, 6> planes{};
  // Bit i + 3j + 9k set: region (i, j, k) is drawn; region 0 lies below an
  // axis's first plane, 1 between its planes.
  int region_flags = 0;
};

// Cuts through `centre` (LPS) across the grid axis closest to each cut patient
// axis (cutaway: +1 the left / posterior / superior side, -1 the other, 0 none)
// and draws every region except those on all the cut sides.
CutawayCrop cutawayCrop(const RenderGrid& grid, const Vec3& centre, const std::array<int, 3>& cutaway);

}  // namespace volnode::render
