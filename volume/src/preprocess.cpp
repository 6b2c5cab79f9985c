// Preprocessing: clamp -> crop to body -> isotropic resample -> smoothing (median, or ITK's
// anisotropic diffusion). Cropping only finds the body (body_mask.hpp, on runs of voxels);
// the cropped voxels are written once, by the resampling, which reads the body's box and
// its mask directly. Every pass over the voxels runs on all cores. preprocessCopyOf()
// leaves its input as it is: the clamp is then applied as the resampling reads the voxels.
#include "volnode/volume/preprocess.hpp"

#include <algorithm>
#include <atomic>
#include <array>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <optional>
#include <thread>
#include <type_traits>

#include <itkCastImageFilter.h>
#include <itkCurvatureAnisotropicDiffusionImageFilter.h>
#include <itkImage.h>

#include "volnode/core/error.hpp"
#include "volnode/core/logging.hpp"
#include "body_mask.hpp"
#include "slab_threads.hpp"

namespace volnode {
namespace {

using ShortImage = itk::Image<short, 3>;
using FloatImage = itk::Image<float, 3>;


std::string fmt(const char* f, double a, double b = 0, double c = 0) {
  char buf[128];
  std::snprintf(buf, sizeof buf, f, a, b, c);
  return buf;
}

int airValue(const Volume& v) { return v.modality == "CT" ? -1024 : 0; }

// A view of the volume's buffer as an ITK image (no copy; the volume must outlive it).
ShortImage::Pointer wrap(Volume& v) {
  auto img = ShortImage::New();
  ShortImage::RegionType region;
  ShortImage::SizeType size;
  for (int i = 0; i < 3; ++i) size[i] = itk::SizeValueType(v.dimensions[i]);
  region.SetSize(size);
  img->SetRegions(region);
  ShortImage::SpacingType sp;
  ShortImage::PointType origin;
  ShortImage::DirectionType dir;
  for (int i = 0; i < 3; ++i) {
    sp[i] = v.spacing[i];
    origin[i] = v.origin[i];
    for (int j = 0; j < 3; ++j) dir[i][j] = v.direction[i * 3 + j];
  }
  img->SetSpacing(sp);
  img->SetOrigin(origin);
  img->SetDirection(dir);
  img->GetPixelContainer()->SetImportPointer(v.voxels.data(), v.voxels.size(), false);
  return img;
}

// A volume with `v`'s identity and geometry and no voxels: what every step
// that produces a new grid starts from.
Volume emptyLike(const Volume& v) {
  Volume out;
  out.modality = v.modality;
  out.series_instance_uid = v.series_instance_uid;
  out.frame_of_reference_uid = v.frame_of_reference_uid;
  out.corrections = v.corrections;
  out.dimensions = v.dimensions;
  out.spacing = v.spacing;
  out.origin = v.origin;
  out.direction = v.direction;
  return out;
}

// Copies an ITK image's voxels and geometry back into a Volume (keeps the metadata of `meta`).
Volume unwrap(const ShortImage* img, const Volume& meta) {
  Volume out = emptyLike(meta);
  const auto size = img->GetLargestPossibleRegion().GetSize();
  for (int i = 0; i < 3; ++i) {
    out.dimensions[i] = int(size[i]);
    out.spacing[i] = img->GetSpacing()[i];
    out.origin[i] = img->GetOrigin()[i];
    for (int j = 0; j < 3; ++j) out.direction[i * 3 + j] = img->GetDirection()[i][j];
  }
  const short* p = img->GetBufferPointer();
  out.voxels.assign(p, p + out.voxelCount());
  return out;
}

void releaseVoxels(Volume& v) { std::vector<int16_t>().swap(v.voxels); }

// Where output index p falls between two input samples along one axis.
struct AxisSample {
  int i0 = 0, i1 = 0;
  float w = 0;  // weight of i1
};

std::vector<AxisSample> axisSamples(int n_out, double spacing_out, int n_in, double spacing_in) {
  std::vector<AxisSample> out(size_t(std::max(n_out, 0)));
  for (int p = 0; p < n_out; ++p) {
    const double pos = p * spacing_out / spacing_in;
    int i0 = std::clamp(int(std::floor(pos)), 0, std::max(0, n_in - 2));
    const double w = n_in > 1 ? std::clamp(pos - i0, 0.0, 1.0) : 0.0;
    out[size_t(p)] = {i0, std::min(i0 + 1, n_in - 1), float(w)};
  }
  return out;
}

// std::lround of a float, saturated to int16, without the library call (and so
// vectorized): the float is exact in a double, and so is adding one half there.
inline int16_t roundToInt16(float value) {
  const double d = value;
  const int r = int(d + std::copysign(0.5, d));
  return int16_t(std::clamp(r, -32768, 32767));
}

// The part of the volume the next grid is made from: a box, and when cropping to
// the body, which voxels of each row in it are the body (the others read as air).
struct Region {
  std::array<int, 3> low{0, 0, 0};
  std::array<int, 3> dims{0, 0, 0};
  const BodyMask* body = nullptr;
  int16_t air = 0;
  // Clamped as read (when the volume itself is not clamped: the caller keeps it as it is).
  bool clamp = false;
  int16_t lo = 0, hi = 0;
};

// n voxels from src to dst, clamped to the region's range when it has one.
void copyVoxels(const int16_t* src, int n, int16_t* dst, const Region& r) {
  if (!r.clamp) {
    std::copy(src, src + n, dst);
    return;
  }
  for (int i = 0; i < n; ++i) {
    const int16_t c = src[i] < r.lo ? r.lo : src[i];
    dst[i] = c > r.hi ? r.hi : c;
  }
}

// Row j of slice k of the region (region coordinates): a pointer into the volume
// where the row is kept whole and needs no clamping, else `scratch` (dims[0] values)
// filled with it.
const int16_t* regionRow(const Volume& v, const Region& r, int j, int k, int16_t* scratch) {
  const int nx = v.dimensions[0], ny = v.dimensions[1];
  const int vj = r.low[1] + j, vk = r.low[2] + k, x0 = r.low[0], x1 = r.low[0] + r.dims[0];
  const int16_t* src = v.voxels.data() + (size_t(vk) * ny + vj) * nx + x0;
  const bool whole = !r.body || [&] {
    const auto runs = r.body->row(vj, vk);
    return runs.size() == 1 && runs[0].begin <= x0 && runs[0].end >= x1;
  }();
  if (whole) {
    if (!r.clamp) return src;
    copyVoxels(src, r.dims[0], scratch, r);
    return scratch;
  }
  std::fill(scratch, scratch + r.dims[0], r.air);
  for (const RowRun& run : r.body->row(vj, vk)) {
    const int b = std::max(run.begin, x0), e = std::min(run.end, x1);
    if (b < e) copyVoxels(src + (b - x0), e - b, scratch + (b - x0), r);
  }
  return scratch;
}

// The region on a grid with the same direction, its first voxel's position and a
// new spacing, in one pass over the region on all cores: cropping and trilinear
// resampling together. Values are what ITK's ResampleImageFilter computes with a
// linear interpolator on the cropped volume (every output point lies inside it),
// rounded to the nearest integer. Slice by slice: blend the two source slices
// around an output slice, then interpolate in plane.
Volume reshape(const Volume& v, const Region& r, const std::array<double, 3>& spacing, const std::array<int, 3>& dims) {
  const int ni = r.dims[0], nj = r.dims[1];
  const auto xs = axisSamples(dims[0], spacing[0], ni, v.spacing[0]);
  const auto ys = axisSamples(dims[1], spacing[1], nj, v.spacing[1]);
  const auto zs = axisSamples(dims[2], spacing[2], r.dims[2], v.spacing[2]);
  Volume out = emptyLike(v);
  out.origin = v.physicalPoint(r.low[0], r.low[1], r.low[2]);
  out.dimensions = dims;
  out.spacing = spacing;
  out.voxels.resize(out.voxelCount());
  const size_t slice_out = size_t(dims[0]) * dims[1];
  const bool same_plane = dims[0] == ni && dims[1] == nj && spacing[0] == v.spacing[0] && spacing[1] == v.spacing[1];
  const bool same_grid = same_plane && dims[2] == r.dims[2] && spacing[2] == v.spacing[2];
  // Rows of a blended slice that in-plane interpolation reads (all of them unless
  // the grid coarsens in plane).
  std::vector<uint8_t> row_used(size_t(nj), 0);
  for (const AxisSample& y : ys) row_used[size_t(y.i0)] = row_used[size_t(y.i1)] = 1;
  forEachChunk(dims[2], 2, volumeThreads(), [&](int k0, int k1) {
    std::vector<int16_t> scratch_a(static_cast<size_t>(ni)), scratch_b(static_cast<size_t>(ni));
    std::vector<float> blend(same_plane ? 0 : size_t(ni) * nj);
    for (int k = k0; k < k1; ++k) {
      const AxisSample& z = same_grid ? AxisSample{k, k, 0.0f} : zs[size_t(k)];
      int16_t* o = out.voxels.data() + size_t(k) * slice_out;
      for (int j = 0; j < nj; ++j) {
        if (!same_plane && !row_used[size_t(j)]) continue;
        const int16_t* a = regionRow(v, r, j, z.i0, scratch_a.data());
        if (same_plane && z.w == 0) {  // an output slice on an input slice (or no resampling)
          std::copy(a, a + ni, o + size_t(j) * ni);
          continue;
        }
        const int16_t* b = regionRow(v, r, j, z.i1, scratch_b.data());
        if (same_plane) {  // only the slice spacing changes (the usual isotropic case)
          int16_t* orow = o + size_t(j) * ni;
          for (int i = 0; i < ni; ++i) orow[i] = roundToInt16(float(a[i]) + z.w * float(b[i] - a[i]));
        } else {
          float* brow = blend.data() + size_t(j) * ni;
          for (int i = 0; i < ni; ++i) brow[i] = float(a[i]) + z.w * float(b[i] - a[i]);
        }
      }
      if (same_plane) continue;
      for (int j = 0; j < dims[1]; ++j) {
        const AxisSample& y = ys[size_t(j)];
        const float* r0 = blend.data() + size_t(y.i0) * ni;
        const float* r1 = blend.data() + size_t(y.i1) * ni;
        int16_t* orow = o + size_t(j) * dims[0];
        for (int i = 0; i < dims[0]; ++i) {
          const AxisSample& x = xs[size_t(i)];
          const float top = r0[x.i0] + x.w * (r0[x.i1] - r0[x.i0]);
          const float bottom = r1[x.i0] + x.w * (r1[x.i1] - r1[x.i0]);
          orow[i] = roundToInt16(top + y.w * (bottom - top));
        }
      }
    }
  });
  return out;
}

// Counts the voxels outside [lo, hi] on all cores, and clamps them in place unless
// the voxels are const. Most rows are within range: they are only read (their
// minimum and maximum).
template <typename Voxel>
size_t clampRows(Voxel* voxels, int row, int rows, int16_t lo, int16_t hi) {
  std::atomic<size_t> changed{0};
  forEachChunk(rows, 256, volumeThreads(), [&, lo, hi](int r0, int r1) {
    size_t mine = 0;
    for (int r = r0; r < r1; ++r) {
      Voxel* x = voxels + size_t(r) * size_t(row);
      int16_t low = x[0], high = x[0];
      for (int i = 0; i < row; ++i) {
        low = x[i] < low ? x[i] : low;
        high = x[i] > high ? x[i] : high;
      }
      if (low >= lo && high <= hi) continue;
      int out_of_range = 0;
      for (int i = 0; i < row; ++i) out_of_range += int(x[i] < lo) + int(x[i] > hi);
      if constexpr (!std::is_const_v<Voxel>)
        for (int i = 0; i < row; ++i) {
          int16_t c = x[i];
          c = c < lo ? lo : c;
          x[i] = c > hi ? hi : c;
        }
      mine += size_t(out_of_range);
    }
    changed += mine;
  });
  return changed;
}

// Clamps every voxel to [lo, hi] in place; returns how many changed.
size_t clampVoxels(Volume& v, int16_t lo, int16_t hi) {
  return clampRows(v.voxels.data(), v.dimensions[0], v.dimensions[1] * v.dimensions[2], lo, hi);
}

// How many voxels clampVoxels() would change.
size_t countOutsideRange(const Volume& v, int16_t lo, int16_t hi) {
  const int16_t* voxels = v.voxels.data();
  return clampRows(voxels, v.dimensions[0], v.dimensions[1] * v.dimensions[2], lo, hi);
}

// 3x3x3 median, edges replicated: what ITK's MedianImageFilter (radius 1, zero
// flux Neumann boundary) computes, on raw row pointers and all cores -- about a
// tenth of the time of its neighbourhood iterators.
Volume median3x3x3(const Volume& v) {
  const int ni = v.dimensions[0], nj = v.dimensions[1], nk = v.dimensions[2];
  Volume out = emptyLike(v);
  out.voxels.resize(v.voxelCount());
  const int threads = std::clamp(int(std::thread::hardware_concurrency()), 1, std::max(1, nk));
  auto work = [&](int t) {
    std::array<int16_t, 27> n{};
    std::array<const int16_t*, 9> rows{};
    for (int k = t; k < nk; k += threads)
      for (int j = 0; j < nj; ++j) {
        int r = 0;
        for (int dk = -1; dk <= 1; ++dk)
          for (int dj = -1; dj <= 1; ++dj) {
            const int kk = std::clamp(k + dk, 0, nk - 1), jj = std::clamp(j + dj, 0, nj - 1);
            rows[size_t(r++)] = v.voxels.data() + (size_t(kk) * nj + jj) * ni;
          }
        int16_t* o = out.voxels.data() + (size_t(k) * nj + j) * ni;
        for (int i = 0; i < ni; ++i) {
          const int i0 = std::max(i - 1, 0), i2 = std::min(i + 1, ni - 1);
          size_t c = 0;
          for (const int16_t* row : rows) {
            n[c++] = row[i0];
            n[c++] = row[i];
            n[c++] = row[i2];
          }
          std::nth_element(n.begin(), n.begin() + 13, n.end());
          o[i] = n[13];
        }
      }
  };
  std::vector<std::thread> pool;
  for (int t = 1; t < threads; ++t) pool.emplace_back(work, t);
  work(0);
  for (auto& th : pool) th.join();
  return out;
}


void checkInput(const Volume& input) {
  if (input.voxelCount() == 0 || input.voxels.size() != input.voxelCount())
    throw Error(Errc::InvalidArgument, "preprocess: empty or inconsistent volume");
  for (double s : input.spacing)
    if (!(s > 0)) throw Error(Errc::InvalidArgument, "preprocess: spacing must be positive");
}

std::pair<int16_t, int16_t> clampRange(const PreprocessOptions& options) {
  return {int16_t(std::max(-32768, options.clamp->first)), int16_t(std::min(32767, options.clamp->second))};
}

int bodyThreshold(const PreprocessOptions& options) {
  return int(std::clamp(std::floor(options.body_threshold), -40000.0, 40000.0));
}

// The steps after the input is checked. `shared`: the input, only read (clamped as
// its voxels are read, or in a copy); null: `v` is the input, changed in place.
PreprocessResult run(Volume v, const Volume* shared, const PreprocessOptions& options) {
  auto log = moduleLogger("pipeline");
  PreprocessResult result;
  const auto t_all = std::chrono::steady_clock::now();
  const Volume& source = shared ? *shared : v;  // what the crop and the resampling read

  Region region;
  if (options.clamp) {
    const auto t0 = std::chrono::steady_clock::now();
    const auto [lo, hi] = clampRange(options);
    size_t changed = 0;
    if (shared) {
      changed = countOutsideRange(*shared, lo, hi);
      region.clamp = true;
      region.lo = lo;
      region.hi = hi;
    } else {
      changed = clampVoxels(v, lo, hi);
    }
    result.timings.add("clamp", secondsSince(t0));
    result.notes.push_back("clamped " + std::to_string(changed) + " voxels to [" + std::to_string(lo) + ", " +
                           std::to_string(hi) + "]");
  }

  // Cropping finds the body's box and mask here; the voxels are copied out of the
  // box together with the resampling below, in one pass.
  region.dims = source.dimensions;
  region.air = int16_t(airValue(source));
  std::optional<BodyMask> body;
  double crop_seconds = 0;
  if (options.crop_body) {
    const auto t0 = std::chrono::steady_clock::now();
    if (source.modality == "CT") {
      std::string why_not;
      body = findBody(source, bodyThreshold(options), std::max<size_t>(1, source.voxelCount() / 1000), volumeThreads(),
                      why_not);
      if (body) {
        const int margin = 2;
        for (int a = 0; a < 3; ++a) {
          region.low[a] = std::max(0, body->low[a] - margin);
          region.dims[a] = std::min(source.dimensions[a] - 1, body->high[a] + margin) - region.low[a] + 1;
        }
        region.body = &*body;
        result.notes.push_back(fmt("cropped to body %.0fx%.0fx", region.dims[0], region.dims[1]) +
                               std::to_string(region.dims[2]));
      } else {
        result.notes.push_back(why_not);
      }
    } else {
      result.notes.push_back("crop to body skipped: only for CT");
    }
    crop_seconds = secondsSince(t0);
  }

  // Target spacing: isotropic at the finest in-plane spacing (or given), grown to fit max_voxels.
  std::array<double, 3> target = source.spacing;
  if (options.isotropic) {
    const double s = options.target_spacing_mm > 0 ? options.target_spacing_mm
                                                   : std::min(source.spacing[0], source.spacing[1]);
    target = {s, s, s};
  }
  auto countFor = [&](const std::array<double, 3>& sp, std::array<int, 3>& dims) {
    double total = 1;
    for (int i = 0; i < 3; ++i) {
      dims[i] = std::max(1, int(std::floor((region.dims[i] - 1) * source.spacing[i] / sp[i] + 1e-6)) + 1);
      total *= dims[i];
    }
    return total;
  };
  std::array<int, 3> dims{};
  double count = countFor(target, dims);
  while (count > double(options.max_voxels)) {
    const double f = std::max(1.001, std::cbrt(count / double(options.max_voxels)));
    for (auto& s : target) s *= f;
    count = countFor(target, dims);
  }
  const bool need_resample = dims != region.dims || std::abs(target[0] - source.spacing[0]) > 1e-6 ||
                             std::abs(target[1] - source.spacing[1]) > 1e-6 ||
                             std::abs(target[2] - source.spacing[2]) > 1e-6;
  if (need_resample) {
    if (options.crop_body) result.timings.add("crop_body", crop_seconds);
    const auto t0 = std::chrono::steady_clock::now();
    v = reshape(source, region, target, dims);
    body.reset();
    result.timings.add("resample", secondsSince(t0));
    result.notes.push_back(fmt("resampled to %.3gx%.3gx%.3g mm", target[0], target[1], target[2]) + " (" +
                           std::to_string(dims[0]) + "x" + std::to_string(dims[1]) + "x" + std::to_string(dims[2]) +
                           ")");
  } else if (options.crop_body && body) {
    const auto t0 = std::chrono::steady_clock::now();
    v = reshape(source, region, source.spacing, region.dims);  // the crop alone
    body.reset();
    result.timings.add("crop_body", crop_seconds + secondsSince(t0));
  } else {
    if (options.crop_body) result.timings.add("crop_body", crop_seconds);
    if (shared) {  // no new grid: the input's own voxels, clamped in a copy
      v = *shared;
      if (options.clamp) clampVoxels(v, region.lo, region.hi);
    }
  }

  if (options.smoothing != Smoothing::None) {
    const auto t0 = std::chrono::steady_clock::now();
    auto in = wrap(v);
    ShortImage::Pointer out;
    if (options.smoothing == Smoothing::Median) {
      in = nullptr;
      v = median3x3x3(v);
    } else {
      auto toFloat = itk::CastImageFilter<ShortImage, FloatImage>::New();
      toFloat->SetInput(in);
      auto diff = itk::CurvatureAnisotropicDiffusionImageFilter<FloatImage, FloatImage>::New();
      diff->SetInput(toFloat->GetOutput());
      diff->SetNumberOfIterations(unsigned(options.smoothing_iterations));
      diff->SetTimeStep(0.0625 * std::min({v.spacing[0], v.spacing[1], v.spacing[2]}));
      diff->SetConductanceParameter(3.0);
      diff->SetUseImageSpacing(true);
      auto toShort = itk::CastImageFilter<FloatImage, ShortImage>::New();
      toShort->SetInput(diff->GetOutput());
      toShort->Update();
      out = toShort->GetOutput();
      out->DisconnectPipeline();
    }
    if (out) {
      in = nullptr;
      Volume meta = std::move(v);
      releaseVoxels(meta);
      v = unwrap(out, meta);
    }
    result.timings.add("smooth", secondsSince(t0));
    result.notes.push_back(std::string("smoothed (") + smoothingName(options.smoothing) + ")");
  }

  log->debug("preprocess: {} in {:.3f} s", result.timings.summary(), secondsSince(t_all));
  result.volume = std::move(v);
  return result;
}

}  // namespace

PreprocessResult preprocess(Volume input, const PreprocessOptions& options) {
  checkInput(input);
  return run(std::move(input), nullptr, options);
}

PreprocessResult preprocessCopyOf(const Volume& input, const PreprocessOptions& options) {
  checkInput(input);
  // The body is found on the unclamped voxels: the same body as on clamped ones
  // only when the threshold lies inside the clamp range (lo <= t < hi).
  if (options.clamp && options.crop_body && input.modality == "CT") {
    const auto [lo, hi] = clampRange(options);
    const int threshold = bodyThreshold(options);
    if (!(lo <= threshold && threshold < hi)) return run(Volume(input), nullptr, options);
  }
  return run(Volume{}, &input, options);
}

}  // namespace volnode
