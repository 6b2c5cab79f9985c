#pragma once
// The interactive viewer's cuts in plain C++: an axis-aligned box in patient
// coordinates and one oblique plane, and a copy of a render grid with what they
// cut away removed, for the CPU MIP (the VTK mappers take the same cuts as
// clipping planes).
#include <array>
#include <optional>

#include "volnode/render/render_grid.hpp"

namespace volnode::render {

struct ClipRegion {
  std::optional<std::array<double, 6>> box;    // xmin, xmax, ymin, ymax, zmin, zmax (LPS mm)
  std::optional<std::array<double, 6>> plane;  // point x, y, z, then the normal of the kept side

  bool cutsNothing() const { return !box && !plane; }
  bool keeps(const Vec3& p) const;
};

// The grid with every voxel the region cuts away set to INT16_MIN, below any MIP window.
RenderGrid clippedCopy(const RenderGrid& grid, const ClipRegion& region);

}  // namespace volnode::render
