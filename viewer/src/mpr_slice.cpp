#include "volnode/viewer/mpr_slice.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

namespace volnode::viewer {
namespace {

using Vec3 = std::array<double, 3>;

Vec3 cross(const Vec3& a, const Vec3& b) {
  return {a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]};
}
double dot(const Vec3& a, const Vec3& b) { return a[0] * b[0] + a[1] * b[1] + a[2] * b[2]; }
Vec3 normalised(const Vec3& v) {
  const double n = std::sqrt(dot(v, v));
  return {v[0] / n, v[1] / n, v[2] / n};
}

// Orientation letters of an LPS direction: the components stronger than 0.25,
// strongest first (the same rule as the 3D frames' letters).
std::string letters(const Vec3& v) {
  static const char positive[3] = {'L', 'P', 'H'}, negative[3] = {'R', 'A', 'F'};
  std::array<int, 3> order{0, 1, 2};
  std::sort(order.begin(), order.end(), [&](int a, int b) { return std::fabs(v[a]) > std::fabs(v[b]); });
  std::string s;
  for (int i = 0; i < 2; ++i)
    if (std::fabs(v[order[i]]) > 0.25) s += v[order[i]] > 0 ? positive[order[i]] : negative[order[i]];
  return s;
}

// Trilinear samples of a volume at patient points; `outside` beyond the grid.
class VolumeSampler {
 public:
  explicit VolumeSampler(const Volume& v) : v_(v) {
    for (int c = 0; c < 3; ++c) max_index_[c] = v.dimensions[c] - 1;
  }

  // Continuous index of a patient point (the direction matrix is orthonormal).
  Vec3 indexOf(const Vec3& p) const {
    const Vec3 d{p[0] - v_.origin[0], p[1] - v_.origin[1], p[2] - v_.origin[2]};
    Vec3 index{};
    for (int c = 0; c < 3; ++c)
      index[c] = (v_.direction[0 * 3 + c] * d[0] + v_.direction[1 * 3 + c] * d[1] + v_.direction[2 * 3 + c] * d[2]) /
                 v_.spacing[c];
    return index;
  }

  // Index-space step of a patient displacement.
  Vec3 indexStep(const Vec3& d) const {
    Vec3 step{};
    for (int c = 0; c < 3; ++c)
      step[c] = (v_.direction[0 * 3 + c] * d[0] + v_.direction[1 * 3 + c] * d[1] + v_.direction[2 * 3 + c] * d[2]) /
                v_.spacing[c];
    return step;
  }

  bool inside(const Vec3& i) const {
    for (int c = 0; c < 3; ++c)
      if (i[c] < -0.5 || i[c] > max_index_[c] + 0.5) return false;
    return true;
  }

  double sample(const Vec3& index) const {
    int lo[3];
    double f[3];
    for (int c = 0; c < 3; ++c) {
      const double x = std::clamp(index[c], 0.0, double(max_index_[c]));
      lo[c] = std::min(int(x), std::max(0, max_index_[c] - 1));
      f[c] = max_index_[c] > 0 ? x - lo[c] : 0;
    }
    const int nx = v_.dimensions[0], ny = v_.dimensions[1];
    auto at = [&](int i, int j, int k) {
      i = std::min(i, max_index_[0]);
      j = std::min(j, max_index_[1]);
      k = std::min(k, max_index_[2]);
      return double(v_.voxels[(size_t(k) * ny + j) * nx + i]);
    };
    double value = 0;
    for (int dk = 0; dk < 2; ++dk)
      for (int dj = 0; dj < 2; ++dj)
        for (int di = 0; di < 2; ++di) {
          const double w = (di ? f[0] : 1 - f[0]) * (dj ? f[1] : 1 - f[1]) * (dk ? f[2] : 1 - f[2]);
          if (w > 0) value += w * at(lo[0] + di, lo[1] + dj, lo[2] + dk);
        }
    return value;
  }

 private:
  const Volume& v_;
  std::array<int, 3> max_index_{};
};

struct PlaneAxes {
  Vec3 right, down, normal;
  int position_axis;  // LPS axis whose coordinate position_mm gives; -1: along the normal
};

PlaneAxes axesOf(const SliceParameters& p) {
  switch (p.plane) {
    case SlicePlane::Axial: return {{1, 0, 0}, {0, 1, 0}, {0, 0, 1}, 2};
    case SlicePlane::Coronal: return {{1, 0, 0}, {0, 0, -1}, {0, 1, 0}, 1};
    case SlicePlane::Sagittal: return {{0, 1, 0}, {0, 0, -1}, {1, 0, 0}, 0};
    case SlicePlane::Oblique: break;
  }
  const Vec3 n = p.normal;
  Vec3 down{-n[2] * -n[0], -n[2] * -n[1], -1 + n[2] * n[2]};  // -z minus its part along n
  if (std::sqrt(dot(down, down)) < 0.1) down = {-n[1] * n[0], 1 - n[1] * n[1], -n[1] * n[2]};  // +y instead
  down = normalised(down);
  return {normalised(cross(down, n)), down, n, -1};
}

}  // namespace

SliceImage reformatSlice(const Volume& volume, const SliceParameters& p) {
  const VolumeSampler sampler(volume);
  const PlaneAxes axes = axesOf(p);
  // The volume's corners: its centre and how far it reaches along each plane axis.
  std::vector<Vec3> corners;
  for (int c = 0; c < 8; ++c)
    corners.push_back(volume.physicalPoint((c & 1) ? volume.dimensions[0] - 1 : 0,
                                           (c & 2) ? volume.dimensions[1] - 1 : 0,
                                           (c & 4) ? volume.dimensions[2] - 1 : 0));
  Vec3 centre{0, 0, 0};
  for (const auto& q : corners)
    for (int r = 0; r < 3; ++r) centre[r] += q[r] / 8;
  double lo[3] = {1e300, 1e300, 1e300}, hi[3] = {-1e300, -1e300, -1e300};
  for (const auto& q : corners) {
    const Vec3 d{q[0] - centre[0], q[1] - centre[1], q[2] - centre[2]};
    const double along[3] = {dot(d, axes.right), dot(d, axes.down), dot(d, axes.normal)};
    for (int a = 0; a < 3; ++a) {
      lo[a] = std::min(lo[a], along[a]);
      hi[a] = std::max(hi[a], along[a]);
    }
  }
  // Where the plane lies: its offset from the centre along the normal.
  double offset = 0, position = 0;
  if (p.through) {
    const Vec3 d{(*p.through)[0] - centre[0], (*p.through)[1] - centre[1], (*p.through)[2] - centre[2]};
    offset = dot(d, axes.normal);
    position = axes.position_axis >= 0 ? (*p.through)[axes.position_axis] : offset;
  } else if (axes.position_axis >= 0) {
    position = p.position_mm.value_or(centre[axes.position_axis]);
    offset = position - centre[axes.position_axis];
  } else {
    position = offset = p.position_mm.value_or(0);
  }
  if (offset < lo[2] - 1e-6 || offset > hi[2] + 1e-6)
    throw ParameterError(p.through ? "through" : "position_mm",
                         std::string(p.through ? "through" : "position_mm") + ": the plane at " +
                             std::to_string(position) + " mm lies outside the volume");

  const double finest = std::min({volume.spacing[0], volume.spacing[1], volume.spacing[2]});
  const double extent = std::max(hi[0] - lo[0], hi[1] - lo[1]);
  const int longest = p.size > 0 ? p.size : std::min(1024, int(extent / finest) + 1);
  SliceImage image;
  image.pixel_mm = std::max(extent / std::max(1, longest - 1), 1e-3);
  image.width = std::max(1, int(std::floor((hi[0] - lo[0]) / image.pixel_mm + 1e-9)) + 1);
  image.height = std::max(1, int(std::floor((hi[1] - lo[1]) / image.pixel_mm + 1e-9)) + 1);
  image.right = axes.right;
  image.down = axes.down;
  image.normal = axes.normal;
  image.position_mm = position;
  for (int r = 0; r < 3; ++r)
    image.origin[r] = centre[r] + offset * axes.normal[r] + lo[0] * axes.right[r] + lo[1] * axes.down[r];
  image.edge_letters = {letters({-axes.right[0], -axes.right[1], -axes.right[2]}), letters(axes.right),
                        letters({-axes.down[0], -axes.down[1], -axes.down[2]}), letters(axes.down)};

  // Samples across the slab, one per finest spacing.
  const int layers = p.thickness_mm > finest ? int(std::ceil(p.thickness_mm / finest)) : 1;
  const double layer_mm = layers > 1 ? p.thickness_mm / (layers - 1) : 0;
  const Vec3 column_step = sampler.indexStep({axes.right[0] * image.pixel_mm, axes.right[1] * image.pixel_mm,
                                              axes.right[2] * image.pixel_mm});
  const Vec3 layer_step =
      sampler.indexStep({axes.normal[0] * layer_mm, axes.normal[1] * layer_mm, axes.normal[2] * layer_mm});
  const double outside = volume.modality == "CT" ? -1024 : 0;
  std::vector<float> values(size_t(image.width) * image.height);
  for (int row = 0; row < image.height; ++row) {
    const Vec3 start = sampler.indexOf(image.pointAt(0, row));
    for (int column = 0; column < image.width; ++column) {
      double sum = 0, maximum = -std::numeric_limits<double>::infinity();
      int count = 0;
      for (int l = 0; l < layers; ++l) {
        const double t = l - (layers - 1) / 2.0;
        const Vec3 index{start[0] + column * column_step[0] + t * layer_step[0],
                         start[1] + column * column_step[1] + t * layer_step[1],
                         start[2] + column * column_step[2] + t * layer_step[2]};
        const double value = sampler.inside(index) ? sampler.sample(index) : outside;
        sum += value;
        maximum = std::max(maximum, value);
        ++count;
      }
      values[size_t(row) * image.width + column] = float(p.mode == SliceMode::Maximum ? maximum : sum / count);
    }
  }

  if (p.window) {
    image.window = *p.window;
  } else if (volume.modality == "CT") {
    image.window = {40, 400};
  } else {  // MR: stored values have no fixed scale; the slice's own range
    auto [mn, mx] = std::minmax_element(values.begin(), values.end());
    image.window = {(*mn + *mx) / 2.0, std::max(1.0, double(*mx - *mn))};
  }
  const double low = image.window[0] - image.window[1] / 2, scale = 255.0 / image.window[1];
  image.pixels.resize(values.size());
  for (size_t n = 0; n < values.size(); ++n)
    image.pixels[n] = uint8_t(std::lround(std::clamp((values[n] - low) * scale, 0.0, 255.0)));
  return image;
}

}  // namespace volnode::viewer
