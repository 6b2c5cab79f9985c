// The VTK scene of VolumeRenderer (see render.hpp): render window, volume
// mapper, transfer functions and annotation text. What it draws is computed
// without VTK elsewhere: view bases and letters (view_geometry), framing and
// reference intensity (volume_survey), the rendered grid (render_grid), the
// cut-away's cropping regions (cutaway) and the CPU MIP (mip_splat); PNG output
// is png_output.cpp.
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
#include <vtkMatrix4x4.h>
#include <vtkNew.h>
#include <vtkPiecewiseFunction.h>
#include <vtkPlane.h>
#include <vtkPointData.h>
#include <vtkRenderWindow.h>
#include <vtkRenderer.h>
#include <vtkShortArray.h>
#include <vtkSmartPointer.h>
#include <vtkTextActor.h>
#include <vtkTextProperty.h>
#include <vtkTextRenderer.h>
#include <vtkUnsignedCharArray.h>
#include <vtkVolume.h>
#include <vtkVolumeProperty.h>

#include <algorithm>
#include <limits>
#include <chrono>
#include <climits>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <fmt/format.h>
#include <map>
#include <thread>

#include "scene_cache.hpp"
#include "volnode/core/error.hpp"
#include "volnode/core/logging.hpp"
#include "volnode/render/cutaway.hpp"
#include "volnode/render/display.hpp"
#include "volnode/render/mip_splat.hpp"
#include "volnode/render/render_grid.hpp"
#include "volnode/render/text_fit.hpp"
#include "volnode/render/view_geometry.hpp"
#include "volnode/render/volume_survey.hpp"
#include "volnode/render/clip_region.hpp"

namespace volnode {

using render::isSpinView;
using render::spinAngleOf;
using render::spinBasis;
using render::Vec3;
using render::ViewBasis;
using render::viewBasis;

namespace {

double now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
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

// ----------------------------------------------------------------------------

struct VolumeRenderer::Impl {
  Options options;
  std::shared_ptr<DisplayServer> display;
  std::shared_ptr<const Volume> volume;
  StageTimings timings;
  RenderBackend backend = RenderBackend::Cpu;
  std::string gl_renderer;

  // Set by renderOrbit for its one frame only; the batch views leave them unset.
  std::optional<Vec3> focus;                       // the focal point when panned, else the object's centre
  double transfer_shift = 0;                       // added to the resolved preset's values
  std::optional<render::RenderGrid> clipped_grid;  // the CPU MIP's grid without the parts cut away

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
  vtkNew<vtkTextProperty> measured_text;  // scratch copy for measuring widths
  int corner_font = 10, margin = 3;       // the corner lines' font size and the frame margin, px
  std::string corner_layout;              // what the corner lines were last fitted for

  render::RenderGrid grid;   // what VTK's image data points into
  render::SceneCache cache;  // what `grid`, the hull and VTK's state were made from
  int width = 0, height = 0;

  double referenceIntensity() {
    if (!cache.reference_intensity) cache.reference_intensity = render::referenceIntensity(*volume);
    return *cache.reference_intensity;
  }

  // Hull of the voxels at or above `threshold`.
  const render::VisibleHull& visibleHull(double threshold) {
    if (!cache.hull || cache.hull->threshold != threshold) cache.hull = render::visibleHull(*volume, threshold);
    return *cache.hull;
  }
  const Vec3& centre() const { return cache.hull->centre; }

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
    corner_font = font;
    margin = m;
    corner_layout.clear();
  }

  int textWidth(vtkTextProperty* style, const std::string& text, int font_size) {
    measured_text->ShallowCopy(style);
    measured_text->SetFontSize(font_size);
    int box[4] = {0, 0, 0, 0};
    if (!vtkTextRenderer::GetInstance()->GetBoundingBox(measured_text, text, box, window->GetDPI()))
      return std::numeric_limits<int>::max();
    return box[1] - box[0] + 1;
  }

  // The annotation (top left) and the preset label (bottom left) fitted beside the
  // orientation letters at the top and bottom centre, so they never run into them.
  void layoutCornerText(const std::string& annotation, const std::string& label,
                        const std::array<std::string, 4>& letters) {
    const std::string key = annotation + '\n' + label + '\n' + letters[2] + '\n' + letters[3];
    if (key == corner_layout) return;
    corner_layout = key;
    auto fit = [&](vtkTextActor* line, const std::string& text, int edge) {
      const std::string& letter = letters[size_t(edge)];
      const int letter_px = letter.empty() ? 0 : textWidth(edge_text[edge]->GetTextProperty(), letter, corner_font + 2);
      const int available = render::widthBesideCentreLetter(width, margin, letter_px, std::max(3, corner_font / 2));
      const auto fitted = render::fitText(text, corner_font, std::max(8, corner_font * 3 / 4), available,
                                          [&](const std::string& t, int size) {
                                            return textWidth(line->GetTextProperty(), t, size);
                                          });
      line->GetTextProperty()->SetFontSize(fitted.font_size);
      line->SetInput(fitted.text.c_str());
    };
    fit(annotation_text, annotation, 2);
    fit(preset_text, label, 3);
  }

  // Parallel scale (half the frame height in mm) so the visible object fills
  // `fill` of the frame from every basis.
  double scaleFor(const std::vector<ViewBasis>& bases, double fill) const {
    return render::parallelScale(cache.hull->points, centre(), bases, double(width) / height, fill);
  }

  // Rebuilds the rendered grid when its plan changes. The grid covers only the
  // box that holds visible voxels (plus a margin for interpolation and
  // gradients): air and tissue below the preset's threshold cost neither
  // gradient precomputation nor ray steps.
  void prepareGrid(double pixel_mm, bool use_max) {
    const Volume& v = *volume;
    const render::GridPlan plan = render::planGrid(v, cache.hull->index_lo, cache.hull->index_hi, pixel_mm,
                                                   options.downsample_ratio, use_max);
    if (cache.uploaded_grid == plan) return;

    const double t0 = now();
    grid = render::buildGrid(v, plan);
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
    cache.gridUploaded(plan);
    timings.add("prepare-grid", now() - t0);
    const auto& f = plan.factors;
    moduleLogger("render")->debug("render grid {}x{}x{} (factors {},{},{}{}{}{})", grid.dims[0], grid.dims[1],
                                  grid.dims[2], f[0], f[1], f[2], plan.max_pooling ? ", max" : "",
                                  plan.flip_k ? ", flipped" : "",
                                  plan.cropped(v) ? ", cropped to the visible box" : "");
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

  // The preset's cut-away as VTK cropping regions of the rendered grid (see render::cutawayCrop).
  void applyCutaway(const RenderPreset& p) {
    if (!p.hasCutaway() || p.blend != BlendMode::Composite) {
      mapper->CroppingOff();
      return;
    }
    render::CutawayCrop crop = render::cutawayCrop(grid, centre(), p.cutaway);
    mapper->SetCroppingRegionPlanes(crop.planes.data());
    mapper->SetCroppingRegionFlags(crop.region_flags);
    mapper->CroppingOn();
  }

  // Frames the object for one preset: returns the parallel scale for spin-type
  // views and sets up the grid and transfer functions.
  struct Framing {
    double spin_scale = 1;
    std::map<View, double> view_scale;
  };
  Framing framing;  // the last one, valid while cache.framing_key matches

  Framing prepare(const RenderPreset& preset_in, const RenderRequest& rq, RenderPreset& p) {
    if (!volume) throw Error(Errc::InvalidArgument, "VolumeRenderer: no volume set");
    if (rq.width < 16 || rq.height < 16 || rq.width > 8192 || rq.height > 8192)
      throw Error(Errc::InvalidArgument, fmt::format("render size {}x{} is out of range", rq.width, rq.height));
    if (!(rq.fill > 0.1 && rq.fill <= 1.0)) throw Error(Errc::InvalidArgument, "render fill must be in (0.1, 1]");
    setSize(rq.width, rq.height);
    double t0 = now();
    p = preset_in.relative_units ? preset_in.resolved(referenceIntensity()) : preset_in;
    visibleHull(p.lowestVisibleValue());
    // Shifted after the hull: moving the transfer function never moves the framing.
    if (transfer_shift != 0) p = shiftedPreset(p, transfer_shift);
    // One scale for the spin and the four lateral-type key views (so spin frame
    // 0 equals the anterior view); superior/inferior are framed on their own.
    // Kept while its inputs stay: the viewer asks for one frame at a time of the
    // same scene, and 42 projections of the hull would cost each one ~10 ms.
    const int n = std::max(rq.spin_frames, 0);
    const std::string framing_key = fmt::format("{}|{}|{}|{}x{}", cache.hull->threshold, n, rq.fill, width, height);
    if (cache.framing_key != framing_key) {
      std::vector<ViewBasis> spin_bases;
      for (int i = 0; i < n; ++i) spin_bases.push_back(spinBasis(360.0 * i / n));
      for (double a : {0.0, 90.0, 180.0, 270.0}) spin_bases.push_back(spinBasis(a));
      framing = Framing{};
      framing.spin_scale = scaleFor(spin_bases, rq.fill);
      for (View v : {View::Superior, View::Inferior}) framing.view_scale[v] = scaleFor({viewBasis(v)}, rq.fill);
      cache.framing_key = framing_key;
    }
    const Framing fr = framing;
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
    const std::string key = p.name + (preset_in.relative_units ? "@" + std::to_string(referenceIntensity()) : "") +
                            (transfer_shift != 0 ? fmt::format("+{}", transfer_shift) : "");
    if (cache.transfer_key != key) {
      applyPreset(p);
      cache.transfer_key = key;
    }
    return fr;
  }

  static RenderPreset shiftedPreset(RenderPreset p, double shift) {
    for (auto& point : p.scalar_opacity) point.value += shift;
    for (auto& point : p.color) point.value += shift;
    p.window_center += shift;
    return p;
  }

  // The viewer's cuts as the mapper's clipping planes (world = patient LPS mm); VTK
  // keeps the side each plane's normal points to.
  void applyClipPlanes(const render::ClipRegion& region) {
    mapper->RemoveAllClippingPlanes();
    auto add = [&](const Vec3& origin, const Vec3& normal) {
      vtkNew<vtkPlane> plane;
      plane->SetOrigin(origin[0], origin[1], origin[2]);
      plane->SetNormal(normal[0], normal[1], normal[2]);
      mapper->AddClippingPlane(plane);
    };
    if (region.box)
      for (int c = 0; c < 3; ++c) {
        Vec3 low{}, high{}, inward{};
        low[c] = (*region.box)[2 * c];
        high[c] = (*region.box)[2 * c + 1];
        inward[c] = 1;
        add(low, inward);
        inward[c] = -1;
        add(high, inward);
      }
    if (region.plane) {
      const auto& q = *region.plane;
      add({q[0], q[1], q[2]}, {q[3], q[4], q[5]});
    }
  }

  bool cpuMip(const RenderPreset& p) const {
    return p.blend == BlendMode::MaximumIntensity && backend == RenderBackend::Cpu;
  }

  // Projected maxima of a CPU MIP view (see render::splatMip).
  std::vector<int16_t> mipMaxima(const RenderPreset& p, const RenderRequest& rq, const ViewBasis& b, double scale) {
    const double t0 = now();
    const double lo = p.window_center - p.window_width / 2;
    auto maxima = render::splatMip(clipped_grid ? *clipped_grid : grid, b, focus.value_or(centre()), scale, rq.width, rq.height,
                                   int16_t(std::clamp(std::ceil(lo), -32768.0, 32767.0)), threadCount());
    timings.add("render-mip", now() - t0);
    return maxima;
  }

  // Renders one view. For a CPU MIP, `maxima` (when given) holds the view's
  // projected maxima already computed; the GL pass then draws only annotations.
  RenderedFrame renderOne(const RenderPreset& p, const RenderRequest& rq, const ViewBasis& b, double scale,
                          const std::string& name, double angle, std::vector<int16_t> maxima = {}) {
    vtkCamera* cam = renderer->GetActiveCamera();
    const double dist = 2000;  // mm; parallel projection, only the clipping range matters
    const Vec3 c = focus.value_or(centre());
    cam->SetFocalPoint(c.data());
    cam->SetPosition(c[0] - b.dop[0] * dist, c[1] - b.dop[1] * dist, c[2] - b.dop[2] * dist);
    cam->SetViewUp(b.up.data());
    cam->SetParallelScale(scale);
    renderer->ResetCameraClippingRange();

    RenderedFrame f;
    f.view = name;
    f.angle_deg = angle;
    f.width = rq.width;
    f.height = rq.height;
    f.channels = p.blend == BlendMode::MaximumIntensity ? 1 : 3;
    f.edge_letters = render::edgeLetters(b);
    std::array<std::string, 4> letters;
    for (int e = 0; e < 4; ++e) {
      if (rq.orientation_letters) letters[size_t(e)] = f.edge_letters[e];
      edge_text[e]->SetInput(letters[size_t(e)].c_str());
    }
    layoutCornerText(rq.annotation, rq.preset_label ? p.name : std::string(), letters);
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
    timings.add(cpu_mip ? "annotations" : cache.rendered_since_upload ? "render" : "first-render", now() - t_gl);
    if (!cpu_mip) cache.rendered_since_upload = true;
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
  impl_->cache = render::SceneCache{};
}

RenderedFrame VolumeRenderer::renderOrbit(const RenderPreset& preset_in, const OrbitView& view,
                                          const RenderRequest& request) {
  for (double value : {view.azimuth_deg, view.elevation_deg, view.zoom, view.pan_x, view.pan_y, view.shift})
    if (!std::isfinite(value)) throw Error(Errc::InvalidArgument, "renderOrbit: a camera value is not finite");
  if (!(view.zoom > 0) || std::fabs(view.elevation_deg) > 90)
    throw Error(Errc::InvalidArgument, "renderOrbit: zoom must be positive and elevation within -90 .. 90");
  Impl& d = *impl_;
  // Whatever happens, the next frame (batch or viewer) starts without this one's camera and cuts.
  struct Restore {
    Impl& d;
    ~Restore() {
      d.transfer_shift = 0;
      d.focus.reset();
      d.clipped_grid.reset();
      d.mapper->RemoveAllClippingPlanes();
    }
  } restore{d};
  d.transfer_shift = view.shift;
  RenderPreset preset;
  const auto framing = d.prepare(preset_in, request, preset);
  const ViewBasis basis = render::orbitBasis(view.azimuth_deg, view.elevation_deg);
  const double scale = framing.spin_scale / view.zoom;  // zoom 1: the spin's framing
  if (view.pan_x != 0 || view.pan_y != 0) {
    // The picture moves right and down: the camera moves left and up (frame heights of 2 * scale mm).
    const Vec3 right = basis.right();
    Vec3 f = d.centre();
    for (int r = 0; r < 3; ++r) f[r] += 2 * scale * (-view.pan_x * right[r] + view.pan_y * basis.up[r]);
    d.focus = f;
  }
  const render::ClipRegion region{view.clip_box, view.clip_plane};
  if (!region.cutsNothing()) {
    if (d.cpuMip(preset)) d.clipped_grid = render::clippedCopy(d.grid, region);
    else d.applyClipPlanes(region);
  }
  return d.renderOne(preset, request, basis, scale,
                     fmt::format("orbit-{:.1f}-{:.1f}", view.azimuth_deg, view.elevation_deg), view.azimuth_deg);
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
        maxima = render::mirrorRows(spin_maxima[i - n / 2], w, h);
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
        maxima = render::mirrorRows(it->second, w, h);
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
}  // namespace volnode
