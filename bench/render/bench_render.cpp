// Render benchmark: the default CT bundle (VR bone spin + MIP spin, 36 frames
// each, + 6 key views each, PNG files) through volnode_render, side by side with
// a plain VTK pipeline written the way a script author would (default mapper
// settings, ResetCamera, Azimuth(10) per frame, vtkWindowToImageFilter + PNG).
//
//   bench_render [--out DIR] [--frames N] [--size N] [--plain-frames N]
//                [--smart-frames N] [--series DIR] [--no-phantom] [--repeat N]
//                [--cta | --reformat-cost [--identity DIR]]
// --series: a DICOM series folder (assembled with volnode_volume), e.g.
//   ../shared/data/ct-head-phantom-study/S2020
// --cta: instead, the compute of a CT angiography render job (default rule
//   "ct-angiography"): preprocess, bone removal, its spins and key views (with and
//   without bone), the resampling of its reformats; bone removal's share of it per
//   round, rounds alternating nothing else. Encoding and sending are left out, so the
//   share is an upper bound of its share of the whole job.
// --reformat-cost: instead, the compute of the default CT render job (rule "ct-bundle":
//   spins, key views, model, coronal and sagittal reformats; ct_job_compute.hpp) with and
//   without its reformats, alternating in each round, and the time the reformats add.
//   The objects are written with the identity of --identity DIR (default
//   ../shared/data/ct-head-phantom-study/S2020 beside the repository).
#include <sys/resource.h>

#include <vtkCamera.h>
#include <vtkColorTransferFunction.h>
#include <vtkFixedPointVolumeRayCastMapper.h>
#include <vtkImageData.h>
#include <vtkNew.h>
#include <vtkPNGWriter.h>
#include <vtkPiecewiseFunction.h>
#include <vtkPointData.h>
#include <vtkRenderWindow.h>
#include <vtkRenderer.h>
#include <vtkShortArray.h>
#include <vtkSmartVolumeMapper.h>
#include <vtkVolume.h>
#include <vtkVolumeProperty.h>
#include <vtkWindowToImageFilter.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <future>
#include <tuple>
#include <fmt/format.h>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include <spdlog/spdlog.h>

#include "volnode/rules/routing_rules.hpp"
#include "volnode/volume/assembly.hpp"
#include "volnode/volume/bone_removal.hpp"
#include "volnode/volume/preprocess.hpp"
#include "volnode/volume/reformat.hpp"
#include "volnode/render/display.hpp"
#include "volnode/render/presets.hpp"
#include "volnode/render/render.hpp"
#include "../common/ct_body_phantom.hpp"
#include "ct_job_compute.hpp"
#include "volnode/encode/output_identity.hpp"

using namespace volnode;
namespace fs = std::filesystem;

namespace {

double now() { return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count(); }

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v.size() % 2 ? v[v.size() / 2] : 0.5 * (v[v.size() / 2 - 1] + v[v.size() / 2]);
}

// CPU seconds (user + system) of this process so far.
double cpuSeconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return double(u.ru_utime.tv_sec + u.ru_stime.tv_sec) + 1e-6 * double(u.ru_utime.tv_usec + u.ru_stime.tv_usec);
}

double peakRssMiB() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return u.ru_maxrss / 1024.0;
}

// The body phantom (bench/common/ct_body_phantom.hpp) sampled on 512x512x300,
// 0.7 x 0.7 x 1.0 mm, axial head-first supine.
std::shared_ptr<Volume> ctPhantom() {
  auto v = std::make_shared<Volume>();
  v->dimensions = {512, 512, 300};
  v->spacing = {0.7, 0.7, 1.0};
  v->origin = {-179.2, -179.2, -150};
  v->modality = "CT";
  v->series_instance_uid = "2.25.1000000000000000000000000001";
  v->voxels.resize(v->voxelCount());
  size_t n = 0;
  for (int k = 0; k < 300; ++k)
    for (int j = 0; j < 512; ++j)
      for (int i = 0; i < 512; ++i, ++n)
        v->voxels[n] = int16_t(bench::ctBodyPhantomHu(-179.2 + i * 0.7, -179.2 + j * 0.7, -150 + k * 1.0));
  return v;
}

// The plain pipeline a script author would write. Returns seconds for `frames` frames.
double plainSpin(const Volume& vol, const RenderPreset& bone, bool smart, int frames, int size, const fs::path& out) {
  fs::create_directories(out);
  const double t0 = now();
  vtkNew<vtkImageData> image;
  image->SetDimensions(vol.dimensions.data());
  image->SetSpacing(vol.spacing.data());
  image->SetOrigin(vol.origin.data());
  vtkNew<vtkShortArray> a;
  a->SetArray(const_cast<int16_t*>(vol.voxels.data()), vtkIdType(vol.voxelCount()), 1);
  image->GetPointData()->SetScalars(a);

  vtkNew<vtkColorTransferFunction> color;
  for (auto& c : bone.color) color->AddRGBPoint(c.value, c.r, c.g, c.b);
  vtkNew<vtkPiecewiseFunction> opacity;
  for (auto& o : bone.scalar_opacity) opacity->AddPoint(o.value, o.y);
  vtkNew<vtkVolumeProperty> property;
  property->SetColor(color);
  property->SetScalarOpacity(opacity);
  property->ShadeOn();
  property->SetInterpolationTypeToLinear();

  vtkSmartPointer<vtkVolumeMapper> mapper;
  if (smart)
    mapper = vtkSmartPointer<vtkSmartVolumeMapper>::New();
  else
    mapper = vtkSmartPointer<vtkFixedPointVolumeRayCastMapper>::New();
  mapper->SetInputData(image);
  vtkNew<vtkVolume> volume;
  volume->SetMapper(mapper);
  volume->SetProperty(property);

  vtkNew<vtkRenderer> renderer;
  renderer->AddVolume(volume);
  renderer->SetBackground(0, 0, 0);
  vtkNew<vtkRenderWindow> window;
  window->SetOffScreenRendering(1);
  window->AddRenderer(renderer);
  window->SetSize(size, size);
  renderer->ResetCamera();
  renderer->GetActiveCamera()->Elevation(-90);  // look from the front (LPS: -y)
  renderer->GetActiveCamera()->SetViewUp(0, 0, 1);
  renderer->ResetCamera();

  vtkNew<vtkWindowToImageFilter> grab;
  grab->SetInput(window);
  vtkNew<vtkPNGWriter> writer;
  writer->SetInputConnection(grab->GetOutputPort());
  for (int f = 0; f < frames; ++f) {
    window->Render();
    grab->Modified();
    writer->SetFileName((out / fmt::format("spin-{:03d}.png", f)).string().c_str());
    writer->Write();
    renderer->GetActiveCamera()->Azimuth(360.0 / frames);
  }
  return now() - t0;
}

struct BundleResult {
  double seconds = 0;
  int frames = 0;
  StageTimings timings;
  double png_seconds = 0;
};

BundleResult volnodeBundle(const std::shared_ptr<const Volume>& vol, const fs::path& presets, int spin, int size,
                           const fs::path& out, VolumeRenderer& renderer) {
  BundleResult r;
  const double t0 = now();
  renderer.resetTimings();
  renderer.setVolume(vol);
  RenderRequest rq;
  rq.width = rq.height = size;
  rq.spin_frames = spin;
  rq.annotation = "BENCH-ID 20260101";
  for (const char* name : {"ct-bone", "ct-mip"}) {
    auto preset = loadPreset(presets, name);
    const double tr = now();
    auto frames = renderer.render(preset, rq);
    std::printf("  %s: %zu frames rendered in %.2f s\n", name, frames.size(), now() - tr);
    const double tp = now();
    writePngs(frames, out, std::string(name) + "-");
    r.png_seconds += now() - tp;
    r.frames += int(frames.size());
  }
  r.seconds = now() - t0;
  r.timings = renderer.timings();
  return r;
}

void report(const std::string& label, const Volume& vol, const BundleResult& ours, double plain_fp, int plain_frames,
            double smart, int smart_frames, int spin) {
  const double vol_mib = vol.voxelCount() * 2.0 / (1 << 20);
  std::printf("\n== %s: %dx%dx%d, %.2f x %.2f x %.2f mm (%.0f MiB int16)\n", label.c_str(), vol.dimensions[0],
              vol.dimensions[1], vol.dimensions[2], vol.spacing[0], vol.spacing[1], vol.spacing[2], vol_mib);
  std::printf("volnode bundle (%d frames: 2 x %d spin + 2 x 6 key views, PNG): %.2f s (%.3f s/frame incl. PNG)\n",
              ours.frames, spin, ours.seconds, ours.seconds / ours.frames);
  std::printf("  stages: %s, png %.3f s\n", ours.timings.summary().c_str(), ours.png_seconds);
  if (plain_frames > 0) {
    const double per = plain_fp / plain_frames;
    std::printf("plain vtkFixedPointVolumeRayCastMapper spin (%d frames, PNG): %.2f s (%.3f s/frame); "
                "extrapolated to 36 frames: %.2f s\n",
                plain_frames, plain_fp, per, per * 36);
    std::printf("ratio volnode bundle / plain fixed-point 36-frame spin: %.2f (goal <= 0.5)\n",
                ours.seconds / (per * 36));
  }
  if (smart_frames > 0)
    std::printf("plain vtkSmartVolumeMapper spin (%d frames, PNG): %.2f s (%.3f s/frame)\n", smart_frames, smart,
                smart / smart_frames);
}

// One CT angiography job's compute, as the render job runs it: bone removal on its
// own thread while the outputs with bone render. Before it, the bone removal of the
// same prepared volume alone. Returns {job seconds, bone removal alone, bone removal in the job}.
std::tuple<double, double, double> ctaJob(const Volume& acquired, const fs::path& presets, int spin, int size,
                                 const fs::path& out, VolumeRenderer& renderer) {
  const RoutingRule rule = *RuleSet::defaults().match([] {
    SeriesAttributes a;
    a.modality = "CT";
    a.series_description = "CTA Aorta";
    a.slice_count = 300;
    return a;
  }());
  // Alone first (nothing else running in this process): what the bone removal costs.
  const Volume alone_input = preprocess(Volume(acquired), rule.preprocess).volume;
  const double ta = now();
  const auto alone = removeBone(alone_input, BoneRemovalParams::forRegion(BodyRegion::ChestAorta));
  const double alone_seconds = now() - ta;
  std::printf("  bone removal alone %.2f s on %dx%dx%d (%s)\n", alone_seconds, alone_input.dimensions[0],
              alone_input.dimensions[1], alone_input.dimensions[2], alone.timings.summary().c_str());

  const double t0 = now();
  auto prepared = std::make_shared<const Volume>(preprocess(Volume(acquired), rule.preprocess).volume);
  const double t_pre = now() - t0;
  double bone_seconds = 0;
  std::string bone_summary;
  auto bone_removed = std::async(std::launch::async, [&] {
    const double tb = now();
    auto removal = removeBone(*prepared, BoneRemovalParams::forRegion(BodyRegion::ChestAorta));
    bone_seconds = now() - tb;
    bone_summary = removal.summary() + "; " + removal.timings.summary();
    return std::shared_ptr<const Volume>(std::make_shared<Volume>(std::move(removal.volume)));
  }).share();
  renderer.setVolume(prepared);
  bool on_bone_removed = false;
  RenderRequest rq;
  rq.width = rq.height = size;
  rq.annotation = "BENCH-ID 20260101";
  int frames = 0;
  for (const auto& o : rule.outputs) {
    if (o.type != "vr_spin" && o.type != "mip_spin") continue;  // key views come with their preset's spin
    auto preset = loadPreset(presets, o.preset);
    if (preset.bone_removed != on_bone_removed) {
      renderer.setVolume(preset.bone_removed ? bone_removed.get() : prepared);
      on_bone_removed = preset.bone_removed;
    }
    bool key_views = false;
    for (const auto& k : rule.outputs) key_views = key_views || (k.type == "key_views" && k.preset == o.preset);
    rq.spin_frames = spin;
    rq.views = key_views ? keyViews() : std::vector<View>{};
    auto rendered = renderer.render(preset, rq);
    writePngs(rendered, out, o.preset + "-");
    frames += int(rendered.size());
  }
  const double t_render = now() - t0 - t_pre;
  const double tr = now();
  int slices = 0;
  for (const auto& o : rule.outputs) {
    if (o.type != "reformat") continue;
    ReformatSpec spec;
    spec.plane = parseReformatPlane(o.reformat.plane);
    spec.mode = parseSlabMode(o.reformat.mode);
    spec.thickness_mm = o.reformat.thickness_mm;
    spec.spacing_mm = o.reformat.spacing_mm;
    slices += int(reformatVolume(o.reformat.bone_removed ? *bone_removed.get() : acquired, spec, -1024).size());
  }
  const double t_reformat = now() - tr;
  bone_removed.wait();
  const double job = now() - t0;
  std::printf("  CTA job %.2f s: preprocess %.2f s, renders %.2f s (%d frames, PNG), reformats %.2f s (%d slices); "
              "bone removal %.2f s (%s)\n",
              job, t_pre, t_render, frames, t_reformat, slices, bone_seconds, bone_summary.c_str());
  return {job, alone_seconds, bone_seconds};
}

}  // namespace

int main(int argc, char** argv) {
  fs::path out = fs::temp_directory_path() / "volnode-bench-render";
  fs::path series;
  int spin = 36, size = 512, plain_frames = 36, smart_frames = 36, repeat = 1;
  bool phantom = true, cta = false, reformat_cost = false;
  fs::path identity_series = fs::path(VOLNODE_SOURCE_DIR) / ".." / "shared" / "data" / "ct-head-phantom-study" / "S2020";
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() -> std::string { return i + 1 < argc ? argv[++i] : ""; };
    if (a == "--out") out = next();
    else if (a == "--frames") spin = std::stoi(next());
    else if (a == "--size") size = std::stoi(next());
    else if (a == "--plain-frames") plain_frames = std::stoi(next());
    else if (a == "--smart-frames") smart_frames = std::stoi(next());
    else if (a == "--series") series = next();
    else if (a == "--no-phantom") phantom = false;
    else if (a == "--repeat") repeat = std::max(1, std::stoi(next()));
    else if (a == "--cta") cta = true;
    else if (a == "--reformat-cost") reformat_cost = true;
    else if (a == "--identity") identity_series = next();
    else {
      std::fprintf(stderr, "usage: bench_render [--out DIR] [--frames N] [--size N] [--plain-frames N] "
                           "[--smart-frames N] [--series DIR] [--no-phantom] [--repeat N] [--cta] "
                           "[--reformat-cost [--identity DIR]]\n");
      return 2;
    }
  }
  spdlog::set_level(spdlog::level::debug);
  auto display = DisplayServer::shared();
  const fs::path presets = fs::path(VOLNODE_SOURCE_DIR) / "presets";
  const auto bone = loadPreset(presets, "ct-bone");
  VolumeRenderer::Options opts;
  opts.backend = RenderBackend::Cpu;
  opts.display = display;
  VolumeRenderer renderer(opts);
  std::printf("display %s (%s), OpenGL renderer: %s, output %s\n", display->display().c_str(),
              display->ownsServer() ? "private Xvfb" : "existing", renderer.openGlRenderer().c_str(), out.c_str());

  auto run = [&](const std::string& label, std::shared_ptr<const Volume> vol) {
    const fs::path dir = out / label;
    fs::remove_all(dir);
    if (reformat_cost) {
      // Every image file of the series, as the job has them: each slice references them all.
      std::vector<fs::path> files;
      for (const auto& e : fs::directory_iterator(identity_series))
        if (e.is_regular_file()) files.push_back(e.path());
      const SeriesAssembly assembly = scanSeries(files);
      if (assembly.renderable().empty()) throw std::runtime_error(identity_series.string() + ": no image series");
      const OutputIdentity identity = readOutputIdentity(assembly.renderable().front()->files);
      Volume acquired = *vol;
      if (acquired.frame_of_reference_uid.empty()) acquired.frame_of_reference_uid = identity.frameOfReferenceUid();
      std::vector<double> without_s, with_s, added, cpu_added, own_cpu;
      for (int round = 0; round < repeat; ++round) {
        // Alternate which runs first so a change in machine load touches both alike.
        bench::CtJobSeconds without, with;
        double cpu_without = 0, cpu_with = 0;
        for (int k = 0; k < 2; ++k) {
          const bool reformats = (k == 0) == (round % 2 == 1);
          const double cpu0 = cpuSeconds();
          (reformats ? with : without) =
              bench::runCtJob(acquired, identity, reformats, presets, dir / (reformats ? "with" : "without"), renderer);
          (reformats ? cpu_with : cpu_without) = cpuSeconds() - cpu0;
        }
        without_s.push_back(without.job);
        with_s.push_back(with.job);
        added.push_back(with.job / without.job - 1);
        cpu_added.push_back(cpu_with / cpu_without - 1);
        own_cpu.push_back(with.reformat_cpu / cpu_without);
        std::printf("[%s] round %d: CT job without reformats %.2f s, with %.2f s (+%.1f %%; goal <= 20 %%); CPU "
                    "%.2f s -> %.2f s (+%.1f %%); reformats %d slices in %.2f s on their own thread (its CPU %.2f s "
                    "= %.1f %% of the job's without), waited for %.2f s after the renders\n",
                    label.c_str(), round + 1, without.job, with.job, 100 * added.back(), cpu_without, cpu_with,
                    100 * cpu_added.back(), with.reformat_slices, with.reformats, with.reformat_cpu,
                    100 * own_cpu.back(), with.reformat_wait);
        std::fflush(stdout);
      }
      std::printf("[%s] %d rounds: CT job median %.2f s without reformats, %.2f s with; median added %.1f %% "
                  "(min %.1f, max %.1f; goal <= 20 %%); CPU time median added %.1f %%; the reformat thread's own "
                  "CPU median %.1f %% of the job's\n",
                  label.c_str(), repeat, median(without_s), median(with_s), 100 * median(added),
                  100 * *std::min_element(added.begin(), added.end()),
                  100 * *std::max_element(added.begin(), added.end()), 100 * median(cpu_added), 100 * median(own_cpu));
      return;
    }
    if (cta) {
      std::vector<double> shares, jobs, bones;
      for (int round = 0; round < repeat; ++round) {
        const auto [job, bone, in_job] = ctaJob(*vol, presets, spin, size, dir / "cta", renderer);
        jobs.push_back(job);
        bones.push_back(bone);
        shares.push_back(bone / job);
        std::printf("[%s] round %d: CTA job %.2f s, bone removal alone %.2f s = %.1f %% of the job (goal <= 25 %%); "
                    "in the job, beside the renders: %.2f s wall\n",
                    label.c_str(), round + 1, job, bone, 100 * shares.back(), in_job);
        std::fflush(stdout);
      }
      std::printf("[%s] %d rounds: CTA job median %.2f s, bone removal alone median %.2f s, median share %.1f %% "
                  "(min %.1f, max %.1f; goal <= 25 %%)\n",
                  label.c_str(), repeat, median(jobs), median(bones), 100 * median(shares),
                  100 * *std::min_element(shares.begin(), shares.end()),
                  100 * *std::max_element(shares.begin(), shares.end()));
      return;
    }
    // Alternate the two pipelines so a change in machine load touches both alike;
    // the medians and the median of the per-round ratios are the figures to read.
    std::vector<double> ours_s, plain_s, ratios;
    BundleResult ours;
    double sm = 0;
    for (int round = 0; round < repeat; ++round) {
      const double rss0 = peakRssMiB();
      ours = volnodeBundle(vol, presets, spin, size, dir / "volnode", renderer);
      const double rss1 = peakRssMiB();
      std::printf("[%s] round %d: peak RSS %.0f MiB before, %.0f MiB after the volnode bundle (volume %.0f MiB)\n",
                  label.c_str(), round + 1, rss0, rss1, vol->voxelCount() * 2.0 / (1 << 20));
      double fp = plain_frames > 0 ? plainSpin(*vol, bone, false, plain_frames, size, dir / "plain-fixedpoint") : 0;
      if (round == 0 && smart_frames > 0) sm = plainSpin(*vol, bone, true, smart_frames, size, dir / "plain-smart");
      report(label, *vol, ours, fp, plain_frames, sm, round == 0 ? smart_frames : 0, spin);
      ours_s.push_back(ours.seconds);
      if (plain_frames > 0) {
        plain_s.push_back(fp / plain_frames * 36);
        ratios.push_back(ours.seconds / plain_s.back());
      }
      std::fflush(stdout);
    }
    if (repeat > 1 && !ratios.empty())
      std::printf("[%s] %d rounds: volnode bundle median %.2f s, plain fixed-point 36-frame spin median %.2f s, "
                  "median ratio %.2f (min %.2f, max %.2f)\n",
                  label.c_str(), repeat, median(ours_s), median(plain_s), median(ratios),
                  *std::min_element(ratios.begin(), ratios.end()), *std::max_element(ratios.begin(), ratios.end()));
    std::fflush(stdout);
  };

  if (phantom) {
    const double t0 = now();
    auto v = ctPhantom();
    std::printf("generated phantom in %.2f s\n", now() - t0);
    run("phantom-512x512x300", v);
  }
  if (!series.empty()) {
    std::vector<fs::path> files;
    for (auto& e : fs::directory_iterator(series))
      if (e.is_regular_file()) files.push_back(e.path());
    const double t0 = now();
    auto v = std::make_shared<Volume>(assembleVolume(files));
    std::printf("assembled %s in %.2f s\n", series.c_str(), now() - t0);
    run(series.filename().string(), v);
  }
  return 0;
}
