// A preset's cut-away as cropping regions of the rendered grid (see cutaway.hpp).
#include "volnode/render/cutaway.hpp"

#include <cmath>

namespace volnode::render {

CutawayCrop cutawayCrop(const RenderGrid& grid, const Vec3& centre, const std::array<int, 3>& cutaway) {
  CutawayCrop crop;
  std::array<int, 3> cut_side{-1, -1, -1};  // per grid axis: region 0 (below the plane), 1 (above) or none
  for (int c = 0; c < 3; ++c) {
    // Grid coordinate (data space: index * spacing) of the object's centre along axis c.
    double q = 0;
    for (int r = 0; r < 3; ++r) q += grid.direction[r * 3 + c] * (centre[r] - grid.origin[r]);
    crop.planes[2 * c] = q;
    crop.planes[2 * c + 1] = 1e9;  // regions above it are empty
  }
  for (int a = 0; a < 3; ++a) {
    if (cutaway[a] == 0) continue;
    int best = 0;
    for (int c = 1; c < 3; ++c)
      if (std::fabs(grid.direction[a * 3 + c]) > std::fabs(grid.direction[a * 3 + best])) best = c;
    cut_side[best] = grid.direction[a * 3 + best] * cutaway[a] > 0 ? 1 : 0;
  }
  const bool cuts = cut_side != std::array<int, 3>{-1, -1, -1};  // no cut: every region is drawn
  for (int k = 0; k < 3; ++k)
    for (int j = 0; j < 3; ++j)
      for (int i = 0; i < 3; ++i) {
        const int part[3] = {i, j, k};
        bool cut = cuts;
        for (int c = 0; c < 3; ++c)
          if (cut_side[c] >= 0 && part[c] != cut_side[c]) cut = false;
        if (!cut) crop.region_flags |= 1 << (i + 3 * j + 9 * k);
      }
  return crop;
}

}  // namespace volnode::render
