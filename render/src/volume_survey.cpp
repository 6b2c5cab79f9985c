// Visible hull and reference intensity of a volume (see volume_survey.hpp).
#include "volnode/render/volume_survey.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>

namespace volnode::render {

VisibleHull visibleHull(const Volume& v, double threshold) {
  VisibleHull hull;
  hull.threshold = threshold;
  const int ni = v.dimensions[0], nj = v.dimensions[1], nk = v.dimensions[2];
  const int16_t thr = int16_t(std::clamp(std::ceil(threshold), -32768.0, 32767.0));
  auto& points = hull.points;
  hull.index_lo = {ni, nj, nk};
  hull.index_hi = {-1, -1, -1};
  for (int k = 0; k < nk; ++k)
    for (int j = 0; j < nj; ++j) {
      const int16_t* row = v.voxels.data() + (size_t(k) * nj + j) * ni;
      int first = -1, last = -1;
      for (int i = 0; i < ni; ++i)
        if (row[i] >= thr) {
          first = i;
          break;
        }
      if (first < 0) continue;
      for (int i = ni - 1; i >= first; --i)
        if (row[i] >= thr) {
          last = i;
          break;
        }
      points.push_back(v.physicalPoint(first, j, k));
      if (last != first) points.push_back(v.physicalPoint(last, j, k));
      hull.index_lo = {std::min(hull.index_lo[0], first), std::min(hull.index_lo[1], j),
                       std::min(hull.index_lo[2], k)};
      hull.index_hi = {std::max(hull.index_hi[0], last), std::max(hull.index_hi[1], j),
                       std::max(hull.index_hi[2], k)};
    }
  if (points.empty()) {  // nothing visible: frame the whole grid
    for (int c = 0; c < 8; ++c)
      points.push_back(v.physicalPoint((c & 1) ? ni - 1 : 0, (c & 2) ? nj - 1 : 0, (c & 4) ? nk - 1 : 0));
    hull.index_lo = {0, 0, 0};
    hull.index_hi = {ni - 1, nj - 1, nk - 1};
  }
  Vec3 lo{1e30, 1e30, 1e30}, hi{-1e30, -1e30, -1e30};
  for (const auto& p : points)
    for (int c = 0; c < 3; ++c) {
      lo[c] = std::min(lo[c], p[c]);
      hi[c] = std::max(hi[c], p[c]);
    }
  for (int c = 0; c < 3; ++c) hull.centre[c] = (lo[c] + hi[c]) / 2;
  return hull;
}

double referenceIntensity(const Volume& volume) {
  // Histogram of voxels above the minimum (background), sampled with a stride.
  const auto& vox = volume.voxels;
  std::vector<uint32_t> hist(65536, 0);
  int16_t lo = 32767;
  const size_t step = std::max<size_t>(1, vox.size() / 4000000);
  for (size_t n = 0; n < vox.size(); n += step) lo = std::min(lo, vox[n]);
  uint64_t count = 0;
  for (size_t n = 0; n < vox.size(); n += step)
    if (vox[n] > lo) {
      ++hist[size_t(int(vox[n]) + 32768)];
      ++count;
    }
  uint64_t acc = 0;
  for (size_t b = 0; b < hist.size() && count; ++b) {
    acc += hist[b];
    if (acc >= count * 0.99) return std::max(1.0, double(int(b) - 32768));
  }
  return 1;
}

}  // namespace volnode::render
