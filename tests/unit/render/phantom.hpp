#pragma once
// An analytic phantom defined in patient (LPS) coordinates, sampled into
// volnode::Volume objects under any acquisition geometry. Used to check that
// renders are anatomically oriented whatever the grid.
#include <array>
#include <cmath>
#include <memory>

#include "volnode/volume/volume.hpp"

namespace volnode::test {

// LPS: +x patient Left, +y Posterior, +z Head.
struct Phantom {
  // Body: ellipsoid centred at 0, semi-axes 60 (L-R) x 45 (A-P) x 80 (F-H) mm, 40 HU; air -1000.
  // Markers (spheres), told apart by their value, which a MIP preserves:
  static constexpr std::array<double, 3> kLeft{42, 5, 10};    // patient's left, 1000 HU
  static constexpr std::array<double, 3> kHead{0, 5, 62};     // head end, 600 HU
  static constexpr std::array<double, 3> kFront{0, -32, -30}; // anterior, 300 HU
  static constexpr double kRadius = 9;
  static constexpr int16_t kLeftValue = 1000, kHeadValue = 600, kFrontValue = 300, kBodyValue = 40;

  static int16_t at(const std::array<double, 3>& p) {
    auto inSphere = [&](const std::array<double, 3>& c) {
      const double dx = p[0] - c[0], dy = p[1] - c[1], dz = p[2] - c[2];
      return dx * dx + dy * dy + dz * dz <= kRadius * kRadius;
    };
    if (inSphere(kLeft)) return kLeftValue;
    if (inSphere(kHead)) return kHeadValue;
    if (inSphere(kFront)) return kFrontValue;
    const double e = (p[0] / 60) * (p[0] / 60) + (p[1] / 45) * (p[1] / 45) + (p[2] / 80) * (p[2] / 80);
    return e <= 1 ? kBodyValue : -1000;
  }
};

// Columns of `direction` (row-major 3x3) are the LPS directions of i, j, k.
// The grid covers the phantom's box [-66,66] x [-51,51] x [-86,86] mm.
inline std::shared_ptr<Volume> samplePhantom(const std::array<double, 9>& direction, const std::array<double, 3>& spacing) {
  auto v = std::make_shared<Volume>();
  v->direction = direction;
  v->spacing = spacing;
  v->modality = "CT";
  v->series_instance_uid = "1.2.3.phantom";
  const double half[3] = {66, 51, 86};
  // Grid index coordinates u = D^-1 (p - o); with a general (possibly sheared)
  // D, invert it to find the range of u over the box corners.
  const auto& d = direction;
  const double det = d[0] * (d[4] * d[8] - d[5] * d[7]) - d[1] * (d[3] * d[8] - d[5] * d[6]) + d[2] * (d[3] * d[7] - d[4] * d[6]);
  const double inv[9] = {(d[4] * d[8] - d[5] * d[7]) / det, (d[2] * d[7] - d[1] * d[8]) / det, (d[1] * d[5] - d[2] * d[4]) / det,
                         (d[5] * d[6] - d[3] * d[8]) / det, (d[0] * d[8] - d[2] * d[6]) / det, (d[2] * d[3] - d[0] * d[5]) / det,
                         (d[3] * d[7] - d[4] * d[6]) / det, (d[1] * d[6] - d[0] * d[7]) / det, (d[0] * d[4] - d[1] * d[3]) / det};
  double lo[3] = {1e30, 1e30, 1e30}, hi[3] = {-1e30, -1e30, -1e30};
  for (int c = 0; c < 8; ++c) {
    const double p[3] = {(c & 1) ? half[0] : -half[0], (c & 2) ? half[1] : -half[1], (c & 4) ? half[2] : -half[2]};
    for (int r = 0; r < 3; ++r) {
      const double u = inv[r * 3] * p[0] + inv[r * 3 + 1] * p[1] + inv[r * 3 + 2] * p[2];
      lo[r] = std::min(lo[r], u);
      hi[r] = std::max(hi[r], u);
    }
  }
  for (int r = 0; r < 3; ++r) v->dimensions[r] = int(std::ceil((hi[r] - lo[r]) / spacing[r])) + 1;
  for (int r = 0; r < 3; ++r) v->origin[r] = d[r * 3] * lo[0] + d[r * 3 + 1] * lo[1] + d[r * 3 + 2] * lo[2];
  v->voxels.resize(v->voxelCount());
  size_t n = 0;
  for (int k = 0; k < v->dimensions[2]; ++k)
    for (int j = 0; j < v->dimensions[1]; ++j)
      for (int i = 0; i < v->dimensions[0]; ++i) v->voxels[n++] = Phantom::at(v->physicalPoint(i, j, k));
  return v;
}

// Direction matrix (row-major) from three column vectors.
inline std::array<double, 9> columns(const std::array<double, 3>& i, const std::array<double, 3>& j,
                                     const std::array<double, 3>& k) {
  return {i[0], j[0], k[0], i[1], j[1], k[1], i[2], j[2], k[2]};
}

}  // namespace volnode::test
