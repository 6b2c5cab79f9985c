#pragma once
// Interpolation for reformatting (reformat.cpp): one trilinear sample, a whole
// output row along an index axis, and the int16 rounding of results.
#include <algorithm>
#include <array>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

#include "volnode/volume/volume.hpp"

namespace volnode::reformat_detail {

using Vec3 = std::array<double, 3>;

// Trilinear interpolation over one volume; false outside it (half a voxel beyond the
// outer voxel centres still counts as inside, clamped to the edge).
class Sampler {
 public:
  explicit Sampler(const Volume& v)
      : data_(v.voxels.data()),
        max_{double(v.dimensions[0] - 1), double(v.dimensions[1] - 1), double(v.dimensions[2] - 1)},
        last_cell_{std::max(v.dimensions[0] - 2, 0), std::max(v.dimensions[1] - 2, 0), std::max(v.dimensions[2] - 2, 0)},
        dx_(v.dimensions[0] > 1 ? 1 : 0),
        dy_(v.dimensions[1] > 1 ? ptrdiff_t(v.dimensions[0]) : 0),
        dz_(v.dimensions[2] > 1 ? ptrdiff_t(v.dimensions[0]) * v.dimensions[1] : 0),
        sy_(ptrdiff_t(v.dimensions[0])),
        sz_(ptrdiff_t(v.dimensions[0]) * v.dimensions[1]) {}

  bool operator()(double x, double y, double z, float* out) const {
    if (!(x >= -0.5 && y >= -0.5 && z >= -0.5 && x <= max_[0] + 0.5 && y <= max_[1] + 0.5 && z <= max_[2] + 0.5))
      return false;
    x = std::clamp(x, 0.0, max_[0]);
    y = std::clamp(y, 0.0, max_[1]);
    z = std::clamp(z, 0.0, max_[2]);
    const int x0 = std::min(int(x), last_cell_[0]), y0 = std::min(int(y), last_cell_[1]),
              z0 = std::min(int(z), last_cell_[2]);
    const float fx = float(x - x0), fy = float(y - y0), fz = float(z - z0);
    const int16_t* p = data_ + z0 * sz_ + y0 * sy_ + x0;
    const float c00 = p[0] + fx * float(p[dx_] - p[0]);
    const float c10 = p[dy_] + fx * float(p[dy_ + dx_] - p[dy_]);
    const float c01 = p[dz_] + fx * float(p[dz_ + dx_] - p[dz_]);
    const float c11 = p[dz_ + dy_] + fx * float(p[dz_ + dy_ + dx_] - p[dz_ + dy_]);
    const float c0 = c00 + fy * (c10 - c00), c1 = c01 + fy * (c11 - c01);
    *out = c0 + fz * (c1 - c0);
    return true;
  }

 private:
  const int16_t* data_;
  double max_[3];
  int last_cell_[3];
  ptrdiff_t dx_, dy_, dz_, sy_, sz_;
};

// Nearest int16 (halves away from zero, as std::lround), without a libm call per pixel.
inline int16_t roundedToInt16(float value) {
  value = std::clamp(value, -32768.0f, 32767.0f);
  return int16_t(value < 0 ? value - 0.5f : value + 0.5f);
}

// Index axis that an LPS direction runs along (±), or -1 when it crosses several.
inline int volumeAxisAlong(const Volume& v, const Vec3& direction) {
  for (int c = 0; c < 3; ++c) {
    double along = 0;
    for (int r = 0; r < 3; ++r) along += v.direction[r * 3 + c] * direction[r];
    if (std::abs(std::abs(along) - 1) < 1e-6) return c;
  }
  return -1;
}

// Trilinear interpolation of a whole output row that runs along one index axis (the
// rows of a coronal or axial reformat of a gantry-tilted or tilted-plane volume): the
// two other index coordinates are the same for every column, so the four voxel lines
// around them are combined once, then each column interpolates along that line.
// Same values and same inside/outside rule as Sampler.
class LineSampler {
 public:
  LineSampler(const Volume& v, int axis) : v_(v), axis_(axis), line_(size_t(v.dimensions[axis])) {
    const ptrdiff_t stride[3] = {1, ptrdiff_t(v.dimensions[0]), ptrdiff_t(v.dimensions[0]) * v.dimensions[1]};
    b_ = (axis + 1) % 3;
    c_ = (axis + 2) % 3;
    stride_a_ = stride[axis];
    stride_b_ = stride[b_];
    stride_c_ = stride[c_];
  }

  // Samples columns 0..n-1 at index idx + column * step (step only along the axis) into
  // out/used: summed (average) or maximum.
  void sampleRow(const Vec3& idx, double step, int n, bool maximum, float* out, uint16_t* used) {
    const auto [lo, hi] = reach(idx, step, n);
    if (!combineLine(idx, lo, hi, false)) return;
    emit(idx[size_t(axis_)], step, n, 1, maximum, out, used);
  }

  // The sum over a slab's samples idx + s * step_sample (s < samples) whose step has no
  // part along the axis: every sample reads the same positions along the line, so the
  // lines are summed first and interpolated once (the sum of the interpolations).
  void sumSlabRow(const Vec3& idx, const Vec3& step_sample, int samples, double step, int n, float* out,
                  uint16_t* used) {
    const auto [lo, hi] = reach(idx, step, n);
    int count = 0;
    for (int s = 0; s < samples; ++s) {
      Vec3 at = idx;
      for (size_t a = 0; a < 3; ++a) at[a] += s * step_sample[a];
      if (combineLine(at, lo, hi, count > 0)) ++count;
    }
    if (count > 0) emit(idx[size_t(axis_)], step, n, count, false, out, used);
  }

 private:
  // The stretch of the line the columns reach (with the neighbour of the last).
  std::pair<int, int> reach(const Vec3& idx, double step, int n) const {
    const int na = v_.dimensions[axis_];
    const double a_first = idx[size_t(axis_)], a_last = a_first + (n - 1) * step;
    return {std::clamp(int(std::floor(std::min(a_first, a_last))), 0, na - 1),
            std::clamp(int(std::ceil(std::max(a_first, a_last))) + 1, 0, na - 1)};
  }

  // line_[lo..hi] = (or += when `add`) the bilinear combination of the four voxel lines
  // around idx's other two coordinates; false (nothing done) outside the volume.
  bool combineLine(const Vec3& idx, int lo, int hi, bool add) {
    const int nb = v_.dimensions[b_], nc = v_.dimensions[c_];
    double b = idx[size_t(b_)], c = idx[size_t(c_)];
    if (!(b >= -0.5 && b <= nb - 0.5 && c >= -0.5 && c <= nc - 0.5)) return false;
    b = std::clamp(b, 0.0, double(nb - 1));
    c = std::clamp(c, 0.0, double(nc - 1));
    const int b0 = std::min(int(b), std::max(nb - 2, 0)), c0 = std::min(int(c), std::max(nc - 2, 0));
    const float fb = float(b - b0), fc = float(c - c0);
    const ptrdiff_t db = nb > 1 ? stride_b_ : 0, dc = nc > 1 ? stride_c_ : 0;
    const int16_t* p = v_.voxels.data() + b0 * stride_b_ + c0 * stride_c_;
    const float w00 = (1 - fb) * (1 - fc), w10 = fb * (1 - fc), w01 = (1 - fb) * fc, w11 = fb * fc;
    for (int a = lo; a <= hi; ++a) {
      const int16_t* q = p + a * stride_a_;
      const float value = w00 * q[0] + w10 * q[db] + w01 * q[dc] + w11 * q[db + dc];
      line_[size_t(a)] = add ? line_[size_t(a)] + value : value;
    }
    return true;
  }

  // Each column interpolated along line_, added to out (or its maximum taken), and
  // `count` samples counted for it; columns beyond the volume are left alone.
  void emit(double a_first, double step, int n, int count, bool maximum, float* out, uint16_t* used) const {
    const int na = v_.dimensions[axis_];
    const int last_cell = std::max(na - 2, 0), da = na > 1 ? 1 : 0;
    for (int column = 0; column < n; ++column) {
      double a = a_first + column * step;
      if (!(a >= -0.5 && a <= na - 0.5)) continue;
      a = std::clamp(a, 0.0, double(na - 1));
      const int a0 = std::min(int(a), last_cell);
      const float f = float(a - a0);
      const float value = line_[size_t(a0)] + f * (line_[size_t(a0 + da)] - line_[size_t(a0)]);
      out[column] = maximum ? std::max(out[column], value) : out[column] + value;
      used[column] = uint16_t(used[column] + count);
    }
  }

  const Volume& v_;
  int axis_, b_ = 1, c_ = 2;
  ptrdiff_t stride_a_ = 1, stride_b_ = 1, stride_c_ = 1;
  std::vector<float> line_;
};

}  // namespace volnode::reformat_detail
