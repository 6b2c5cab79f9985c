#pragma once
// Mask operations on a voxel grid for bone removal (bone_removal.cpp): one byte per
// voxel holds several masks as bits; a scratch byte per voxel takes intermediate
// results, so every parallel pass reads one buffer and writes the other (no two
// threads write the same byte, none reads a byte another writes).
//
//   boxDilate / boxErode  separable box morphology of one bit, radius per axis
//   labelRuns             6-connected components of a predicate, on runs along rows
//   fillSliceHoles        per axial slice, the 4-connected background regions of a bit
//                         not reachable from the slice's border, kept when accepted
#include <array>
#include <cstdint>
#include <functional>
#include <vector>

#include "body_mask.hpp"  // RowRun
#include "slab_threads.hpp"

namespace volnode {

struct VoxelGrid {
  int nx = 0, ny = 0, nz = 0;
  size_t count() const { return size_t(nx) * ny * nz; }
  size_t index(int i, int j, int k) const { return (size_t(k) * ny + j) * nx + i; }
  size_t sliceSize() const { return size_t(nx) * ny; }
};

// bit `to` of flags := dilation (erosion) of bit `from` by a box of radius[a] voxels
// along axis a. Outside the grid counts as unset for dilation and set for erosion (a
// bone cut by the edge of the scan is not eroded from there). scratch: count() bytes.
void boxDilate(std::vector<uint8_t>& flags, std::vector<uint8_t>& scratch, const VoxelGrid& g, uint8_t from,
               uint8_t to, std::array<int, 3> radius, int threads);
void boxErode(std::vector<uint8_t>& flags, std::vector<uint8_t>& scratch, const VoxelGrid& g, uint8_t from,
              uint8_t to, std::array<int, 3> radius, int threads);

// Runs of the voxels where inside(index) holds, and their 6-connected components.
struct LabelledRuns {
  std::vector<uint32_t> row_start;  // runs of row (j, k): [row_start[k * ny + j], row_start[k * ny + j + 1])
  std::vector<RowRun> runs;
  std::vector<uint32_t> component;  // per run: 0 .. components - 1
  uint32_t components = 0;

  uint32_t rowBegin(const VoxelGrid& g, int j, int k) const { return row_start[size_t(k) * g.ny + j]; }
  uint32_t rowEnd(const VoxelGrid& g, int j, int k) const { return row_start[size_t(k) * g.ny + j + 1]; }
};
template <class Inside>
LabelledRuns labelRuns(const VoxelGrid& g, Inside&& inside, int threads);
// Sets component and components from the runs (union-find over overlapping runs of
// neighbouring rows and slices).
void labelComponents(const VoxelGrid& g, LabelledRuns& runs);

template <class Inside>
LabelledRuns labelRuns(const VoxelGrid& g, Inside&& inside, int threads) {
  std::vector<std::vector<RowRun>> slice_runs(size_t(g.nz));
  std::vector<std::vector<uint32_t>> slice_counts(size_t(g.nz));
  forEachChunk(g.nz, 4, threads, [&](int begin, int end) {
    for (int k = begin; k < end; ++k) {
      auto& runs = slice_runs[size_t(k)];
      auto& counts = slice_counts[size_t(k)];
      counts.assign(size_t(g.ny), 0);
      for (int j = 0; j < g.ny; ++j) {
        const size_t row = g.index(0, j, k);
        int i = 0;
        while (i < g.nx) {
          while (i < g.nx && !inside(row + size_t(i))) ++i;
          if (i == g.nx) break;
          const int b = i;
          while (i < g.nx && inside(row + size_t(i))) ++i;
          runs.push_back({b, i});
          ++counts[size_t(j)];
        }
      }
    }
  });
  LabelledRuns out;
  out.row_start.assign(size_t(g.nz) * g.ny + 1, 0);
  size_t total = 0;
  for (const auto& r : slice_runs) total += r.size();
  out.runs.reserve(total);
  size_t row = 0;
  for (int k = 0; k < g.nz; ++k) {
    for (int j = 0; j < g.ny; ++j, ++row) out.row_start[row + 1] = out.row_start[row] + slice_counts[size_t(k)][size_t(j)];
    out.runs.insert(out.runs.end(), slice_runs[size_t(k)].begin(), slice_runs[size_t(k)].end());
    std::vector<RowRun>().swap(slice_runs[size_t(k)]);
  }
  labelComponents(g, out);
  return out;
}

// For each axial slice: the background (bit `wall` unset) regions that do not reach
// the slice's border; accept(area in voxels, sum of values) says whether a region is
// filled, which sets bit `fill` on its voxels.
void fillSliceHoles(std::vector<uint8_t>& flags, const std::vector<int16_t>& values, const VoxelGrid& g, uint8_t wall,
                    uint8_t fill, const std::function<bool(size_t area, double sum)>& accept, int threads);

}  // namespace volnode
