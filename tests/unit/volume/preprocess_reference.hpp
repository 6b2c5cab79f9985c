#pragma once
// The preprocessing of the body crop and the isotropic grid written the plain way,
// voxel by voxel, as the reference the fast path is checked against:
//  - the body: breadth-first flood fill of every 6-connected component above the
//    threshold, in scan order, the largest kept (the first of equal ones);
//  - its holes: per slice, a 4-connected flood of the non-body voxels from the
//    slice's border; what it does not reach is inside;
//  - the crop: the inside's bounding box + 2 voxels, everything outside as air;
//  - the grid: every output voxel's physical point mapped back into the cropped
//    volume through the direction matrix, trilinear in double precision.
#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <deque>
#include <optional>
#include <vector>

#include "volnode/volume/volume.hpp"

namespace volnode::test {

// The cropped volume, or nullopt where no body of at least a thousandth of the voxels exists.
inline std::optional<Volume> referenceCropToBody(const Volume& v, double threshold) {
  const int nx = v.dimensions[0], ny = v.dimensions[1], nz = v.dimensions[2];
  const size_t n = v.voxelCount();
  auto index = [&](int x, int y, int z) { return (size_t(z) * ny + y) * nx + x; };
  std::vector<int> component(n, -1);
  std::vector<size_t> sizes;
  for (size_t seed = 0; seed < n; ++seed) {
    if (!(v.voxels[seed] > threshold) || component[seed] >= 0) continue;
    const int id = int(sizes.size());
    size_t size = 0;
    std::deque<size_t> queue{seed};
    component[seed] = id;
    while (!queue.empty()) {
      const size_t at = queue.front();
      queue.pop_front();
      ++size;
      const int x = int(at % nx), y = int((at / nx) % ny), z = int(at / (size_t(nx) * ny));
      const int d[6][3] = {{1, 0, 0}, {-1, 0, 0}, {0, 1, 0}, {0, -1, 0}, {0, 0, 1}, {0, 0, -1}};
      for (const auto& s : d) {
        const int xx = x + s[0], yy = y + s[1], zz = z + s[2];
        if (xx < 0 || yy < 0 || zz < 0 || xx >= nx || yy >= ny || zz >= nz) continue;
        const size_t next = index(xx, yy, zz);
        if (v.voxels[next] > threshold && component[next] < 0) {
          component[next] = id;
          queue.push_back(next);
        }
      }
    }
    sizes.push_back(size);
  }
  int body = -1;
  for (size_t c = 0; c < sizes.size(); ++c)
    if (body < 0 || sizes[c] > sizes[size_t(body)]) body = int(c);
  if (body < 0 || sizes[size_t(body)] < std::max<size_t>(1, n / 1000)) return std::nullopt;

  std::vector<uint8_t> outside(n, 0);
  for (int z = 0; z < nz; ++z) {
    std::deque<std::array<int, 2>> queue;
    auto visit = [&](int x, int y) {
      const size_t at = index(x, y, z);
      if (component[at] == body || outside[at]) return;
      outside[at] = 1;
      queue.push_back({x, y});
    };
    for (int x = 0; x < nx; ++x) visit(x, 0), visit(x, ny - 1);
    for (int y = 0; y < ny; ++y) visit(0, y), visit(nx - 1, y);
    while (!queue.empty()) {
      const auto [x, y] = queue.front();
      queue.pop_front();
      if (x > 0) visit(x - 1, y);
      if (x + 1 < nx) visit(x + 1, y);
      if (y > 0) visit(x, y - 1);
      if (y + 1 < ny) visit(x, y + 1);
    }
  }
  std::array<int, 3> lo{nx, ny, nz}, hi{-1, -1, -1};
  for (int z = 0; z < nz; ++z)
    for (int y = 0; y < ny; ++y)
      for (int x = 0; x < nx; ++x)
        if (!outside[index(x, y, z)]) {
          const int p[3] = {x, y, z};
          for (int a = 0; a < 3; ++a) lo[a] = std::min(lo[a], p[a]), hi[a] = std::max(hi[a], p[a]);
        }
  for (int a = 0; a < 3; ++a) lo[a] = std::max(0, lo[a] - 2), hi[a] = std::min(v.dimensions[a] - 1, hi[a] + 2);
  Volume out = v;
  out.dimensions = {hi[0] - lo[0] + 1, hi[1] - lo[1] + 1, hi[2] - lo[2] + 1};
  out.origin = v.physicalPoint(lo[0], lo[1], lo[2]);
  out.voxels.clear();
  const int16_t air = v.modality == "CT" ? -1024 : 0;
  for (int z = lo[2]; z <= hi[2]; ++z)
    for (int y = lo[1]; y <= hi[1]; ++y)
      for (int x = lo[0]; x <= hi[0]; ++x)
        out.voxels.push_back(outside[index(x, y, z)] ? air : v.voxels[index(x, y, z)]);
  return out;
}

// `v` on the grid of `like` (same direction, any origin/spacing/dimensions inside v).
inline Volume referenceResample(const Volume& v, const Volume& like) {
  Volume out = like;
  out.voxels.assign(like.voxelCount(), 0);
  size_t w = 0;
  for (int k = 0; k < like.dimensions[2]; ++k)
    for (int j = 0; j < like.dimensions[1]; ++j)
      for (int i = 0; i < like.dimensions[0]; ++i) {
        const auto p = like.physicalPoint(i, j, k);
        double c[3];  // continuous index in v: D^T (p - origin) / spacing
        for (int a = 0; a < 3; ++a) {
          double s = 0;
          for (int r = 0; r < 3; ++r) s += v.direction[r * 3 + a] * (p[r] - v.origin[r]);
          c[a] = std::clamp(s / v.spacing[a], 0.0, double(v.dimensions[a] - 1));
        }
        int i0[3];
        double f[3];
        for (int a = 0; a < 3; ++a) {
          i0[a] = std::min(int(std::floor(c[a])), std::max(0, v.dimensions[a] - 2));
          f[a] = v.dimensions[a] > 1 ? c[a] - i0[a] : 0.0;
        }
        double value = 0;
        for (int corner = 0; corner < 8; ++corner) {
          double weight = 1;
          int at[3];
          for (int a = 0; a < 3; ++a) {
            const int up = (corner >> a) & 1;
            at[a] = std::min(i0[a] + up, v.dimensions[a] - 1);
            weight *= up ? f[a] : 1 - f[a];
          }
          if (weight != 0) value += weight * v.at(at[0], at[1], at[2]);
        }
        out.voxels[w++] = int16_t(std::lround(value));
      }
  return out;
}

}  // namespace volnode::test
