// The body of a CT volume from runs along rows (body_mask.hpp): runs above the
// threshold, their 6-connected components by union-find, the largest one, then per
// slice the background runs not reachable from the slice's border (holes) added.
#include "body_mask.hpp"

#include <algorithm>
#include <atomic>

#include "run_sets.hpp"
#include "slab_threads.hpp"

namespace volnode {
namespace {

constexpr int kChunk = 4;  // slices per work item

// Runs of voxels above `above` in every row of slice k.
void findRuns(const Volume& v, int k, int above, BodyMask::Slice& out) {
  const int nx = v.dimensions[0], ny = v.dimensions[1];
  out.row_start.assign(size_t(ny) + 1, 0);
  out.runs.clear();
  for (int j = 0; j < ny; ++j) {
    const int16_t* row = v.voxels.data() + (size_t(k) * ny + j) * nx;
    int16_t high = row[0];
    for (int i = 1; i < nx; ++i) high = std::max(high, row[i]);
    if (high <= above) {  // air: most rows of most slices, found at the speed of memory
      out.row_start[size_t(j) + 1] = uint32_t(out.runs.size());
      continue;
    }
    int x = 0;
    while (true) {
      while (x < nx && row[x] <= above) ++x;
      if (x == nx) break;
      const int begin = x;
      while (x < nx && row[x] > above) ++x;
      out.runs.push_back({begin, x});
    }
    out.row_start[size_t(j) + 1] = uint32_t(out.runs.size());
  }
}

// Slice k's runs that belong to the body (label == body) with the slice's holes
// filled: the rows' stretches outside every background component that touches the
// slice's border (4-connected within the slice). Also widens `box` (x and y) to them.
struct HoleFiller {
  std::vector<RowRun> gaps;
  std::vector<uint32_t> gap_start;
  RunSets sets;
  std::vector<uint8_t> outside;

  void fill(const BodyMask::Slice& runs, const uint32_t* label, uint32_t body, int nx, int ny, BodyMask::Slice& out,
            std::array<int, 4>& box) {
    // Background runs: the complement of the body's runs in each row.
    gaps.clear();
    gap_start.assign(size_t(ny) + 1, 0);
    for (int j = 0; j < ny; ++j) {
      int x = 0;
      for (uint32_t r = runs.row_start[size_t(j)]; r < runs.row_start[size_t(j) + 1]; ++r) {
        if (label[r] != body) continue;
        if (runs.runs[r].begin > x) gaps.push_back({x, runs.runs[r].begin});
        x = runs.runs[r].end;
      }
      if (x < nx) gaps.push_back({x, nx});
      gap_start[size_t(j) + 1] = uint32_t(gaps.size());
    }
    sets.parent.resize(gaps.size());
    for (uint32_t g = 0; g < gaps.size(); ++g) sets.parent[g] = g;
    for (int j = 0; j + 1 < ny; ++j) {
      const uint32_t a = gap_start[size_t(j)], b = gap_start[size_t(j) + 1];
      forOverlaps(gaps.data() + a, b - a, gaps.data() + b, gap_start[size_t(j) + 2] - b,
                  [&](uint32_t x, uint32_t y) { sets.unite(a + x, b + y); });
    }
    outside.assign(gaps.size(), 0);
    for (int j = 0; j < ny; ++j)
      for (uint32_t g = gap_start[size_t(j)]; g < gap_start[size_t(j) + 1]; ++g)
        if (j == 0 || j == ny - 1 || gaps[g].begin == 0 || gaps[g].end == nx) outside[sets.find(g)] = 1;
    // Inside: each row between its outside gaps.
    out.row_start.assign(size_t(ny) + 1, 0);
    out.runs.clear();
    for (int j = 0; j < ny; ++j) {
      int x = 0;
      for (uint32_t g = gap_start[size_t(j)]; g < gap_start[size_t(j) + 1]; ++g) {
        if (!outside[sets.find(g)]) continue;
        if (gaps[g].begin > x) out.runs.push_back({x, gaps[g].begin});
        x = gaps[g].end;
      }
      if (x < nx) out.runs.push_back({x, nx});
      const uint32_t first = out.row_start[size_t(j)], end = uint32_t(out.runs.size());
      out.row_start[size_t(j) + 1] = end;
      if (end > first) {
        box[0] = std::min(box[0], out.runs[first].begin);
        box[1] = std::max(box[1], out.runs[end - 1].end - 1);
        box[2] = std::min(box[2], j);
        box[3] = std::max(box[3], j);
      }
    }
  }
};

}  // namespace

std::optional<BodyMask> findBody(const Volume& v, int above, size_t min_voxels, int threads, std::string& why_not) {
  const int nx = v.dimensions[0], ny = v.dimensions[1], nz = v.dimensions[2];
  // More runs than this would take more memory than a byte per voxel: no body to
  // find in such noise, and no reason to spend the memory looking.
  const size_t max_runs = std::max<size_t>(v.voxelCount() / 16, 1 << 16);

  // 1. Runs above the threshold, slice by slice.
  std::vector<BodyMask::Slice> runs(static_cast<size_t>(nz));
  std::atomic<size_t> total{0};
  std::atomic<bool> too_many{false};
  forEachChunk(nz, kChunk, threads, [&](int k0, int k1) {
    for (int k = k0; k < k1 && !too_many; ++k) {
      findRuns(v, k, above, runs[size_t(k)]);
      if (total += runs[size_t(k)].runs.size(); total > max_runs) too_many = true;
    }
  });
  if (too_many) {
    why_not = "crop to body skipped: too fragmented above the threshold to find a body";
    return std::nullopt;
  }
  std::vector<uint32_t> base(size_t(nz) + 1, 0);
  for (int k = 0; k < nz; ++k) base[size_t(k) + 1] = base[size_t(k)] + uint32_t(runs[size_t(k)].runs.size());

  // 2. Connected components: runs of neighbouring rows (j +-1, k +-1) that share a
  // column are connected. Each chunk of slices is joined on its own thread (its runs
  // are a range of indices no other thread touches), then the chunks' borders.
  RunSets sets;
  sets.parent.resize(base.back());
  for (uint32_t r = 0; r < base.back(); ++r) sets.parent[r] = r;
  auto joinRows = [&](int j0, int k0, int j1, int k1) {
    const auto& a = runs[size_t(k0)];
    const auto& b = runs[size_t(k1)];
    const uint32_t ia = base[size_t(k0)] + a.row_start[size_t(j0)], ib = base[size_t(k1)] + b.row_start[size_t(j1)];
    forOverlaps(a.runs.data() + a.row_start[size_t(j0)], a.row_start[size_t(j0) + 1] - a.row_start[size_t(j0)],
                b.runs.data() + b.row_start[size_t(j1)], b.row_start[size_t(j1) + 1] - b.row_start[size_t(j1)],
                [&](uint32_t x, uint32_t y) { sets.unite(ia + x, ib + y); });
  };
  forEachChunk(nz, kChunk, threads, [&](int k0, int k1) {
    for (int k = k0; k < k1; ++k)
      for (int j = 0; j < ny; ++j) {
        if (j + 1 < ny) joinRows(j, k, j + 1, k);
        if (k + 1 < k1) joinRows(j, k, j, k + 1);
      }
  });
  for (int k = kChunk; k < nz; k += kChunk)
    for (int j = 0; j < ny; ++j) joinRows(j, k - 1, j, k);

  // 3. The largest component; of equal ones the first in scan order. Roots are the
  // smallest index of their set, so one pass in index order labels every run.
  std::vector<uint32_t>& label = sets.parent;
  std::vector<uint64_t> size(label.size(), 0);
  for (int k = 0; k < nz; ++k)
    for (uint32_t r = 0; r < runs[size_t(k)].runs.size(); ++r) {
      const uint32_t i = base[size_t(k)] + r;
      label[i] = label[label[i]];
      size[label[i]] += uint64_t(runs[size_t(k)].runs[r].end - runs[size_t(k)].runs[r].begin);
    }
  uint32_t body = 0;
  uint64_t best = 0;
  for (uint32_t i = 0; i < label.size(); ++i)
    if (label[i] == i && size[i] > best) best = size[i], body = i;
  std::vector<uint64_t>().swap(size);
  if (best == 0 || best < min_voxels) {
    why_not = "crop to body skipped: no body found above the threshold";
    return std::nullopt;
  }

  // 4. Per slice: the body's runs with their holes filled, and the bounding box.
  BodyMask mask;
  mask.rows_per_slice = ny;
  mask.slices.resize(size_t(nz));
  std::vector<std::array<int, 4>> boxes(size_t(nz), std::array<int, 4>{nx, -1, ny, -1});
  forEachChunk(nz, kChunk, threads, [&](int k0, int k1) {
    HoleFiller filler;
    for (int k = k0; k < k1; ++k) {
      filler.fill(runs[size_t(k)], label.data() + base[size_t(k)], body, nx, ny, mask.slices[size_t(k)],
                  boxes[size_t(k)]);
      std::vector<RowRun>().swap(runs[size_t(k)].runs);
    }
  });
  mask.low = {nx, ny, nz};
  mask.high = {-1, -1, -1};
  for (int k = 0; k < nz; ++k) {
    const auto& b = boxes[size_t(k)];
    if (b[1] < 0) continue;
    mask.low = {std::min(mask.low[0], b[0]), std::min(mask.low[1], b[2]), std::min(mask.low[2], k)};
    mask.high = {std::max(mask.high[0], b[1]), std::max(mask.high[1], b[3]), std::max(mask.high[2], k)};
  }
  if (mask.high[0] < 0) {
    why_not = "crop to body skipped: no body found above the threshold";
    return std::nullopt;
  }
  return mask;
}

}  // namespace volnode
