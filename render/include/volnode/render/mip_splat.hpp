#pragma once
// CPU maximum intensity projection of a render grid, in plain C++: voxel
// splatting under a parallel projection. The renderer windows its result under
// the annotation layer; VTK is not involved.
#include <cstdint>
#include <vector>

#include "volnode/render/render_grid.hpp"
#include "volnode/render/view_geometry.hpp"

namespace volnode::render {

// Every voxel at or above `lo` writes its value into the pixels its projected
// box covers, keeping the maximum. The frame (width x height pixels) is centred
// on `centre` and `scale` mm is half its height. Cost is one pass over the
// grid, independent of ray length, and skipped air is nearly free. Runs on
// `threads` threads; the result does not depend on their number. Returns
// per-pixel maxima, top row first, INT16_MIN where nothing was projected.
std::vector<int16_t> splatMip(const RenderGrid& grid, const ViewBasis& basis, const Vec3& centre, double scale,
                              int width, int height, int16_t lo, int threads);

// The image mirrored left to right. With parallel projection, the MIP seen
// from the opposite side is the same image mirrored: frame a + 180 and the
// inferior view cost a copy.
std::vector<int16_t> mirrorRows(const std::vector<int16_t>& image, int width, int height);

}  // namespace volnode::render
