#pragma once
// Internal: averaging a volume down in blocks while it is decoded, so that a series
// too large for the memory budget is never held at full resolution. Each output voxel
// is the mean of an fx x fy x fz block of source voxels; its centre is the centre of
// the block, so the geometry stays exact (spacing x f, origin moved by half a block
// less half a voxel). Voxels that do not fill a whole block at the far edges are dropped.
#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "volnode/volume/assembly.hpp"

namespace volnode::detail {

struct BlockReduction {
  int fx = 1, fy = 1, fz = 1;
  bool none() const { return fx == 1 && fy == 1 && fz == 1; }
  std::string describe() const;  // "2x2x1"
};

// The smallest blocks that bring an int16 volume of `dimensions` within `max_bytes`
// (0: no limit), growing the factor along the axis whose (reduced) spacing is finest
// first, so the result stays as close to isotropic as the source allows.
BlockReduction reductionToFit(const std::array<int, 3>& dimensions, const std::array<double, 3>& spacing,
                              uint64_t max_bytes);

// The candidate's geometry after the reduction (dimensions, spacing, origin).
void reduceGeometry(VolumeCandidate& candidate, const BlockReduction& reduction);

// Sums of blocks of full-resolution slices for one reduced slice at a time.
class ReducedSlice {
 public:
  ReducedSlice(int full_cols, int full_rows, const BlockReduction& reduction);
  void clear();
  // Adds one full-resolution slice (full_cols x full_rows) to the block sums.
  void add(const int16_t* full_slice);
  // Writes the block means (rounded) into `out` (reduced cols x rows) and clears.
  void finish(int16_t* out);
  int cols() const { return cols_; }
  int rows() const { return rows_; }

 private:
  int full_cols_, full_rows_, cols_, rows_;
  BlockReduction r_;
  int slices_ = 0;
  std::vector<int64_t> sums_;
};

}  // namespace volnode::detail
