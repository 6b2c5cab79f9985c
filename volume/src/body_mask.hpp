#pragma once
// The body in a CT volume, for cropping: the largest 6-connected component of
// voxels above a threshold, with the holes of each slice filled (air in the lungs
// and bowel stays, the table and everything outside becomes air).
//
// Worked out on runs of voxels along rows instead of voxels: a row of a CT slice
// crosses the body in a few runs, so the connected components, the hole filling
// and the bounding box cost a fraction of a pass over the voxels, on all cores.
// The result is voxel for voxel what a flood fill from the first voxel of each
// component (6-connected in the volume, 4-connected within a slice for the holes)
// gives.
#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "volnode/volume/volume.hpp"

namespace volnode {

// Voxels [begin, end) along i of one row.
struct RowRun {
  int begin = 0, end = 0;
};

struct BodyMask {
  // Bounding box of the body with its filled holes, inclusive, in voxels of the volume.
  std::array<int, 3> low{0, 0, 0}, high{-1, -1, -1};
  int rows_per_slice = 0;  // the volume's dimensions[1]
  // Per slice: the body's runs of row j are runs[row_start[j] .. row_start[j + 1]).
  struct Slice {
    std::vector<uint32_t> row_start;
    std::vector<RowRun> runs;
  };
  std::vector<Slice> slices;

  std::span<const RowRun> row(int j, int k) const {
    const Slice& s = slices[size_t(k)];
    return {s.runs.data() + s.row_start[size_t(j)], s.runs.data() + s.row_start[size_t(j) + 1]};
  }
};

// The body of voxels whose value is greater than `above`, or nullopt with the
// reason in `why_not` (no component of at least `min_voxels` voxels, or a volume
// so fragmented above the threshold that its runs would outweigh the voxels).
std::optional<BodyMask> findBody(const Volume& v, int above, size_t min_voxels, int threads, std::string& why_not);

}  // namespace volnode
