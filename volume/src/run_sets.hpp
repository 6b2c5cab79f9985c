#pragma once
// Connected components over runs of voxels along rows (body_mask.cpp, voxel_mask_ops.cpp):
// a union-find over run indices, and the walk that finds the runs two neighbouring
// rows share.
#include <cstdint>
#include <vector>

#include "body_mask.hpp"  // RowRun

namespace volnode {

// Union-find over run indices whose root is always the smallest index of its set:
// the run met first in scan order, whose first voxel is the component's first voxel.
struct RunSets {
  std::vector<uint32_t> parent;

  uint32_t find(uint32_t x) {
    while (parent[x] != x) {
      parent[x] = parent[parent[x]];
      x = parent[x];
    }
    return x;
  }
  void unite(uint32_t a, uint32_t b) {
    a = find(a), b = find(b);
    if (a < b) parent[b] = a;
    else if (b < a) parent[a] = b;
  }
};

// Calls join(index in a, index in b) for every pair of runs of two rows that share
// a column (the rows are face neighbours, so such runs touch).
template <class Join>
void forOverlaps(const RowRun* a, uint32_t na, const RowRun* b, uint32_t nb, Join&& join) {
  uint32_t x = 0, y = 0;
  while (x < na && y < nb) {
    if (a[x].end > b[y].begin && b[y].end > a[x].begin) join(x, y);
    if (a[x].end < b[y].end) ++x;
    else if (b[y].end < a[x].end) ++y;
    else ++x, ++y;
  }
}

}  // namespace volnode
