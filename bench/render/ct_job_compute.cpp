#include "ct_job_compute.hpp"

#include <chrono>
#include <ctime>
#include <future>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

#include "volnode/encode/encode.hpp"
#include "volnode/mesh/mesh.hpp"
#include "volnode/render/presets.hpp"
#include "volnode/rules/routing_rules.hpp"
#include "volnode/volume/preprocess.hpp"
#include "volnode/volume/volume_file.hpp"
#include "volnode/workflow/reformat_outputs.hpp"

namespace volnode::bench {
namespace {

double now() { return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count(); }

double threadCpuSeconds() {
  timespec t{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return double(t.tv_sec) + double(t.tv_nsec) * 1e-9;
}

RoutingRule defaultCtRule() {
  SeriesAttributes a;
  a.modality = "CT";
  a.series_description = "ABDOMEN 1.0 Br40";
  a.slice_count = 300;
  const auto rule = RuleSet::defaults().match(a);
  if (!rule || rule->name != "ct-bundle")
    throw std::runtime_error("the default rules no longer give an ordinary CT the ct-bundle rule");
  return *rule;
}

bool wantsKeyViews(const RoutingRule& rule, const std::string& preset) {
  for (const auto& o : rule.outputs)
    if (o.type == "key_views" && o.preset == preset) return true;
  return false;
}

}  // namespace

CtJobSeconds runCtJob(const Volume& input, const OutputIdentity& identity, bool with_reformats,
                      const std::filesystem::path& presets, const std::filesystem::path& out,
                      VolumeRenderer& renderer) {
  namespace fs = std::filesystem;
  const RoutingRule rule = defaultCtRule();
  fs::remove_all(out);
  fs::create_directories(out / "dicom");
  fs::create_directories(out / "png");
  fs::create_directories(out / "mesh");
  CtJobSeconds r;
  Volume volume = input;  // the job's own volume, as assembled
  const double t0 = now();

  std::shared_ptr<const Volume> acquired;  // reformats resample the volume as acquired
  std::map<std::string, int> slices;
  if (with_reformats)
    for (const auto& o : rule.outputs) {
      if (o.type != "reformat") continue;
      if (!acquired) acquired = std::make_shared<const Volume>(std::move(volume));
      slices[o.key()] = reformatSliceCount(*acquired, o);
    }
  auto prepared = std::make_shared<const Volume>(
      (acquired ? preprocessCopyOf(*acquired, rule.preprocess) : preprocess(std::move(volume), rule.preprocess)).volume);
  EquipmentInfo equipment;
  writeVolumeFile(*prepared, out / kPreparedVolumeFile);  // kept for the interactive viewer, as the job does

  std::future<MeshResult> mesh;
  for (const auto& o : rule.outputs)
    if (o.type == "mesh") {
      MeshOptions options;
      options.threshold = rule.mesh_threshold_hu;
      options.min_island_mm3 = rule.mesh_min_island_mm3;
      options.max_triangles = 300000;
      mesh = std::async(std::launch::async, [prepared, options] { return extractSurface(*prepared, options); });
    }
  std::future<void> reformats;
  if (with_reformats)
    reformats = std::async(std::launch::async, [&] {
      const double start = now(), cpu_start = threadCpuSeconds();
      int number = 9100;
      for (const auto& o : rule.outputs) {
        if (o.type != "reformat" || slices[o.key()] == 0) continue;
        const auto plans = planSeries("", number++, o.reformatDescription(), slices[o.key()]);
        r.reformat_slices += int(writeReformatSeries(*acquired, o, identity, plans, equipment, out / "dicom",
                                                        OutputsConfig{}.reformat_source_references)
                                        .size());
      }
      r.reformats = now() - start;
      r.reformat_cpu = threadCpuSeconds() - cpu_start;
    });

  renderer.setVolume(prepared);
  RenderRequest request;
  request.width = request.height = 512;
  request.annotation = "BENCH-ID 20260101";
  int number = 9001;
  for (const auto& o : rule.outputs) {
    if (o.type != "vr_spin" && o.type != "mip_spin") continue;  // key views come with their preset's spin
    const RenderPreset preset = loadPreset(presets, o.preset);
    RenderRequest rq = request;
    const bool key_views = wantsKeyViews(rule, o.preset);
    rq.views = key_views ? keyViews() : std::vector<View>{};
    rq.spin_frames = 36;
    auto frames = renderer.render(preset, rq);
    r.frames += int(frames.size());
    writePngs(frames, out / "png", o.preset + "-");
    FramesInfo info;
    info.kind = preset.blend == BlendMode::MaximumIntensity ? RenderKind::Mip : RenderKind::VolumeRendering;
    info.preset = o.preset;
    const std::vector<RenderedFrame> views(frames.begin(), frames.begin() + std::ptrdiff_t(rq.views.size()));
    const std::vector<RenderedFrame> spin(frames.begin() + std::ptrdiff_t(rq.views.size()), frames.end());
    encodeSpin(identity, planObject("", number++, o.preset + " spin"), spin, info, out / "dicom");
    if (key_views)
      encodeKeyViews(identity, {planObject("", number++, o.preset + " key views")}, views, info,
                     KeyViewsMode::Multiframe, out / "dicom");
  }
  if (mesh.valid()) {
    const auto surface = mesh.get();
    writeBinaryStl(surface.mesh, out / "mesh" / "model.stl");
    MeshInfo info;
    info.threshold = surface.threshold;
    info.triangles = surface.mesh.triangleCount();
    encodeStl(identity, planObject("", number++, "bone model"), out / "mesh" / "model.stl", info, out / "dicom");
  }
  if (reformats.valid()) {
    const double wait = now();
    reformats.get();
    r.reformat_wait = now() - wait;
  }
  r.job = now() - t0;
  return r;
}

}  // namespace volnode::bench
