#pragma once
// What the renderer measures of a volume before framing and colouring it, in
// plain C++: the hull of the voxels a preset shows (for framing and cropping)
// and the reference intensity that relative presets are scaled by.
#include <array>
#include <vector>

#include "volnode/render/view_geometry.hpp"
#include "volnode/volume/volume.hpp"

namespace volnode::render {

// The voxels at or above a threshold. `points` holds the first and last such
// voxel of every i-line (LPS): their convex hull is the hull of all of them, so
// extents along any direction are exact. When none is, the grid's eight
// corners stand in and the box is the whole grid.
struct VisibleHull {
  double threshold = 0;
  std::vector<Vec3> points;
  Vec3 centre{};                   // centre of the points' LPS bounding box
  std::array<int, 3> index_lo{};   // index box holding every visible voxel (inclusive)
  std::array<int, 3> index_hi{};
};

// `threshold` is rounded up to the next voxel value.
VisibleHull visibleHull(const Volume& volume, double threshold);

// 99th percentile of the voxels above the volume's minimum (the background),
// sampled with a stride on large volumes; at least 1.
double referenceIntensity(const Volume& volume);

}  // namespace volnode::render
