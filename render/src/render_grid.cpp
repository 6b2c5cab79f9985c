// Crop, downsample and flip of the rendered grid (see render_grid.hpp).
#include "volnode/render/render_grid.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>

namespace volnode::render {

bool GridPlan::cropped(const Volume& v) const {
  return lo != std::array<int, 3>{0, 0, 0} ||
         hi != std::array<int, 3>{v.dimensions[0] - 1, v.dimensions[1] - 1, v.dimensions[2] - 1};
}

bool GridPlan::operator==(const GridPlan& o) const {
  return factors == o.factors && lo == o.lo && hi == o.hi && max_pooling == o.max_pooling && flip_k == o.flip_k;
}

GridPlan planGrid(const Volume& v, const std::array<int, 3>& visible_lo, const std::array<int, 3>& visible_hi,
                  double pixel_mm, double downsample_ratio, bool max_pooling) {
  const std::array<int, 3> n = v.dimensions;
  GridPlan plan;
  auto& f = plan.factors;
  if (downsample_ratio > 0)
    for (int c = 0; c < 3; ++c)
      f[c] = std::clamp(int(std::floor(downsample_ratio * pixel_mm / v.spacing[c] + 1e-6)), 1, 4);
  double kept = 1;
  for (int c = 0; c < 3; ++c) {
    const int margin = 2 * f[c];
    plan.lo[c] = std::max(0, (visible_lo[c] - margin) / f[c] * f[c]);
    plan.hi[c] = std::min(n[c] - 1, visible_hi[c] + margin);
    if (plan.hi[c] < plan.lo[c]) plan.lo[c] = 0, plan.hi[c] = n[c] - 1;
    kept *= double(plan.hi[c] - plan.lo[c] + 1) / n[c];
  }
  if (kept > 0.9) plan.lo = {0, 0, 0}, plan.hi = {n[0] - 1, n[1] - 1, n[2] - 1};
  // Without downsampling, mean and maximum are the same grid.
  plan.max_pooling = max_pooling && plan.downsampled();
  const auto& d = v.direction;
  const double det = d[0] * (d[4] * d[8] - d[5] * d[7]) - d[1] * (d[3] * d[8] - d[5] * d[6]) +
                     d[2] * (d[3] * d[7] - d[4] * d[6]);
  plan.flip_k = det < 0;
  return plan;
}

RenderGrid buildGrid(const Volume& v, const GridPlan& plan) {
  const int ni = v.dimensions[0], nj = v.dimensions[1];
  const auto& f = plan.factors;
  const auto& lo = plan.lo;
  const bool flip = plan.flip_k, any_down = plan.downsampled();
  RenderGrid grid;
  for (int c = 0; c < 3; ++c) grid.dims[c] = std::max(1, (plan.hi[c] - lo[c] + 1) / f[c]);
  for (int c = 0; c < 3; ++c) grid.spacing[c] = v.spacing[c] * f[c];
  grid.direction = v.direction;
  const int NI = grid.dims[0], NJ = grid.dims[1], NK = grid.dims[2];
  // Centre of grid voxel (I,J,K) = source index (lo + I*f + (f-1)/2, ...); a flip maps K -> NK-1-K.
  const double oi = (f[0] - 1) / 2.0, oj = (f[1] - 1) / 2.0, ok = (f[2] - 1) / 2.0;
  grid.origin = v.physicalPoint(lo[0] + oi, lo[1] + oj, lo[2] + (flip ? (NK - 1) * f[2] : 0) + ok);
  if (flip)
    for (int r = 0; r < 3; ++r) grid.direction[r * 3 + 2] = -grid.direction[r * 3 + 2];

  if (!any_down && !flip && !plan.cropped(v)) {
    grid.data = v.voxels.data();
    return grid;
  }
  grid.own.resize(size_t(NI) * NJ * NK);
  const double inv = 1.0 / (f[0] * f[1] * f[2]);
  for (int K = 0; K < NK; ++K) {
    const int srcK = lo[2] + (flip ? NK - 1 - K : K) * f[2];
    for (int J = 0; J < NJ; ++J) {
      int16_t* out = grid.own.data() + (size_t(K) * NJ + J) * NI;
      const int srcJ = lo[1] + J * f[1];
      if (!any_down) {
        std::memcpy(out, v.voxels.data() + (size_t(srcK) * nj + srcJ) * ni + lo[0], sizeof(int16_t) * NI);
        continue;
      }
      for (int I = 0; I < NI; ++I) {
        int acc_max = -32768;
        long acc = 0;
        for (int dk = 0; dk < f[2]; ++dk)
          for (int dj = 0; dj < f[1]; ++dj) {
            const int16_t* row = v.voxels.data() + (size_t(srcK + dk) * nj + (srcJ + dj)) * ni + lo[0] + I * f[0];
            for (int di = 0; di < f[0]; ++di) {
              acc += row[di];
              acc_max = std::max<int>(acc_max, row[di]);
            }
          }
        out[I] = plan.max_pooling ? int16_t(acc_max) : int16_t(std::lround(acc * inv));
      }
    }
  }
  grid.data = grid.own.data();
  return grid;
}

}  // namespace volnode::render
