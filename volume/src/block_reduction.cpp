#include "block_reduction.hpp"

#include <algorithm>
#include <cmath>

namespace volnode::detail {

std::string BlockReduction::describe() const {
  return std::to_string(fx) + "x" + std::to_string(fy) + "x" + std::to_string(fz);
}

BlockReduction reductionToFit(const std::array<int, 3>& dimensions, const std::array<double, 3>& spacing,
                              uint64_t max_bytes) {
  BlockReduction r;
  if (max_bytes == 0) return r;
  auto bytes = [&](const BlockReduction& b) {
    return uint64_t(dimensions[0] / b.fx) * uint64_t(dimensions[1] / b.fy) * uint64_t(dimensions[2] / b.fz) * 2;
  };
  while (bytes(r) > max_bytes) {
    int* factors[3] = {&r.fx, &r.fy, &r.fz};
    int finest = -1;
    double finest_spacing = 0;
    for (int a = 0; a < 3; ++a) {
      if (dimensions[a] / (*factors[a] + 1) < 1) continue;  // the axis cannot shrink further
      const double reduced = spacing[a] * *factors[a];
      if (finest < 0 || reduced < finest_spacing) {
        finest = a;
        finest_spacing = reduced;
      }
    }
    if (finest < 0) break;  // a single voxel: nothing left to reduce
    ++*factors[finest];
  }
  return r;
}

void reduceGeometry(VolumeCandidate& c, const BlockReduction& r) {
  const int f[3] = {r.fx, r.fy, r.fz};
  std::array<double, 3> shift{};  // along each grid axis, mm
  for (int a = 0; a < 3; ++a) {
    shift[a] = (f[a] - 1) * 0.5 * c.spacing[a];
    c.dimensions[a] = std::max(1, c.dimensions[a] / f[a]);
    c.spacing[a] *= f[a];
  }
  for (int row = 0; row < 3; ++row)
    for (int a = 0; a < 3; ++a) c.origin[row] += c.direction[row * 3 + a] * shift[a];
}

ReducedSlice::ReducedSlice(int full_cols, int full_rows, const BlockReduction& reduction)
    : full_cols_(full_cols),
      full_rows_(full_rows),
      cols_(std::max(1, full_cols / reduction.fx)),
      rows_(std::max(1, full_rows / reduction.fy)),
      r_(reduction),
      sums_(size_t(cols_) * size_t(rows_), 0) {}

void ReducedSlice::clear() {
  std::fill(sums_.begin(), sums_.end(), 0);
  slices_ = 0;
}

void ReducedSlice::add(const int16_t* full) {
  for (int y = 0; y < rows_ * r_.fy && y < full_rows_; ++y) {
    const int16_t* row = full + size_t(y) * full_cols_;
    int64_t* out = sums_.data() + size_t(y / r_.fy) * cols_;
    for (int x = 0; x < cols_ * r_.fx; ++x) out[x / r_.fx] += row[x];
  }
  ++slices_;
}

void ReducedSlice::finish(int16_t* out) {
  const double n = double(r_.fx) * r_.fy * std::max(1, slices_);
  for (size_t i = 0; i < sums_.size(); ++i) out[i] = int16_t(std::lround(double(sums_[i]) / n));
  clear();
}

}  // namespace volnode::detail
