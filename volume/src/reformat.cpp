#include "volnode/volume/reformat.hpp"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <limits>
#include <optional>
#include <thread>

#include "reformat_samplers.hpp"
#include "volnode/core/error.hpp"

namespace volnode {
namespace {

using reformat_detail::LineSampler;
using reformat_detail::roundedToInt16;
using reformat_detail::Sampler;
using reformat_detail::Vec3;
using reformat_detail::volumeAxisAlong;

double dot(const Vec3& a, const Vec3& b) { return a[0] * b[0] + a[1] * b[1] + a[2] * b[2]; }

struct PlaneAxes {
  Vec3 row, column;
};

PlaneAxes axesOf(ReformatPlane plane) {
  switch (plane) {
    case ReformatPlane::Axial: return {{1, 0, 0}, {0, 1, 0}};
    case ReformatPlane::Sagittal: return {{0, 1, 0}, {0, 0, -1}};
    default: return {{1, 0, 0}, {0, 0, -1}};
  }
}

// v turned by `degrees` about the unit axis (right-handed; Rodrigues' formula).
Vec3 turned(const Vec3& v, const Vec3& axis, double degrees) {
  const double a = degrees * M_PI / 180, c = std::cos(a), s = std::sin(a);
  const Vec3 cross{axis[1] * v[2] - axis[2] * v[1], axis[2] * v[0] - axis[0] * v[2], axis[0] * v[1] - axis[1] * v[0]};
  const double along = dot(axis, v) * (1 - c);
  Vec3 out{};
  for (int i = 0; i < 3; ++i) out[i] = v[i] * c + cross[i] * s + axis[i] * along;
  return out;
}

Vec3 unit(Vec3 v) {
  const double n = std::sqrt(dot(v, v));
  for (double& x : v) x /= n;
  return v;
}

// Exact zeros and ones stay exact (cos 90 is 6e-17): a standard plane's IOP reads 1\0\0.
Vec3 tidy(Vec3 v) {
  for (double& x : v)
    if (std::abs(x) < 1e-12) x = 0;
  return v;
}

void checkInput(const Volume& volume, const ReformatSpec& spec) {
  for (int a = 0; a < 3; ++a) {
    if (volume.dimensions[a] <= 0) throw Error(Errc::InvalidArgument, "cannot reformat an empty volume");
    if (!(volume.spacing[a] > 0)) throw Error(Errc::InvalidArgument, "cannot reformat a volume without spacing");
  }
  if (volume.voxels.size() != volume.voxelCount())
    throw Error(Errc::InvalidArgument, "cannot reformat a volume whose voxels do not match its dimensions");
  if (!(spec.spacing_mm > 0) || spec.spacing_mm > 1000)
    throw Error(Errc::InvalidArgument, "reformat spacing must be in (0, 1000] mm");
  if (!(spec.thickness_mm >= 0) || spec.thickness_mm > 1000)
    throw Error(Errc::InvalidArgument, "reformat thickness must be in [0, 1000] mm");
  if (!(std::abs(spec.tilt_deg) <= 90) || !(std::abs(spec.turn_deg) <= 90))
    throw Error(Errc::InvalidArgument, "reformat tilt and turn must be in [-90, 90] degrees");
  if (!(spec.pixel_spacing_mm >= 0) || spec.max_matrix < 16)
    throw Error(Errc::InvalidArgument, "reformat pixel spacing must be >= 0 and the matrix at least 16");
}

// Extent of the volume's voxel centres along an axis.
std::pair<double, double> extentAlong(const Volume& v, const Vec3& axis) {
  double lo = std::numeric_limits<double>::max(), hi = std::numeric_limits<double>::lowest();
  for (int corner = 0; corner < 8; ++corner) {
    const Vec3 p = v.physicalPoint((corner & 1) ? v.dimensions[0] - 1 : 0, (corner & 2) ? v.dimensions[1] - 1 : 0,
                                   (corner & 4) ? v.dimensions[2] - 1 : 0);
    lo = std::min(lo, dot(p, axis));
    hi = std::max(hi, dot(p, axis));
  }
  return {lo, hi};
}

// Continuous voxel index of an LPS point: D^T (p - origin) / spacing (D is orthonormal).
Vec3 indexOf(const Volume& v, const Vec3& p) {
  Vec3 out{};
  for (int c = 0; c < 3; ++c) {
    double s = 0;
    for (int r = 0; r < 3; ++r) s += v.direction[r * 3 + c] * (p[r] - v.origin[r]);
    out[c] = s / v.spacing[c];
  }
  return out;
}

Vec3 indexStep(const Volume& v, const Vec3& direction, double length) {
  Vec3 out{};
  for (int c = 0; c < 3; ++c) {
    double s = 0;
    for (int r = 0; r < 3; ++r) s += v.direction[r * 3 + c] * direction[r] * length;
    out[c] = s / v.spacing[c];
  }
  return out;
}

// Samples across a slab: about one per voxel along the normal, at the centres of
// equal parts of the slab.
int slabSamples(const Volume& v, const Vec3& normal, double thickness) {
  if (!(thickness > 0)) return 1;
  const Vec3 per_mm = indexStep(v, normal, 1.0);
  const double voxels = thickness * std::max({std::abs(per_mm[0]), std::abs(per_mm[1]), std::abs(per_mm[2])});
  return std::max(1, int(std::ceil(voxels - 1e-6)));
}

void renderPlane(const Volume& v, const ReformatSpec& spec, int16_t fill, PlaneImage& image) {
  const PlaneGeometry& g = image.geometry;
  const Vec3 normal = g.normal();
  const int samples = slabSamples(v, normal, spec.thickness_mm);
  const bool maximum = spec.mode == SlabMode::Maximum;
  const Vec3 step_column = indexStep(v, g.row_direction, g.column_spacing);
  const Vec3 step_row = indexStep(v, g.column_direction, g.row_spacing);
  const Vec3 step_sample = indexStep(v, normal, samples > 1 ? spec.thickness_mm / samples : 0);
  const double first_offset = samples > 1 ? -spec.thickness_mm / 2 + spec.thickness_mm / samples / 2 : 0;
  Vec3 start = g.position;
  for (int a = 0; a < 3; ++a) start[a] += first_offset * normal[a];
  const Vec3 origin = indexOf(v, start);
  const Sampler sample(v);
  const int row_axis = volumeAxisAlong(v, g.row_direction);
  std::optional<LineSampler> line_sampler;
  if (row_axis >= 0) line_sampler.emplace(v, row_axis);

  // Sample by sample, row by row: consecutive columns read neighbouring voxels.
  const size_t count = size_t(g.rows) * g.columns;
  std::vector<float> combined(count, maximum ? -std::numeric_limits<float>::max() : 0.0f);
  std::vector<uint16_t> used(count, 0);
  // Average slabs whose samples all sit at the same place along the rows' axis (coronal
  // and axial slices of data tilted about the left-right axis): lines summed first.
  const bool lines_summed = line_sampler && !maximum && std::abs(step_sample[size_t(row_axis)]) < 1e-9;
  for (int row = 0; lines_summed && row < g.rows; ++row) {
    Vec3 idx;
    for (int a = 0; a < 3; ++a) idx[a] = origin[a] + row * step_row[a];
    line_sampler->sumSlabRow(idx, step_sample, samples, step_column[row_axis], g.columns,
                             combined.data() + size_t(row) * g.columns, used.data() + size_t(row) * g.columns);
  }
  for (int s = 0; s < samples && !lines_summed; ++s) {
    for (int row = 0; row < g.rows; ++row) {
      Vec3 idx;
      for (int a = 0; a < 3; ++a) idx[a] = origin[a] + row * step_row[a] + s * step_sample[a];
      float* out = combined.data() + size_t(row) * g.columns;
      uint16_t* n = used.data() + size_t(row) * g.columns;
      if (line_sampler) {
        line_sampler->sampleRow(idx, step_column[row_axis], g.columns, maximum, out, n);
        continue;
      }
      for (int column = 0; column < g.columns; ++column) {
        float value;
        if (sample(idx[0] + column * step_column[0], idx[1] + column * step_column[1], idx[2] + column * step_column[2],
                   &value)) {
          out[column] = maximum ? std::max(out[column], value) : out[column] + value;
          ++n[column];
        }
      }
    }
  }
  image.pixels.assign(count, fill);
  for (size_t i = 0; i < count; ++i) {
    if (used[i] == 0) continue;
    const float value = maximum ? combined[i] : combined[i] / float(used[i]);
    image.pixels[i] = roundedToInt16(value);
  }
}

// Planes whose normal runs along an index axis (no tilt, no obliquity: most CT; also
// sagittal slices of data tilted about the left-right axis) take a separable path: the
// slab is combined on the voxel planes along the normal first, then the 2D result is
// resampled bilinearly onto the output grid. Same geometry as renderPlane(); about ten
// times fewer operations.
struct AxisMapping {
  // Index axes of the combined 2D plane (u, v) and along the normal. in_plane: u runs
  // along the output's rows and v down its columns; otherwise the plane is resampled
  // through the general in-plane affine map.
  int volume_axis[3];
  bool in_plane = true;
};

std::optional<AxisMapping> axisAligned(const Volume& v, const PlaneGeometry& g) {
  const int an = volumeAxisAlong(v, g.normal());
  if (an < 0) return std::nullopt;
  const int ar = volumeAxisAlong(v, g.row_direction), ac = volumeAxisAlong(v, g.column_direction);
  if (ar >= 0 && ac >= 0 && ar != ac) return AxisMapping{{ar, ac, an}, true};
  const int a = (an + 1) % 3, b = (an + 2) % 3;
  return AxisMapping{{std::min(a, b), std::max(a, b), an}, false};
}

// Bilinear resampling of a 2D plane (nu x nv, u fastest) at (u, v) = origin + column *
// step_column + row * step_row for every output pixel; half a pixel beyond the edge
// clamps, further out the pixel keeps its fill.
void resampleAffine(const std::vector<float>& plane, int nu, int nv, double u_origin, double v_origin,
                    double u_per_column, double v_per_column, double u_per_row, double v_per_row, PlaneImage& image) {
  const PlaneGeometry& g = image.geometry;
  const int du = nu > 1 ? 1 : 0, dv = nv > 1 ? nu : 0;
  for (int row = 0; row < g.rows; ++row) {
    int16_t* out = image.pixels.data() + size_t(row) * g.columns;
    for (int column = 0; column < g.columns; ++column) {
      double u = u_origin + column * u_per_column + row * u_per_row;
      double v = v_origin + column * v_per_column + row * v_per_row;
      if (!(u >= -0.5 && u <= nu - 0.5 && v >= -0.5 && v <= nv - 0.5)) continue;
      u = std::clamp(u, 0.0, double(nu - 1));
      v = std::clamp(v, 0.0, double(nv - 1));
      const int u0 = std::min(int(u), std::max(nu - 2, 0)), v0 = std::min(int(v), std::max(nv - 2, 0));
      const float fu = float(u - u0), fv = float(v - v0);
      const float* p = plane.data() + size_t(v0) * nu + u0;
      const float a = p[0] + fu * (p[du] - p[0]);
      const float b = p[dv] + fu * (p[dv + du] - p[dv]);
      out[column] = roundedToInt16(a + fv * (b - a));
    }
  }
}

// Weights of the voxel planes along the normal for a slab centred at index `centre`:
// the overlap of each voxel with the slab (a single plane: linear interpolation
// between its two neighbours). Empty when the slab misses the volume.
using SlabWeights = std::vector<std::pair<int, float>>;

SlabWeights slabWeights(const Volume& v, const ReformatSpec& spec, int an, double centre) {
  const int nn = v.dimensions[an];
  SlabWeights planes;
  if (spec.thickness_mm > 0) {
    const double half = spec.thickness_mm / 2 / v.spacing[an];
    for (int k = std::max(0, int(std::floor(centre - half - 0.5))); k <= std::min(nn - 1, int(std::ceil(centre + half + 0.5))); ++k) {
      const double overlap = std::min(k + 0.5, centre + half) - std::max(k - 0.5, centre - half);
      if (overlap > 1e-9) planes.emplace_back(k, float(overlap));
    }
  } else if (centre >= -0.5 && centre <= nn - 0.5) {
    const double c = std::clamp(centre, 0.0, double(nn - 1));
    const int k0 = std::min(int(c), std::max(nn - 2, 0));
    const float f = float(c - k0);
    planes.emplace_back(k0, 1 - f);
    if (nn > 1 && f > 0) planes.emplace_back(k0 + 1, f);
  }
  return planes;
}

// Step 1 for a group of planes: each slab combined on the volume's own in-plane grid
// (u fastest), the mean or the maximum.
void combineSlabs(const Volume& v, const AxisMapping& m, bool maximum, const std::vector<SlabWeights>& weights,
                  std::vector<std::vector<float>>& combined) {
  const int au = m.volume_axis[0], av = m.volume_axis[1], an = m.volume_axis[2];
  const int nu = v.dimensions[au], nv = v.dimensions[av];
  const size_t stride[3] = {1, size_t(v.dimensions[0]), size_t(v.dimensions[0]) * v.dimensions[1]};
  const size_t su = stride[au], sn = stride[an];
  combined.resize(weights.size());
  for (size_t p = 0; p < weights.size(); ++p)
    combined[p].assign(size_t(nu) * nv, maximum ? -std::numeric_limits<float>::max() : 0.0f);
  if (sn < su) {
    // The normal runs along memory (sagittal slices of axial data): each pixel's
    // planes are neighbours, read together; and every plane of the group passes over
    // one stretch of the volume (index v) while it is in the cache.
    for (int j = 0; j < nv; ++j)
      for (size_t p = 0; p < weights.size(); ++p) {
        const SlabWeights& planes = weights[p];
        if (planes.empty()) continue;
        const int16_t* line = v.voxels.data() + size_t(planes.front().first) * sn + size_t(j) * stride[av];
        float* out = combined[p].data() + size_t(j) * nu;
        for (int i = 0; i < nu; ++i) {
          const int16_t* run = line + size_t(i) * su;
          float value = maximum ? -std::numeric_limits<float>::max() : 0.0f;
          for (const auto& [k, weight] : planes) {
            const float voxel = float(run[size_t(k - planes.front().first) * sn]);
            value = maximum ? std::max(value, voxel) : value + weight * voxel;
          }
          out[i] = value;
        }
      }
    return;
  }
  for (size_t p = 0; p < weights.size(); ++p)
    for (const auto& [k, weight] : weights[p]) {
      const int16_t* base = v.voxels.data() + size_t(k) * sn;
      for (int j = 0; j < nv; ++j) {
        const int16_t* line = base + size_t(j) * stride[av];
        float* out = combined[p].data() + size_t(j) * nu;
        if (maximum) {
          for (int i = 0; i < nu; ++i) out[i] = std::max(out[i], float(line[i * su]));
        } else {
          for (int i = 0; i < nu; ++i) out[i] += weight * float(line[i * su]);
        }
      }
    }
}

// Step 2: one combined slab resampled onto its output grid.
void resampleSlab(const Volume& v, const ReformatSpec& spec, int16_t fill, const AxisMapping& m,
                  const SlabWeights& planes, std::vector<float>& combined, PlaneImage& image) {
  const PlaneGeometry& g = image.geometry;
  const int au = m.volume_axis[0], av = m.volume_axis[1];
  const int nu = v.dimensions[au], nv = v.dimensions[av];
  const Vec3 origin = indexOf(v, g.position);
  const Vec3 step_column = indexStep(v, g.row_direction, g.column_spacing);
  const Vec3 step_row = indexStep(v, g.column_direction, g.row_spacing);
  image.pixels.assign(size_t(g.rows) * g.columns, fill);
  if (planes.empty()) return;
  if (spec.mode != SlabMode::Maximum) {
    float total_weight = 0;
    for (const auto& plane : planes) total_weight += plane.second;
    for (float& value : combined) value /= total_weight;
  }

  // 2. Bilinear resampling onto the output grid (half a voxel beyond the edge clamps).
  if (!m.in_plane) {
    resampleAffine(combined, nu, nv, origin[au], origin[av], step_column[au], step_column[av], step_row[au],
                   step_row[av], image);
    return;
  }
  std::vector<int> u0(size_t(g.columns), -1);
  std::vector<float> fu(size_t(g.columns), 0);
  for (int column = 0; column < g.columns; ++column) {
    double u = origin[au] + column * step_column[au];
    if (u < -0.5 || u > nu - 0.5) continue;
    u = std::clamp(u, 0.0, double(nu - 1));
    u0[size_t(column)] = std::min(int(u), std::max(nu - 2, 0));
    fu[size_t(column)] = float(u - u0[size_t(column)]);
  }
  const int du = nu > 1 ? 1 : 0;
  for (int row = 0; row < g.rows; ++row) {
    double vv = origin[av] + row * step_row[av];
    if (vv < -0.5 || vv > nv - 0.5) continue;
    vv = std::clamp(vv, 0.0, double(nv - 1));
    const int v0 = std::min(int(vv), std::max(nv - 2, 0));
    const float fv = float(vv - v0);
    const float* line0 = combined.data() + size_t(v0) * nu;
    const float* line1 = nv > 1 ? line0 + nu : line0;
    int16_t* out = image.pixels.data() + size_t(row) * g.columns;
    for (int column = 0; column < g.columns; ++column) {
      const int i = u0[size_t(column)];
      if (i < 0) continue;
      const float f = fu[size_t(column)];
      const float a = line0[i] + f * (line0[i + du] - line0[i]);
      const float b = line1[i] + f * (line1[i + du] - line1[i]);
      out[column] = roundedToInt16(a + fv * (b - a));
    }
  }
}

// Planes whose normal runs along an index axis, a group at a time (consecutive slices
// share the voxels they read). `combined`: the slabs on the volume's grid, whose memory
// a caller rendering group after group keeps.
void renderAlignedPlanes(const Volume& v, const ReformatSpec& spec, int16_t fill, const AxisMapping& m,
                         PlaneImage* images, size_t count, std::vector<std::vector<float>>& combined) {
  std::vector<SlabWeights> weights(count);
  for (size_t p = 0; p < count; ++p)
    weights[p] = slabWeights(v, spec, m.volume_axis[2], indexOf(v, images[p].geometry.position)[size_t(m.volume_axis[2])]);
  combineSlabs(v, m, spec.mode == SlabMode::Maximum, weights, combined);
  for (size_t p = 0; p < count; ++p) resampleSlab(v, spec, fill, m, weights[p], combined[p], images[p]);
}

// Aligned slabs are rendered this many at a time: consecutive slices read the same voxels.
constexpr size_t kAlignedGroup = 8;

}  // namespace

ReformatPlane parseReformatPlane(const std::string& text) {
  if (text == "axial") return ReformatPlane::Axial;
  if (text == "coronal") return ReformatPlane::Coronal;
  if (text == "sagittal") return ReformatPlane::Sagittal;
  throw Error(Errc::InvalidArgument, "reformat plane must be \"axial\", \"coronal\" or \"sagittal\", not \"" + text + "\"");
}

SlabMode parseSlabMode(const std::string& text) {
  if (text == "average") return SlabMode::Average;
  if (text == "mip") return SlabMode::Maximum;
  throw Error(Errc::InvalidArgument, "reformat mode must be \"average\" or \"mip\", not \"" + text + "\"");
}

const char* reformatPlaneName(ReformatPlane plane) noexcept {
  switch (plane) {
    case ReformatPlane::Axial: return "axial";
    case ReformatPlane::Sagittal: return "sagittal";
    default: return "coronal";
  }
}

const char* slabModeName(SlabMode mode) noexcept { return mode == SlabMode::Maximum ? "mip" : "average"; }

bool isOblique(const ReformatSpec& spec) noexcept { return spec.tilt_deg != 0 || spec.turn_deg != 0; }

std::pair<std::array<double, 3>, std::array<double, 3>> reformatAxes(const ReformatSpec& spec) {
  PlaneAxes axes = axesOf(spec.plane);
  if (!isOblique(spec)) return {axes.row, axes.column};
  axes.column = tidy(unit(turned(axes.column, axes.row, spec.tilt_deg)));
  axes.row = tidy(unit(turned(axes.row, axes.column, spec.turn_deg)));
  return {axes.row, axes.column};
}

std::vector<PlaneGeometry> reformatPlanes(const Volume& volume, const ReformatSpec& spec) {
  checkInput(volume, spec);
  const auto [row, column] = reformatAxes(spec);
  const PlaneAxes axes{row, column};
  PlaneGeometry base;
  base.row_direction = axes.row;
  base.column_direction = axes.column;
  const Vec3 normal = base.normal();
  const auto [u_lo, u_hi] = extentAlong(volume, axes.row);
  const auto [v_lo, v_hi] = extentAlong(volume, axes.column);
  const auto [n_lo, n_hi] = extentAlong(volume, normal);

  double pixel = spec.pixel_spacing_mm > 0 ? spec.pixel_spacing_mm
                                           : std::min({volume.spacing[0], volume.spacing[1], volume.spacing[2]});
  pixel = std::max(pixel, std::max(u_hi - u_lo, v_hi - v_lo) / double(spec.max_matrix - 1));
  base.columns = int(std::floor((u_hi - u_lo) / pixel + 1e-6)) + 1;
  base.rows = int(std::floor((v_hi - v_lo) / pixel + 1e-6)) + 1;
  base.row_spacing = base.column_spacing = pixel;
  base.thickness = spec.thickness_mm > 0 ? spec.thickness_mm : spec.spacing_mm;

  const double depth = n_hi - n_lo;
  const int count = int(std::floor(depth / spec.spacing_mm + 1e-6)) + 1;
  if (count > spec.max_slices)
    throw Error(Errc::InvalidArgument, "reformat would have " + std::to_string(count) + " slices (limit " +
                                           std::to_string(spec.max_slices) + ")");
  const double first = n_lo + (depth - (count - 1) * spec.spacing_mm) / 2;

  std::vector<PlaneGeometry> planes;
  planes.reserve(size_t(count));
  for (int s = 0; s < count; ++s) {
    PlaneGeometry g = base;
    const double n = first + s * spec.spacing_mm;
    // The three axes are orthonormal: position = u*row + v*column + n*normal.
    for (int a = 0; a < 3; ++a) g.position[a] = u_lo * axes.row[a] + v_lo * axes.column[a] + n * normal[a];
    planes.push_back(g);
  }
  return planes;
}

std::pair<int, int> reformatSourceSlices(const Volume& volume, const ReformatSpec& spec, const PlaneGeometry& plane) {
  const Vec3 normal = plane.normal();
  const double half = spec.thickness_mm / 2;
  const double width = (plane.columns - 1) * plane.column_spacing, height = (plane.rows - 1) * plane.row_spacing;
  double lo = std::numeric_limits<double>::max(), hi = std::numeric_limits<double>::lowest();
  for (int corner = 0; corner < 8; ++corner) {
    Vec3 p = plane.position;
    for (int a = 0; a < 3; ++a)
      p[a] += ((corner & 1) ? width : 0) * plane.row_direction[a] + ((corner & 2) ? height : 0) * plane.column_direction[a] +
              ((corner & 4) ? half : -half) * normal[a];
    const double k = indexOf(volume, p)[2];
    lo = std::min(lo, k);
    hi = std::max(hi, k);
  }
  const int slices = volume.dimensions[2];
  if (hi < -1 || lo > slices) return {1, 0};
  return {std::max(0, int(std::floor(lo))), std::min(slices - 1, int(std::ceil(hi)))};
}

std::vector<PlaneImage> reformatVolume(const Volume& volume, const ReformatSpec& spec, int16_t fill_value,
                                       unsigned threads) {
  const auto planes = reformatPlanes(volume, spec);
  std::vector<PlaneImage> images(planes.size());
  for (size_t i = 0; i < planes.size(); ++i) images[i].geometry = planes[i];
  // Every plane of a reformat has the same orientation, so one path serves them all.
  const auto aligned = images.empty() ? std::nullopt : axisAligned(volume, images.front().geometry);
  const size_t group = aligned ? kAlignedGroup : 1;
  const size_t groups = (images.size() + group - 1) / group;
  if (threads == 0) threads = std::max(1u, std::thread::hardware_concurrency());
  threads = unsigned(std::min<size_t>(threads, groups));
  std::atomic<size_t> next{0};
  std::vector<std::thread> pool;
  for (unsigned t = 0; t < threads; ++t)
    pool.emplace_back([&] {
      std::vector<std::vector<float>> combined;
      for (size_t g = next++; g < groups; g = next++) {
        const size_t first = g * group, count = std::min(group, images.size() - first);
        if (aligned)
          renderAlignedPlanes(volume, spec, fill_value, *aligned, &images[first], count, combined);
        else
          renderPlane(volume, spec, fill_value, images[first]);
      }
    });
  for (auto& th : pool) th.join();
  return images;
}

struct ReformatSlices::State {
  const Volume& volume;
  ReformatSpec spec;
  int16_t fill;
  std::vector<PlaneGeometry> planes;
  std::optional<AxisMapping> aligned;
  size_t next = 0;
  std::vector<PlaneImage> group;  // the slices handed out last; their memory is reused
  std::vector<std::vector<float>> combined;
};

ReformatSlices::ReformatSlices(const Volume& volume, const ReformatSpec& spec, int16_t fill_value)
    : state_(std::make_unique<State>(State{volume, spec, fill_value, reformatPlanes(volume, spec), {}, 0, {}, {}})) {
  if (!state_->planes.empty()) state_->aligned = axisAligned(volume, state_->planes.front());
}

ReformatSlices::~ReformatSlices() = default;

size_t ReformatSlices::size() const { return state_->planes.size(); }

const std::vector<PlaneImage>& ReformatSlices::next() {
  State& s = *state_;
  const size_t count = std::min(s.aligned ? kAlignedGroup : 1, s.planes.size() - s.next);
  s.group.resize(count);
  for (size_t i = 0; i < count; ++i) s.group[i].geometry = s.planes[s.next + i];
  if (count > 0 && s.aligned)
    renderAlignedPlanes(s.volume, s.spec, s.fill, *s.aligned, s.group.data(), count, s.combined);
  else if (count > 0)
    renderPlane(s.volume, s.spec, s.fill, s.group.front());
  s.next += count;
  return s.group;
}

}  // namespace volnode
