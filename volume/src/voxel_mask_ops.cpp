// Box morphology, run components and slice hole filling for bone removal (voxel_mask_ops.hpp).
#include "voxel_mask_ops.hpp"

#include <algorithm>

#include "run_sets.hpp"

namespace volnode {
namespace {

constexpr int kChunk = 4;  // slices per work item

// dst := OR (dilate) or AND (erode) of src over [x - r, x + r] along one axis, where
// src/dst are "bit of flags" or "scratch byte != 0". Parallel over slices; a pass
// writes only the voxels of its own slices and reads only the other buffer. Whole
// rows at a time, so the loops vectorize.
struct BitView {
  std::vector<uint8_t>* bytes;
  uint8_t bit;  // 0: the whole byte (scratch)

  void load(size_t at, int n, uint8_t* row) const {
    const uint8_t* b = bytes->data() + at;
    if (bit == 0)
      for (int i = 0; i < n; ++i) row[i] = b[i] != 0;
    else
      for (int i = 0; i < n; ++i) row[i] = (b[i] & bit) != 0;
  }
  void store(size_t at, int n, const uint8_t* row) const {
    uint8_t* b = bytes->data() + at;
    if (bit == 0)
      for (int i = 0; i < n; ++i) b[i] = row[i];
    else
      for (int i = 0; i < n; ++i) b[i] = uint8_t((b[i] & ~bit) | (row[i] ? bit : 0));
  }
};

// Per row (j, k): whether any voxel of the row is set in src.
std::vector<uint8_t> rowsSet(const VoxelGrid& g, BitView src, int threads) {
  std::vector<uint8_t> rows(size_t(g.ny) * g.nz, 0);
  forEachChunk(g.nz, kChunk, threads, [&](int kb, int ke) {
    for (int k = kb; k < ke; ++k)
      for (int j = 0; j < g.ny; ++j) {
        const uint8_t* b = src.bytes->data() + g.index(0, j, k);
        uint8_t any = 0;
        if (src.bit == 0)
          for (int i = 0; i < g.nx; ++i) any |= b[i];
        else
          for (int i = 0; i < g.nx; ++i) any |= uint8_t(b[i] & src.bit);
        rows[size_t(k) * g.ny + j] = any != 0;
      }
  });
  return rows;
}

void boxPass(const VoxelGrid& g, int axis, int r, bool dilate, BitView src, BitView dst, int threads) {
  const int nx = g.nx;
  // Bone is a few per cent of a CT: rows whose window holds nothing (dilation) or
  // whose own row holds nothing (erosion) are empty without reading the window.
  const std::vector<uint8_t> set = rowsSet(g, src, threads);
  auto rowSet = [&](int j, int k) { return set[size_t(k) * g.ny + j] != 0; };
  forEachChunk(g.nz, kChunk, threads, [&](int kb, int ke) {
    std::vector<uint8_t> acc(static_cast<size_t>(nx)), row(static_cast<size_t>(nx));
    for (int k = kb; k < ke; ++k)
      for (int j = 0; j < g.ny; ++j) {
        bool empty = !rowSet(j, k);
        if (dilate && empty && axis != 0)
          for (int d = -r; d <= r && empty; ++d) {
            const int q = (axis == 1 ? j : k) + d;
            if (q >= 0 && q < (axis == 1 ? g.ny : g.nz)) empty = !(axis == 1 ? rowSet(q, k) : rowSet(j, q));
          }
        if (empty) {
          std::fill(acc.begin(), acc.end(), uint8_t(0));
        } else if (axis == 0) {
          src.load(g.index(0, j, k), nx, row.data());
          std::copy(row.begin(), row.end(), acc.begin());
          for (int d = 1; d <= r; ++d)
            for (int i = 0; i < nx; ++i) {
              // Outside the row: unset for dilation, set for erosion (no change either way).
              const uint8_t lo = i - d >= 0 ? row[size_t(i - d)] : acc[size_t(i)];
              const uint8_t hi = i + d < nx ? row[size_t(i + d)] : acc[size_t(i)];
              acc[size_t(i)] = dilate ? uint8_t(acc[size_t(i)] | lo | hi) : uint8_t(acc[size_t(i)] & lo & hi);
            }
        } else {
          const int at = axis == 1 ? j : k, n_axis = axis == 1 ? g.ny : g.nz;
          src.load(g.index(0, j, k), nx, acc.data());
          for (int d = -r; d <= r; ++d) {
            const int q = at + d;
            if (d == 0 || q < 0 || q >= n_axis) continue;  // outside the grid changes nothing
            if (dilate && !(axis == 1 ? rowSet(q, k) : rowSet(j, q))) continue;  // an empty row adds nothing
            src.load(axis == 1 ? g.index(0, q, k) : g.index(0, j, q), nx, row.data());
            if (dilate)
              for (int i = 0; i < nx; ++i) acc[size_t(i)] |= row[size_t(i)];
            else
              for (int i = 0; i < nx; ++i) acc[size_t(i)] &= row[size_t(i)];
          }
        }
        dst.store(g.index(0, j, k), nx, acc.data());
      }
  });
}

void boxMorphology(std::vector<uint8_t>& flags, std::vector<uint8_t>& scratch, const VoxelGrid& g, uint8_t from,
                   uint8_t to, std::array<int, 3> radius, bool dilate, int threads) {
  // from -> scratch (x) -> to (y) -> scratch (z) -> to (copy)
  boxPass(g, 0, radius[0], dilate, {&flags, from}, {&scratch, 0}, threads);
  boxPass(g, 1, radius[1], dilate, {&scratch, 0}, {&flags, to}, threads);
  boxPass(g, 2, radius[2], dilate, {&flags, to}, {&scratch, 0}, threads);
  forEachChunk(g.nz, kChunk, threads, [&](int kb, int ke) {
    for (size_t n = size_t(kb) * g.sliceSize(); n < size_t(ke) * g.sliceSize(); ++n)
      flags[n] = scratch[n] ? uint8_t(flags[n] | to) : uint8_t(flags[n] & ~to);
  });
}

// Unites the runs [ab, ae) of one row with the overlapping runs [bb, be) of a neighbour.
void uniteOverlaps(RunSets& sets, const LabelledRuns& r, uint32_t ab, uint32_t ae, uint32_t bb, uint32_t be) {
  forOverlaps(r.runs.data() + ab, ae - ab, r.runs.data() + bb, be - bb,
              [&](uint32_t x, uint32_t y) { sets.unite(ab + x, bb + y); });
}

}  // namespace

void boxDilate(std::vector<uint8_t>& flags, std::vector<uint8_t>& scratch, const VoxelGrid& g, uint8_t from,
               uint8_t to, std::array<int, 3> radius, int threads) {
  boxMorphology(flags, scratch, g, from, to, radius, true, threads);
}

void boxErode(std::vector<uint8_t>& flags, std::vector<uint8_t>& scratch, const VoxelGrid& g, uint8_t from,
              uint8_t to, std::array<int, 3> radius, int threads) {
  boxMorphology(flags, scratch, g, from, to, radius, false, threads);
}

void labelComponents(const VoxelGrid& g, LabelledRuns& r) {
  RunSets sets;
  sets.parent.resize(r.runs.size());
  for (uint32_t n = 0; n < sets.parent.size(); ++n) sets.parent[n] = n;
  for (int k = 0; k < g.nz; ++k)
    for (int j = 0; j < g.ny; ++j) {
      const uint32_t b = r.rowBegin(g, j, k), e = r.rowEnd(g, j, k);
      if (b == e) continue;
      if (j > 0) uniteOverlaps(sets, r, r.rowBegin(g, j - 1, k), r.rowEnd(g, j - 1, k), b, e);
      if (k > 0) uniteOverlaps(sets, r, r.rowBegin(g, j, k - 1), r.rowEnd(g, j, k - 1), b, e);
    }
  r.component.assign(r.runs.size(), 0);
  r.components = 0;
  for (uint32_t n = 0; n < r.runs.size(); ++n) {
    const uint32_t root = sets.find(n);
    r.component[n] = root == n ? r.components++ : r.component[root];  // roots come first in scan order
  }
}

void fillSliceHoles(std::vector<uint8_t>& flags, const std::vector<int16_t>& values, const VoxelGrid& g, uint8_t wall,
                    uint8_t fill, const std::function<bool(size_t area, double sum)>& accept, int threads) {
  forEachChunk(g.nz, 1, threads, [&](int kb, int ke) {
    std::vector<int32_t> region(g.sliceSize());  // -1: border-connected background or wall; else region id
    std::vector<uint32_t> queue;
    for (int k = kb; k < ke; ++k) {
      const size_t base = size_t(k) * g.sliceSize();
      const uint8_t* f = flags.data() + base;
      std::fill(region.begin(), region.end(), -2);  // -2: background not yet visited
      for (size_t n = 0; n < g.sliceSize(); ++n)
        if (f[n] & wall) region[n] = -1;
      auto flood = [&](uint32_t seed, int32_t id, size_t& area, double& sum) {
        queue.clear();
        queue.push_back(seed);
        region[seed] = id;
        for (size_t q = 0; q < queue.size(); ++q) {
          const uint32_t n = queue[q];
          ++area;
          sum += values[base + n];
          const int i = int(n % uint32_t(g.nx)), j = int(n / uint32_t(g.nx));
          const uint32_t next[4] = {i > 0 ? n - 1 : n, i + 1 < g.nx ? n + 1 : n, j > 0 ? n - uint32_t(g.nx) : n,
                                    j + 1 < g.ny ? n + uint32_t(g.nx) : n};
          for (uint32_t m : next)
            if (region[m] == -2) {
              region[m] = id;
              queue.push_back(m);
            }
        }
      };
      size_t area = 0;
      double sum = 0;
      // Background reachable from the border is outside every bone.
      for (int i = 0; i < g.nx; ++i)
        for (int j : {0, g.ny - 1})
          if (region[size_t(j) * g.nx + i] == -2) flood(uint32_t(size_t(j) * g.nx + i), -1, area, sum);
      for (int j = 0; j < g.ny; ++j)
        for (int i : {0, g.nx - 1})
          if (region[size_t(j) * g.nx + i] == -2) flood(uint32_t(size_t(j) * g.nx + i), -1, area, sum);
      for (size_t n = 0; n < g.sliceSize(); ++n) {
        if (region[n] != -2) continue;
        area = 0;
        sum = 0;
        flood(uint32_t(n), 0, area, sum);
        if (!accept(area, sum)) continue;
        for (uint32_t m : queue) flags[base + m] |= fill;
      }
    }
  });
}

}  // namespace volnode
