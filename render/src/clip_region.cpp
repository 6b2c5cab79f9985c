#include "volnode/render/clip_region.hpp"

#include <climits>
#include <cstring>

namespace volnode::render {

bool ClipRegion::keeps(const Vec3& p) const {
  if (box)
    for (int c = 0; c < 3; ++c)
      if (p[c] < (*box)[2 * c] || p[c] > (*box)[2 * c + 1]) return false;
  if (plane) {
    const auto& q = *plane;
    if ((p[0] - q[0]) * q[3] + (p[1] - q[1]) * q[4] + (p[2] - q[2]) * q[5] < 0) return false;
  }
  return true;
}

RenderGrid clippedCopy(const RenderGrid& grid, const ClipRegion& region) {
  RenderGrid out;
  out.dims = grid.dims;
  out.spacing = grid.spacing;
  out.origin = grid.origin;
  out.direction = grid.direction;
  const size_t count = size_t(grid.dims[0]) * grid.dims[1] * grid.dims[2];
  out.own.resize(count);
  std::memcpy(out.own.data(), grid.data, count * sizeof(int16_t));
  out.data = out.own.data();
  if (region.cutsNothing()) return out;
  // Patient position of voxel (i, j, k): origin + D * (i, j, k) * spacing, walked incrementally.
  Vec3 step_i{}, step_j{}, step_k{};
  for (int r = 0; r < 3; ++r) {
    step_i[r] = grid.direction[r * 3 + 0] * grid.spacing[0];
    step_j[r] = grid.direction[r * 3 + 1] * grid.spacing[1];
    step_k[r] = grid.direction[r * 3 + 2] * grid.spacing[2];
  }
  size_t n = 0;
  for (int k = 0; k < grid.dims[2]; ++k)
    for (int j = 0; j < grid.dims[1]; ++j) {
      Vec3 p{};
      for (int r = 0; r < 3; ++r) p[r] = grid.origin[r] + j * step_j[r] + k * step_k[r];
      for (int i = 0; i < grid.dims[0]; ++i, ++n) {
        if (!region.keeps(p)) out.own[n] = INT16_MIN;
        for (int r = 0; r < 3; ++r) p[r] += step_i[r];
      }
    }
  return out;
}

}  // namespace volnode::render
