// Offscreen volume rendering (see render.hpp).
//
// Geometry: the vtkImageData stays axis-aligned (origin 0, the volume's
// spacing) and the vtkVolume's user matrix carries direction + origin, so VTK's
// world coordinates are patient LPS millimetres. vtkFixedPointVolumeRayCastMapper
// ignores vtkImageData's direction matrix in VTK 9.1; a prop matrix works for
// both mappers. A mirrored grid (det(direction) < 0, e.g. reversed slice order)
// is flipped along k first, so a render never depends on slice order.
#include "volnode/render/render.hpp"

#include <vtkCamera.h>
#include <vtkColorTransferFunction.h>
#include <vtkFixedPointVolumeRayCastMapper.h>
#include <vtkGPUVolumeRayCastMapper.h>
#include <vtkImageData.h>
#include <vtkImageImport.h>
#include <vtkMatrix4x4.h>
#include <vtkNew.h>
#include <vtkPNGWriter.h>
#include <vtkPiecewiseFunction.h>
#include <vtkPointData.h>
#include <vtkRenderWindow.h>
#include <vtkRenderer.h>
#include <vtkShortArray.h>
#include <vtkSmartPointer.h>
#include <vtkTextActor.h>
#include <vtkTextProperty.h>
#include <vtkUnsignedCharArray.h>
#include <vtkVolume.h>
#include <vtkVolumeProperty.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <climits>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <exception>
#include <fmt/format.h>
#include <map>
#include <mutex>
#include <thread>

#include "volnode/core/error.hpp"
#include "volnode/core/logging.hpp"
#include "volnode/render/display.hpp"

namespace volnode {

using Vec3 = std::array<double, 3>;

namespace {

double now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

Vec3 cross(const Vec3& a, const Vec3& b) {
  return {a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]};
}
double dot(const Vec3& a, const Vec3& b) { return a[0] * b[0] + a[1] * b[1] + a[2] * b[2]; }

// Camera basis in LPS: dop = direction of projection (from the viewer into the
// patient), up = image up. Image right = dop x up (VTK's convention).
struct ViewBasis {
  Vec3 dop, up;
  Vec3 right() const { return cross(dop, up); }
};

constexpr double kPi = 3.14159265358979323846;

// Spin angle a (degrees): viewer at (sin a, -cos a, 0) from the centre: a = 0 in
// front (anterior), a = 90 at the patient's left.
ViewBasis spinBasis(double degrees) {
  const double a = degrees * kPi / 180.0;
  return {{-std::sin(a), std::cos(a), 0.0}, {0, 0, 1}};
}

ViewBasis viewBasis(View view) {
  switch (view) {
    case View::Anterior: return spinBasis(0);
    case View::Left: return spinBasis(90);
    case View::Posterior: return spinBasis(180);
    case View::Right: return spinBasis(270);
    case View::Superior: return {{0, 0, -1}, {0, -1, 0}};
    case View::Inferior: return {{0, 0, 1}, {0, -1, 0}};
  }
  return spinBasis(0);
}

bool isSpinView(View v) { return v != View::Superior && v != View::Inferior; }
double spinAngleOf(View v) {
  switch (v) {
    case View::Left: return 90;
    case View::Posterior: return 180;
    case View::Right: return 270;
    default: return 0;
  }
}

// Orientation letters of an LPS direction: up to two, strongest first.
std::string letters(const Vec3& v) {
  static const char pos[3] = {'L', 'P', 'H'}, neg[3] = {'R', 'A', 'F'};
  std::array<int, 3> order{0, 1, 2};
  std::sort(order.begin(), order.end(), [&](int a, int b) { return std::fabs(v[a]) > std::fabs(v[b]); });
  std::string s;
  for (int i = 0; i < 2; ++i) {
    const int c = order[i];
    if (std::fabs(v[c]) > 0.25) s += v[c] > 0 ? pos[c] : neg[c];
  }
  return s;
}

// The grid that is actually rendered: possibly downsampled and flipped copy.
struct RenderGrid {
  std::array<int, 3> dims{};
  Vec3 spacing{}, origin{};
  std::array<double, 9> direction{};
  std::vector<int16_t> own;      // empty when sharing the source voxels
  const int16_t* data = nullptr;
};

// Runs work(t, image) for t in [0, threads), each on a thread of its own with
// an image of its own (npix values, INT16_MIN where nothing was written), and
// returns their per-pixel maximum.
template <class Work>
std::vector<int16_t> maxOverThreads(int threads, size_t npix, const Work& work) {
  std::vector<std::vector<int16_t>> partial(size_t(threads), std::vector<int16_t>(npix, INT16_MIN));
  std::vector<std::thread> pool;
  for (int t = 1; t < threads; ++t) pool.emplace_back([&, t] { work(t, partial[size_t(t)].data()); });
  work(0, partial[0].data());
  for (auto& th : pool) th.join();
  for (int t = 1; t < threads; ++t)
    for (size_t p = 0; p < npix; ++p) partial[0][p] = std::max(partial[0][p], partial[size_t(t)][p]);
  return std::move(partial[0]);
}

// CPU maximum intensity projection by voxel splatting (parallel projection):
// every voxel at or above `lo` writes its value into the pixels its projected
// box covers, keeping the maximum. Cost is one pass over the grid, independent
// of ray length, and skipped air is nearly free. Returns per-pixel maxima
// (top row first), INT16_MIN where nothing was projected.
std::vector<int16_t> splatMip(const RenderGrid& g, const ViewBasis& b, const Vec3& centre, double scale, int width,
                              int height, int16_t lo, int threads) {
  const double px = 2 * scale / height;  // mm per pixel
  const Vec3 r = b.right();
  Vec3 col[3];
  for (int c = 0; c < 3; ++c) col[c] = {g.direction[c], g.direction[3 + c], g.direction[6 + c]};
  double du[3], dv[3], hx = 0, hy = 0;
  for (int c = 0; c < 3; ++c) {
    du[c] = dot(col[c], r) * g.spacing[c] / px;      // pixels per index step
    dv[c] = -dot(col[c], b.up) * g.spacing[c] / px;  // image y grows downwards
    hx += 0.5 * std::fabs(du[c]);
    hy += 0.5 * std::fabs(dv[c]);
  }
  hx = std::max(hx, 0.5);
  hy = std::max(hy, 0.5);
  const Vec3 d0{g.origin[0] - centre[0], g.origin[1] - centre[1], g.origin[2] - centre[2]};
  const double x0 = width / 2.0 + dot(d0, r) / px, y0 = height / 2.0 - dot(d0, b.up) / px;
  const int NI = g.dims[0], NJ = g.dims[1], NK = g.dims[2];
  const size_t npix = size_t(width) * height;
  // Pixel span [a, b] a voxel centred at c covers along one image axis (half width h).
  auto span = [](double c, double h, int limit, int& a, int& b) {
    a = int(std::floor(c - h + 0.5));
    b = int(std::floor(c + h - 0.5));
    if (b < a) b = a = int(std::floor(c));
    a = std::max(a, 0);
    b = std::min(b, limit - 1);
  };

  // Fast path: when two grid axes lie in the image's horizontal plane (every
  // spin frame of an axial, sagittal or coronal acquisition), a slice across
  // the third axis projects onto one band of rows. Its voxels are maxed into a
  // single line first (which stays in cache), and the line into the band's rows.
  int band = -1;
  for (int c = 0; c < 3 && band < 0; ++c)
    if (std::fabs(dv[(c + 1) % 3]) < 1e-9 && std::fabs(dv[(c + 2) % 3]) < 1e-9) band = c;
  if (band >= 0) {
    const std::array<int, 3> n{NI, NJ, NK};
    const std::array<size_t, 3> stride{1, size_t(NI), size_t(NI) * NJ};
    // Inner axis: the other axis with the smaller memory stride.
    const int inner = band == 0 ? 1 : 0, outer = 3 - band - inner;
    threads = std::max(1, std::min(threads, n[band]));
    return maxOverThreads(threads, npix, [&](int t, int16_t* out) {
      std::vector<int16_t> line(width);
      for (int sl = t; sl < n[band]; sl += threads) {
        int ya, yb;
        span(y0 + sl * dv[band], hy, height, ya, yb);
        if (yb < ya) continue;
        std::fill(line.begin(), line.end(), INT16_MIN);
        int touched_lo = width, touched_hi = -1;
        for (int o = 0; o < n[outer]; ++o) {
          const int16_t* row = g.data + sl * stride[band] + o * stride[outer];
          const double xr = x0 + sl * du[band] + o * du[outer];
          for (int u = 0; u < n[inner]; ++u) {
            const int16_t val = row[u * stride[inner]];
            if (val < lo) continue;
            int xa, xb;
            span(xr + u * du[inner], hx, width, xa, xb);
            for (int x = xa; x <= xb; ++x)
              if (line[x] < val) line[x] = val;
            touched_lo = std::min(touched_lo, xa);
            touched_hi = std::max(touched_hi, xb);
          }
        }
        for (int y = ya; y <= yb; ++y) {
          int16_t* o = out + size_t(y) * width;
          for (int x = touched_lo; x <= touched_hi; ++x)
            if (o[x] < line[x]) o[x] = line[x];
        }
      }
    });
  }

  threads = std::max(1, std::min(threads, NK));
  return maxOverThreads(threads, npix, [&](int t, int16_t* out) {
    for (int k = t; k < NK; k += threads)
      for (int j = 0; j < NJ; ++j) {
        const int16_t* row = g.data + (size_t(k) * NJ + j) * NI;
        const double xr = x0 + j * du[1] + k * du[2], yr = y0 + j * dv[1] + k * dv[2];
        for (int i = 0; i < NI; ++i) {
          const int16_t val = row[i];
          if (val < lo) continue;
          int xa, xb, ya, yb;
          span(xr + i * du[0], hx, width, xa, xb);
          span(yr + i * dv[0], hy, height, ya, yb);
          for (int y = ya; y <= yb; ++y) {
            int16_t* o = out + size_t(y) * width;
            for (int x = xa; x <= xb; ++x)
              if (o[x] < val) o[x] = val;
          }
        }
      }
  });
}

}  // namespace

// ----------------------------------------------------------------------------

RenderBackend parseRenderBackend(const std::string& t) {
  if (t == "auto") return RenderBackend::Auto;
  if (t == "cpu") return RenderBackend::Cpu;
  if (t == "gpu") return RenderBackend::Gpu;
  throw Error(Errc::InvalidConfig, "render.backend: expected auto, cpu or gpu, got \"" + t + "\"");
}

std::string renderBackendName(RenderBackend b) {
  switch (b) {
    case RenderBackend::Auto: return "auto";
    case RenderBackend::Cpu: return "cpu";
    case RenderBackend::Gpu: return "gpu";
  }
  return "?";
}

std::string viewName(View v) {
  switch (v) {
    case View::Anterior: return "anterior";
    case View::Posterior: return "posterior";
    case View::Left: return "left";
    case View::Right: return "right";
    case View::Superior: return "superior";
    case View::Inferior: return "inferior";
  }
  return "?";
}

View parseView(const std::string& t) {
  for (View v : keyViews())
    if (viewName(v) == t) return v;
  throw Error(Errc::InvalidArgument,
              "unknown view \"" + t + "\" (expected anterior, posterior, left, right, superior or inferior)");
}

const std::vector<View>& keyViews() {
  static const std::vector<View> all{View::Anterior, View::Posterior, View::Left,
                                     View::Right,    View::Superior,  View::Inferior};
  return all;
}

void StageTimings::add(const std::string& stage, double seconds) {
  for (auto& [name, s] : stages)
    if (name == stage) {
      s += seconds;
      return;
    }
  stages.emplace_back(stage, seconds);
}

double StageTimings::get(const std::string& stage) const {
  for (auto& [name, s] : stages)
    if (name == stage) return s;
  return 0;
}

double StageTimings::total() const {
  double t = 0;
  for (auto& [name, s] : stages) t += s;
  return t;
}

std::string StageTimings::summary() const {
  std::string out;
  for (auto& [name, s] : stages) out += (out.empty() ? "" : ", ") + fmt::format("{} {:.3f} s", name, s);
  return out;
}

// ----------------------------------------------------------------------------

struct VolumeRenderer::Impl {
  Options options;
  std::shared_ptr<DisplayServer> display;
  std::shared_ptr<const Volume> volume;
  StageTimings timings;
  RenderBackend backend = RenderBackend::Cpu;
  std::string gl_renderer;

  vtkNew<vtkRenderWindow> window;
  vtkNew<vtkRenderer> renderer;
  vtkNew<vtkVolume> prop;
  vtkNew<vtkVolumeProperty> property;
  vtkNew<vtkColorTransferFunction> color;
  vtkNew<vtkPiecewiseFunction> opacity;
  vtkNew<vtkPiecewiseFunction> gradient;
  vtkSmartPointer<vtkVolumeMapper> mapper;
  vtkNew<vtkImageData> image;
  vtkNew<vtkUnsignedCharArray> readback;
  std::array<vtkNew<vtkTextActor>, 4> edge_text;  // left, right, top, bottom
  vtkNew<vtkTextActor> preset_text;
  vtkNew<vtkTextActor> annotation_text;

  // Rendered grid, keyed by downsampling factors.
  RenderGrid grid;
  std::array<int, 3> grid_factors{0, 0, 0};
  bool grid_is_max = false;
  bool image_valid = false;
  std::string applied_preset;  // transfer functions currently set up for

  // Extreme visible points (LPS), keyed by threshold, and the index box that
  // holds every visible voxel (lo, hi inclusive per axis).
  double points_threshold = NAN;
  std::vector<Vec3> points;
  Vec3 centre{};
  std::array<int, 3> visible_lo{0, 0, 0}, visible_hi{-1, -1, -1};
  std::array<int, 3> grid_lo{0, 0, 0}, grid_hi{-1, -1, -1};  // source index box the grid covers

  int width = 0, height = 0;
  bool first_render_done = false;
  double reference = NAN;  // 99th-percentile intensity of the volume (relative presets)

  double referenceIntensity() {
    if (!std::isnan(reference)) return reference;
    // Histogram of voxels above the minimum (background), sampled with a stride.
    const auto& vox = volume->voxels;
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
    reference = 1;
    uint64_t acc = 0;
    for (size_t b = 0; b < hist.size() && count; ++b) {
      acc += hist[b];
      if (acc >= count * 0.99) {
        reference = std::max(1.0, double(int(b) - 32768));
        break;
      }
    }
    return reference;
  }

  int threadCount() const {
    return options.threads > 0 ? options.threads : int(std::max(1u, std::thread::hardware_concurrency()));
  }

  void initWindow() {
    window->SetOffScreenRendering(1);
    window->SetMultiSamples(0);
    window->SetAlphaBitPlanes(0);
    window->AddRenderer(renderer);
    renderer->SetBackground(0, 0, 0);
    renderer->GetActiveCamera()->ParallelProjectionOn();
    renderer->AddVolume(prop);
    prop->SetProperty(property);
    property->SetColor(color);
    property->SetScalarOpacity(opacity);
    property->SetGradientOpacity(gradient);
    property->SetInterpolationTypeToLinear();
    for (auto& t : edge_text) renderer->AddActor2D(t);
    renderer->AddActor2D(preset_text);
    renderer->AddActor2D(annotation_text);
    setSize(512, 512);
    // Create the GL context now so the backend can be resolved from GL_RENDERER.
    window->Render();
    const char* caps = window->ReportCapabilities();
    std::string c = caps ? caps : "";
    const std::string key = "OpenGL renderer string:";
    if (auto p = c.find(key); p != std::string::npos) {
      auto e = c.find('\n', p);
      gl_renderer = c.substr(p + key.size(), e == std::string::npos ? std::string::npos : e - p - key.size());
      gl_renderer.erase(0, gl_renderer.find_first_not_of(' '));
    }
    std::string lower = gl_renderer;
    std::transform(lower.begin(), lower.end(), lower.begin(), ::tolower);
    const bool software = lower.empty() || lower.find("llvmpipe") != std::string::npos ||
                          lower.find("softpipe") != std::string::npos || lower.find("swrast") != std::string::npos;
    backend = options.backend == RenderBackend::Auto ? (software ? RenderBackend::Cpu : RenderBackend::Gpu)
                                                     : options.backend;
    if (backend == RenderBackend::Gpu) {
      auto m = vtkSmartPointer<vtkGPUVolumeRayCastMapper>::New();
      m->SetAutoAdjustSampleDistances(0);
      m->SetLockSampleDistanceToInputSpacing(0);
      m->SetUseJittering(0);
      mapper = m;
    } else {
      auto m = vtkSmartPointer<vtkFixedPointVolumeRayCastMapper>::New();
      m->SetAutoAdjustSampleDistances(0);
      m->SetLockSampleDistanceToInputSpacing(0);
      m->SetImageSampleDistance(1.0);
      m->IntermixIntersectingGeometryOff();
      m->SetNumberOfThreads(options.threads > 0 ? options.threads
                                                : std::max(1u, std::thread::hardware_concurrency()));
      mapper = m;
    }
    mapper->SetInputData(image);
    prop->SetMapper(mapper);
    moduleLogger("render")->debug("render window on {} ({}), backend {}", display->display(), gl_renderer,
                                  renderBackendName(backend));
  }

  void setSize(int w, int h) {
    if (w == width && h == height) return;
    width = w;
    height = h;
    window->SetSize(w, h);
    const int font = std::max(10, h / 28);
    for (auto& t : edge_text) {
      t->GetTextProperty()->SetFontSize(font + 2);
      t->GetTextProperty()->BoldOn();
      t->GetTextProperty()->SetColor(1, 1, 0.6);
      t->GetTextProperty()->SetFontFamilyToArial();
    }
    const int m = std::max(3, h / 100);
    auto place = [&](vtkTextActor* t, double x, double y, int hj, int vj) {
      t->SetDisplayPosition(int(x), int(y));
      t->GetTextProperty()->SetJustification(hj);
      t->GetTextProperty()->SetVerticalJustification(vj);
    };
    place(edge_text[0], m, h / 2.0, VTK_TEXT_LEFT, VTK_TEXT_CENTERED);
    place(edge_text[1], w - m, h / 2.0, VTK_TEXT_RIGHT, VTK_TEXT_CENTERED);
    place(edge_text[2], w / 2.0, h - m, VTK_TEXT_CENTERED, VTK_TEXT_TOP);
    place(edge_text[3], w / 2.0, m, VTK_TEXT_CENTERED, VTK_TEXT_BOTTOM);
    for (vtkTextActor* t : {preset_text.Get(), annotation_text.Get()}) {
      t->GetTextProperty()->SetFontSize(font);
      t->GetTextProperty()->SetColor(1, 1, 1);
      t->GetTextProperty()->SetFontFamilyToArial();
    }
    place(preset_text, m, m, VTK_TEXT_LEFT, VTK_TEXT_BOTTOM);
    place(annotation_text, m, h - m, VTK_TEXT_LEFT, VTK_TEXT_TOP);
  }

  // First and last visible voxel of every i-line: their convex hull is the
  // hull of all visible voxels, so extents along any direction are exact.
  void computePoints(double threshold) {
    if (points_threshold == threshold && !points.empty()) return;
    const Volume& v = *volume;
    const int ni = v.dimensions[0], nj = v.dimensions[1], nk = v.dimensions[2];
    const int16_t thr = int16_t(std::clamp(std::ceil(threshold), -32768.0, 32767.0));
    points.clear();
    visible_lo = {ni, nj, nk};
    visible_hi = {-1, -1, -1};
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
        visible_lo = {std::min(visible_lo[0], first), std::min(visible_lo[1], j), std::min(visible_lo[2], k)};
        visible_hi = {std::max(visible_hi[0], last), std::max(visible_hi[1], j), std::max(visible_hi[2], k)};
      }
    if (points.empty()) {  // nothing visible: frame the whole grid
      for (int c = 0; c < 8; ++c)
        points.push_back(v.physicalPoint((c & 1) ? ni - 1 : 0, (c & 2) ? nj - 1 : 0, (c & 4) ? nk - 1 : 0));
      visible_lo = {0, 0, 0};
      visible_hi = {ni - 1, nj - 1, nk - 1};
    }
    Vec3 lo{1e30, 1e30, 1e30}, hi{-1e30, -1e30, -1e30};
    for (const auto& p : points)
      for (int c = 0; c < 3; ++c) {
        lo[c] = std::min(lo[c], p[c]);
        hi[c] = std::max(hi[c], p[c]);
      }
    for (int c = 0; c < 3; ++c) centre[c] = (lo[c] + hi[c]) / 2;
    points_threshold = threshold;
  }

  // Half extents (right, up) of the visible object about the centre.
  std::pair<double, double> halfExtents(const ViewBasis& b) const {
    const Vec3 r = b.right();
    double hr = 0, hu = 0;
    for (const auto& p : points) {
      const Vec3 d{p[0] - centre[0], p[1] - centre[1], p[2] - centre[2]};
      hr = std::max(hr, std::fabs(dot(d, r)));
      hu = std::max(hu, std::fabs(dot(d, b.up)));
    }
    return {hr, hu};
  }

  // Parallel scale (half the frame height in mm) so the object fills `fill`.
  double scaleFor(const std::vector<ViewBasis>& bases, double fill) const {
    double s = 0;
    const double aspect = double(width) / height;
    for (const auto& b : bases) {
      auto [hr, hu] = halfExtents(b);
      s = std::max({s, hu, hr / aspect});
    }
    return std::max(s, 1e-3) / fill;
  }

  // Rebuilds the rendered grid when the downsampling factors or the visible box
  // change. The grid covers only the box that holds visible voxels (plus a
  // margin for interpolation and gradients): air and tissue below the preset's
  // threshold cost neither gradient precomputation nor ray steps.
  void prepareGrid(double pixel_mm, bool use_max) {
    const Volume& v = *volume;
    const int ni = v.dimensions[0], nj = v.dimensions[1], nk = v.dimensions[2];
    std::array<int, 3> f{1, 1, 1};
    if (options.downsample_ratio > 0)
      for (int c = 0; c < 3; ++c)
        f[c] = std::clamp(int(std::floor(options.downsample_ratio * pixel_mm / v.spacing[c] + 1e-6)), 1, 4);
    // Crop box in source indices, aligned to the factors; kept whole when
    // cropping would save little, so an uncropped grid can share the voxels.
    std::array<int, 3> lo{0, 0, 0}, hi{ni - 1, nj - 1, nk - 1};
    const std::array<int, 3> n{ni, nj, nk};
    double kept = 1;
    for (int c = 0; c < 3; ++c) {
      const int margin = 2 * f[c];
      lo[c] = std::max(0, (visible_lo[c] - margin) / f[c] * f[c]);
      hi[c] = std::min(n[c] - 1, visible_hi[c] + margin);
      if (hi[c] < lo[c]) lo[c] = 0, hi[c] = n[c] - 1;
      kept *= double(hi[c] - lo[c] + 1) / n[c];
    }
    if (kept > 0.9) lo = {0, 0, 0}, hi = {ni - 1, nj - 1, nk - 1};
    const bool cropped = lo != std::array<int, 3>{0, 0, 0} || hi != std::array<int, 3>{ni - 1, nj - 1, nk - 1};

    const auto& d = v.direction;
    const double det = d[0] * (d[4] * d[8] - d[5] * d[7]) - d[1] * (d[3] * d[8] - d[5] * d[6]) +
                       d[2] * (d[3] * d[7] - d[4] * d[6]);
    const bool flip = det < 0;
    const bool any_down = f[0] > 1 || f[1] > 1 || f[2] > 1;
    if (image_valid && f == grid_factors && lo == grid_lo && hi == grid_hi && (!any_down || use_max == grid_is_max))
      return;

    const double t0 = now();
    grid = RenderGrid{};
    for (int c = 0; c < 3; ++c) grid.dims[c] = std::max(1, (hi[c] - lo[c] + 1) / f[c]);
    for (int c = 0; c < 3; ++c) grid.spacing[c] = v.spacing[c] * f[c];
    grid.direction = v.direction;
    const int NI = grid.dims[0], NJ = grid.dims[1], NK = grid.dims[2];
    // Centre of grid voxel (I,J,K) = source index (lo + I*f + (f-1)/2, ...); a flip maps K -> NK-1-K.
    const double oi = (f[0] - 1) / 2.0, oj = (f[1] - 1) / 2.0, ok = (f[2] - 1) / 2.0;
    grid.origin = v.physicalPoint(lo[0] + oi, lo[1] + oj, lo[2] + (flip ? (NK - 1) * f[2] : 0) + ok);
    if (flip)
      for (int r = 0; r < 3; ++r) grid.direction[r * 3 + 2] = -grid.direction[r * 3 + 2];

    if (!any_down && !flip && !cropped) {
      grid.data = v.voxels.data();
    } else {
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
                const int16_t* row =
                    v.voxels.data() + (size_t(srcK + dk) * nj + (srcJ + dj)) * ni + lo[0] + I * f[0];
                for (int di = 0; di < f[0]; ++di) {
                  acc += row[di];
                  acc_max = std::max<int>(acc_max, row[di]);
                }
              }
            out[I] = use_max ? int16_t(acc_max) : int16_t(std::lround(acc * inv));
          }
        }
      }
      grid.data = grid.own.data();
    }
    grid_factors = f;
    grid_lo = lo;
    grid_hi = hi;
    grid_is_max = use_max;

    image->Initialize();
    image->SetDimensions(grid.dims.data());
    image->SetSpacing(grid.spacing.data());
    image->SetOrigin(0, 0, 0);
    vtkNew<vtkShortArray> scalars;
    scalars->SetName("voxels");
    // Shared, not copied: VTK never writes through it (save = 1: VTK does not free it).
    scalars->SetArray(const_cast<int16_t*>(grid.data), vtkIdType(grid.dims[0]) * grid.dims[1] * grid.dims[2], 1);
    image->GetPointData()->SetScalars(scalars);
    image->Modified();

    vtkNew<vtkMatrix4x4> m;
    m->Identity();
    for (int r = 0; r < 3; ++r) {
      for (int c = 0; c < 3; ++c) m->SetElement(r, c, grid.direction[r * 3 + c]);
      m->SetElement(r, 3, grid.origin[r]);
    }
    prop->SetUserMatrix(m);
    image_valid = true;
    first_render_done = false;
    applied_preset.clear();
    timings.add("prepare-grid", now() - t0);
    moduleLogger("render")->debug("render grid {}x{}x{} (factors {},{},{}{}{}{})", grid.dims[0], grid.dims[1],
                                  grid.dims[2], f[0], f[1], f[2], use_max ? ", max" : "", flip ? ", flipped" : "",
                                  cropped ? ", cropped to the visible box" : "");
  }

  void applyPreset(const RenderPreset& p) {
    const double t0 = now();
    color->RemoveAllPoints();
    opacity->RemoveAllPoints();
    gradient->RemoveAllPoints();
    const double min_spacing = std::min({grid.spacing[0], grid.spacing[1], grid.spacing[2]});
    const float sd = float(p.sample_distance * min_spacing);
    if (auto* fp = vtkFixedPointVolumeRayCastMapper::SafeDownCast(mapper)) {
      fp->SetSampleDistance(sd);
      fp->SetInteractiveSampleDistance(sd);
    } else if (auto* gpu = vtkGPUVolumeRayCastMapper::SafeDownCast(mapper)) {
      gpu->SetSampleDistance(sd);
    }
    if (p.blend == BlendMode::MaximumIntensity) {
      mapper->SetBlendModeToMaximumIntensity();
      const double lo = p.window_center - p.window_width / 2, hi = p.window_center + p.window_width / 2;
      color->AddRGBPoint(lo, 0, 0, 0);
      color->AddRGBPoint(hi, 1, 1, 1);
      color->ClampingOn();
      opacity->AddPoint(-32768, 1);
      opacity->AddPoint(32767, 1);
      property->ShadeOff();
      property->DisableGradientOpacityOn();
    } else {
      mapper->SetBlendModeToComposite();
      for (const auto& c : p.color) color->AddRGBPoint(c.value, c.r, c.g, c.b);
      for (const auto& o : p.scalar_opacity) opacity->AddPoint(o.value, o.y);
      if (p.gradient_opacity.empty()) {
        property->DisableGradientOpacityOn();
      } else {
        property->DisableGradientOpacityOff();
        for (const auto& g : p.gradient_opacity) gradient->AddPoint(g.value, g.y);
      }
      property->SetShade(p.shade ? 1 : 0);
      property->SetAmbient(p.ambient);
      property->SetDiffuse(p.diffuse);
      property->SetSpecular(p.specular);
      property->SetSpecularPower(p.specular_power);
    }
    // The opacity function is defined in world units per unit length: keep it
    // per millimetre so presets look the same whatever the spacing.
    property->SetScalarOpacityUnitDistance(1.0);
    timings.add("transfer-functions", now() - t0);
  }

  // The preset's cut-away as VTK cropping regions of the rendered grid: a plane
  // through the object's centre across the grid axis closest to each cut
  // patient axis, and every region visible except those on all the cut sides.
  void applyCutaway(const RenderPreset& p) {
    if (!p.hasCutaway() || p.blend != BlendMode::Composite) {
      mapper->CroppingOff();
      return;
    }
    double planes[6];
    std::array<int, 3> cut_side{-1, -1, -1};  // per grid axis: region 0 (below the plane), 1 (above) or none
    for (int c = 0; c < 3; ++c) {
      // Grid coordinate (data space: index * spacing) of the object's centre along axis c.
      double q = 0;
      for (int r = 0; r < 3; ++r) q += grid.direction[r * 3 + c] * (centre[r] - grid.origin[r]);
      planes[2 * c] = q;
      planes[2 * c + 1] = 1e9;  // regions above it are empty
    }
    for (int a = 0; a < 3; ++a) {
      if (p.cutaway[a] == 0) continue;
      int best = 0;
      for (int c = 1; c < 3; ++c)
        if (std::fabs(grid.direction[a * 3 + c]) > std::fabs(grid.direction[a * 3 + best])) best = c;
      cut_side[best] = grid.direction[a * 3 + best] * p.cutaway[a] > 0 ? 1 : 0;
    }
    int flags = 0;
    for (int k = 0; k < 3; ++k)
      for (int j = 0; j < 3; ++j)
        for (int i = 0; i < 3; ++i) {
          const int part[3] = {i, j, k};
          bool cut = true;
          for (int c = 0; c < 3; ++c)
            if (cut_side[c] >= 0 && part[c] != cut_side[c]) cut = false;
          if (!cut) flags |= 1 << (i + 3 * j + 9 * k);
        }
    mapper->SetCroppingRegionPlanes(planes);
    mapper->SetCroppingRegionFlags(flags);
    mapper->CroppingOn();
  }

  // Frames the object for one preset: returns the parallel scale for spin-type
  // views and sets up the grid and transfer functions.
  struct Framing {
    double spin_scale = 1;
    std::map<View, double> view_scale;
  };

  Framing prepare(const RenderPreset& preset_in, const RenderRequest& rq, RenderPreset& p) {
    if (!volume) throw Error(Errc::InvalidArgument, "VolumeRenderer: no volume set");
    if (rq.width < 16 || rq.height < 16 || rq.width > 8192 || rq.height > 8192)
      throw Error(Errc::InvalidArgument, fmt::format("render size {}x{} is out of range", rq.width, rq.height));
    if (!(rq.fill > 0.1 && rq.fill <= 1.0)) throw Error(Errc::InvalidArgument, "render fill must be in (0.1, 1]");
    setSize(rq.width, rq.height);
    double t0 = now();
    p = preset_in.relative_units ? preset_in.resolved(referenceIntensity()) : preset_in;
    computePoints(p.lowestVisibleValue());
    // One scale for the spin and the four lateral-type key views (so spin frame
    // 0 equals the anterior view); superior/inferior are framed on their own.
    std::vector<ViewBasis> spin_bases;
    const int n = std::max(rq.spin_frames, 0);
    for (int i = 0; i < n; ++i) spin_bases.push_back(spinBasis(360.0 * i / n));
    for (double a : {0.0, 90.0, 180.0, 270.0}) spin_bases.push_back(spinBasis(a));
    Framing fr;
    fr.spin_scale = scaleFor(spin_bases, rq.fill);
    for (View v : {View::Superior, View::Inferior}) fr.view_scale[v] = scaleFor({viewBasis(v)}, rq.fill);
    timings.add("framing", now() - t0);
    const double pixel_mm = 2 * fr.spin_scale / rq.height;
    prepareGrid(pixel_mm, p.blend == BlendMode::MaximumIntensity);
    if (auto* fp = vtkFixedPointVolumeRayCastMapper::SafeDownCast(mapper)) {
      // Cast about one ray per rendered voxel, not one per pixel: a denser ray
      // grid only interpolates between the same voxels, and VTK draws the ray
      // image scaled to the frame with linear filtering.
      const double voxel_px = std::cbrt(grid.spacing[0] * grid.spacing[1] * grid.spacing[2]) / pixel_mm;
      fp->SetImageSampleDistance(float(std::clamp(voxel_px, 1.0, std::max(1.0, options.max_image_sample_distance))));
    }
    applyCutaway(p);
    const std::string key = p.name + (preset_in.relative_units ? "@" + std::to_string(reference) : "");
    if (applied_preset != key) {
      applyPreset(p);
      applied_preset = key;
    }
    preset_text->SetInput(rq.preset_label ? p.name.c_str() : "");
    annotation_text->SetInput(rq.annotation.c_str());
    return fr;
  }

  bool cpuMip(const RenderPreset& p) const {
    return p.blend == BlendMode::MaximumIntensity && backend == RenderBackend::Cpu;
  }

  // Projected maxima of a CPU MIP view (see splatMip).
  std::vector<int16_t> mipMaxima(const RenderPreset& p, const RenderRequest& rq, const ViewBasis& b, double scale) {
    const double t0 = now();
    const double lo = p.window_center - p.window_width / 2;
    auto maxima = splatMip(grid, b, centre, scale, rq.width, rq.height,
                           int16_t(std::clamp(std::ceil(lo), -32768.0, 32767.0)), threadCount());
    timings.add("render-mip", now() - t0);
    return maxima;
  }

  // With parallel projection, the MIP seen from the opposite side is the same
  // image mirrored left to right: frame a + 180 and the inferior view cost a copy.
  static std::vector<int16_t> mirrored(const std::vector<int16_t>& maxima, int width, int height) {
    std::vector<int16_t> out(maxima.size());
    for (int y = 0; y < height; ++y) {
      const int16_t* s = maxima.data() + size_t(y) * width;
      int16_t* d = out.data() + size_t(y) * width;
      for (int x = 0; x < width; ++x) d[x] = s[width - 1 - x];
    }
    return out;
  }

  // Renders one view. For a CPU MIP, `maxima` (when given) holds the view's
  // projected maxima already computed; the GL pass then draws only annotations.
  RenderedFrame renderOne(const RenderPreset& p, const RenderRequest& rq, const ViewBasis& b, double scale,
                          const std::string& name, double angle, std::vector<int16_t> maxima = {}) {
    vtkCamera* cam = renderer->GetActiveCamera();
    const double dist = 2000;  // mm; parallel projection, only the clipping range matters
    cam->SetFocalPoint(centre.data());
    cam->SetPosition(centre[0] - b.dop[0] * dist, centre[1] - b.dop[1] * dist, centre[2] - b.dop[2] * dist);
    cam->SetViewUp(b.up.data());
    cam->SetParallelScale(scale);
    renderer->ResetCameraClippingRange();

    RenderedFrame f;
    f.view = name;
    f.angle_deg = angle;
    f.width = rq.width;
    f.height = rq.height;
    f.channels = p.blend == BlendMode::MaximumIntensity ? 1 : 3;
    const Vec3 r = b.right();
    f.edge_letters = {letters({-r[0], -r[1], -r[2]}), letters(r), letters(b.up),
                      letters({-b.up[0], -b.up[1], -b.up[2]})};
    for (int e = 0; e < 4; ++e) edge_text[e]->SetInput(rq.orientation_letters ? f.edge_letters[e].c_str() : "");
    f.identifiers_drawn = !rq.annotation.empty() && rq.annotation_has_identifiers;

    const bool cpu_mip = cpuMip(p);
    double t0 = now();
    if (cpu_mip) {
      if (maxima.empty()) maxima = mipMaxima(p, rq, b, scale);
      prop->VisibilityOff();  // the GL pass below draws only the annotations
    }
    const double t_gl = now();
    window->Render();
    prop->VisibilityOn();
    timings.add(cpu_mip ? "annotations" : first_render_done ? "render" : "first-render", now() - t_gl);
    if (!cpu_mip) first_render_done = true;
    f.render_seconds = now() - t0;

    t0 = now();
    window->GetPixelData(0, 0, rq.width - 1, rq.height - 1, 1, readback, 0);
    if (readback->GetNumberOfTuples() != vtkIdType(rq.width) * rq.height)
      throw Error(Errc::Render, "reading the rendered frame back failed");
    const uint8_t* src = readback->GetPointer(0);
    f.pixels.resize(size_t(rq.width) * rq.height * f.channels);
    for (int y = 0; y < rq.height; ++y) {  // GL rows are bottom-up
      const uint8_t* s = src + size_t(rq.height - 1 - y) * rq.width * 3;
      uint8_t* d = f.pixels.data() + size_t(y) * rq.width * f.channels;
      if (f.channels == 3)
        std::memcpy(d, s, size_t(rq.width) * 3);
      else
        for (int x = 0; x < rq.width; ++x) d[x] = std::max({s[3 * x], s[3 * x + 1], s[3 * x + 2]});
      if (cpu_mip) {  // window the projected maxima under the annotation layer
        const double lo = p.window_center - p.window_width / 2, k = 255.0 / p.window_width;
        const int16_t* m = maxima.data() + size_t(y) * rq.width;
        for (int x = 0; x < rq.width; ++x)
          if (m[x] != INT16_MIN) {
            const int gval = int(std::lround(std::clamp((m[x] - lo) * k, 0.0, 255.0)));
            d[x] = uint8_t(std::max<int>(d[x], gval));
          }
      }
    }
    timings.add("readback", now() - t0);
    return f;
  }
};

VolumeRenderer::VolumeRenderer() : VolumeRenderer(Options{}) {}

VolumeRenderer::VolumeRenderer(Options options) : impl_(std::make_unique<Impl>()) {
  const double t0 = now();
  impl_->options = options;
  impl_->display = options.display ? options.display : DisplayServer::shared();
  impl_->initWindow();
  impl_->timings.add("init", now() - t0);
}

VolumeRenderer::~VolumeRenderer() {
  if (impl_) {
    // Release GL resources while the display is still there.
    impl_->window->Finalize();
  }
}

void VolumeRenderer::setVolume(std::shared_ptr<const Volume> volume) {
  if (!volume) throw Error(Errc::InvalidArgument, "setVolume: null volume");
  for (int c = 0; c < 3; ++c)
    if (volume->dimensions[c] < 1 || !(volume->spacing[c] > 0))
      throw Error(Errc::InvalidArgument, "setVolume: empty grid or non-positive spacing");
  if (volume->voxels.size() != volume->voxelCount())
    throw Error(Errc::InvalidArgument, "setVolume: voxel count does not match the dimensions");
  impl_->volume = std::move(volume);
  impl_->image_valid = false;
  impl_->points.clear();
  impl_->points_threshold = NAN;
  impl_->reference = NAN;
  impl_->applied_preset.clear();
}

RenderedFrame VolumeRenderer::renderView(const RenderPreset& preset_in, View view, const RenderRequest& request) {
  RenderPreset preset;
  auto fr = impl_->prepare(preset_in, request, preset);
  const double scale = isSpinView(view) ? fr.spin_scale : fr.view_scale.at(view);
  return impl_->renderOne(preset, request, viewBasis(view), scale, viewName(view), spinAngleOf(view));
}

std::vector<RenderedFrame> VolumeRenderer::renderSpin(const RenderPreset& preset, const RenderRequest& request) {
  RenderRequest rq = request;
  rq.views.clear();
  return render(preset, rq);
}

std::vector<RenderedFrame> VolumeRenderer::render(const RenderPreset& preset_in, const RenderRequest& request) {
  RenderPreset preset;
  auto fr = impl_->prepare(preset_in, request, preset);
  const int n = std::max(0, request.spin_frames);
  const bool cpu_mip = impl_->cpuMip(preset);
  const int w = request.width, h = request.height;
  std::vector<RenderedFrame> spin;
  std::vector<std::vector<int16_t>> spin_maxima;  // CPU MIP: first half of an even spin, reused mirrored
  for (int i = 0; i < n; ++i) {
    const double a = 360.0 * i / n;
    std::vector<int16_t> maxima;
    if (cpu_mip) {
      if (n % 2 == 0 && i >= n / 2) {
        maxima = Impl::mirrored(spin_maxima[i - n / 2], w, h);
      } else {
        maxima = impl_->mipMaxima(preset, request, spinBasis(a), fr.spin_scale);
        if (n % 2 == 0) spin_maxima.push_back(maxima);
      }
    }
    spin.push_back(impl_->renderOne(preset, request, spinBasis(a), fr.spin_scale, fmt::format("spin-{:03d}", i), a,
                                    std::move(maxima)));
  }
  spin_maxima.clear();
  std::vector<RenderedFrame> out;
  std::map<View, std::vector<int16_t>> view_maxima;  // CPU MIP key views, for their opposite view
  auto opposite = [](View v) { return v == View::Superior ? View::Inferior : View::Superior; };
  for (View v : request.views) {
    if (isSpinView(v) && n > 0) {
      const double pos = spinAngleOf(v) * n / 360.0;
      const int idx = int(std::lround(pos));
      if (std::fabs(pos - idx) < 1e-9 && idx < n) {  // same camera as a spin frame
        RenderedFrame copy = spin[idx];
        copy.view = viewName(v);
        copy.render_seconds = 0;
        out.push_back(std::move(copy));
        continue;
      }
    }
    const double scale = isSpinView(v) ? fr.spin_scale : fr.view_scale.at(v);
    std::vector<int16_t> maxima;
    if (cpu_mip && !isSpinView(v)) {
      // Superior and inferior are framed alike, so each is the other mirrored.
      if (auto it = view_maxima.find(opposite(v)); it != view_maxima.end() && fr.view_scale.at(v) == fr.view_scale.at(opposite(v)))
        maxima = Impl::mirrored(it->second, w, h);
      else
        view_maxima[v] = maxima = impl_->mipMaxima(preset, request, viewBasis(v), scale);
    }
    out.push_back(impl_->renderOne(preset, request, viewBasis(v), scale, viewName(v), spinAngleOf(v),
                                   std::move(maxima)));
  }
  for (auto& f : spin) out.push_back(std::move(f));
  return out;
}

RenderBackend VolumeRenderer::activeBackend() const { return impl_->backend; }
std::string VolumeRenderer::openGlRenderer() const { return impl_->gl_renderer; }
const StageTimings& VolumeRenderer::timings() const { return impl_->timings; }
void VolumeRenderer::resetTimings() { impl_->timings = StageTimings{}; }

void writePng(const RenderedFrame& frame, const std::filesystem::path& file) {
  if (frame.pixels.size() != size_t(frame.width) * frame.height * frame.channels)
    throw Error(Errc::InvalidArgument, "writePng: frame size does not match its pixels");
  vtkNew<vtkImageData> img;
  img->SetDimensions(frame.width, frame.height, 1);
  img->AllocateScalars(VTK_UNSIGNED_CHAR, frame.channels);
  auto* dst = static_cast<uint8_t*>(img->GetScalarPointer());
  const size_t row = size_t(frame.width) * frame.channels;
  for (int y = 0; y < frame.height; ++y)  // VTK images are bottom-up
    std::memcpy(dst + size_t(frame.height - 1 - y) * row, frame.pixels.data() + size_t(y) * row, row);
  std::error_code ec;
  if (file.has_parent_path()) std::filesystem::create_directories(file.parent_path(), ec);
  vtkNew<vtkPNGWriter> writer;
  // zlib level 1: previews are written for every frame of a bundle; the
  // default level 5 costs about twice the time for files ~10 % smaller.
  writer->SetCompressionLevel(1);
  writer->SetInputData(img);
  writer->SetFileName(file.string().c_str());
  writer->Write();
  if (writer->GetErrorCode() != 0 || !std::filesystem::exists(file, ec))
    throw Error(Errc::Io, "cannot write PNG " + file.string());
}


void writePngs(const std::vector<RenderedFrame>& frames, const std::filesystem::path& dir, const std::string& prefix) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  std::atomic<size_t> next{0};
  std::mutex mutex;
  std::exception_ptr failure;
  auto work = [&] {
    for (size_t i = next++; i < frames.size(); i = next++) {
      try {
        writePng(frames[i], dir / (prefix + frames[i].view + ".png"));
      } catch (...) {
        std::lock_guard lock(mutex);
        if (!failure) failure = std::current_exception();
      }
    }
  };
  const size_t threads = std::clamp<size_t>(std::thread::hardware_concurrency(), 1, std::max<size_t>(1, frames.size()));
  std::vector<std::thread> pool;
  for (size_t t = 1; t < threads; ++t) pool.emplace_back(work);
  work();
  for (auto& th : pool) th.join();
  if (failure) std::rethrow_exception(failure);
}

}  // namespace volnode
