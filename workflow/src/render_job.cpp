#include "volnode/workflow/render_job.hpp"

#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <future>
#include <iterator>
#include <map>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "volnode/core/error.hpp"
#include "volnode/core/ids.hpp"
#include "volnode/core/logging.hpp"
#include "volnode/encode/encode.hpp"
#include "volnode/encode/output_identity.hpp"
#include "volnode/mesh/mesh.hpp"
#include "volnode/render/presets.hpp"
#include "volnode/volume/assembly.hpp"
#include "volnode/volume/preprocess.hpp"
#include "volnode/volume/volume_file.hpp"
#include "volnode/workflow/bone_removed_volume.hpp"
#include "volnode/workflow/reformat_outputs.hpp"
#include "volnode/workflow/render_annotation.hpp"

namespace volnode {
namespace {

// A worker runs under a memory limit (RLIMIT_DATA, render.max_memory_mb). The volume
// gets a quarter of it, since its preprocessed copy and the renderer's grid come beside
// it: a larger series is averaged down while it is decoded instead of failing for lack
// of memory after a full-resolution copy.
AssemblyOptions assemblyWithinMemoryLimit() {
  AssemblyOptions options;
  rlimit limit{};
  if (getrlimit(RLIMIT_DATA, &limit) == 0 && limit.rlim_cur != RLIM_INFINITY)
    options.max_volume_bytes = uint64_t(limit.rlim_cur) / 4;
  return options;
}

using Clock = std::chrono::steady_clock;


const RoutingRule& ruleNamed(const RuleSet& rules, const std::string& name) {
  for (const auto& rule : rules.rules())
    if (rule.name == name) return rule;
  throw Error(Errc::InvalidConfig, "render job names routing rule '" + name + "', which is not loaded");
}

RenderKind kindOf(const RenderPreset& preset) {
  return preset.blend == BlendMode::MaximumIntensity ? RenderKind::Mip : RenderKind::VolumeRendering;
}

// "{PatientID} {StudyDate}" with the study's values; identifiers are whatever
// the template names besides modality/description.
bool wantsKeyViews(const RoutingRule& rule, const std::string& preset) {
  for (const auto& out : rule.outputs)
    if (out.type == "key_views" && out.preset == preset) return true;
  return false;
}

bool isHead(const std::string& body_part, const std::string& preset) {
  std::string part = body_part;
  for (auto& c : part) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return part == "HEAD" || part == "BRAIN" || part == "SKULL" || preset.rfind("mr-head", 0) == 0;
}

}  // namespace

struct RenderJobRunner::Impl {
  RenderJobSettings settings;
  Index& index;
  JobQueue& jobs;
  const RuleSet& rules;
  std::unique_ptr<VolumeRenderer> renderer;  // created on the worker thread that runs jobs

  // The job's outputs, planned once: the same UIDs on every attempt.
  // reformat_slices: slices of each reformat output (by output key) for this job's volume.
  std::vector<JobOutput> plan(const Job& job, const RoutingRule& rule, const std::string& prefix,
                              const std::map<std::string, int>& reformat_slices) {
    auto planned = jobs.outputs(job.id);
    if (!planned.empty()) return planned;
    int series_number = settings.outputs.series_number_base + jobs.countOutputSeriesInStudy(job.study_uid);
    std::string created = planObject(settings.outputs.uid_root, 1, "").created;  // now, as the encoder writes it
    auto description = [&](const std::string& what) {
      std::string text = prefix + what;
      return text.size() > 64 ? text.substr(0, 64) : text;
    };
    std::vector<JobOutput> outputs;
    auto add = [&](const std::string& key, const std::string& kind, const std::string& preset,
                   const std::string& series_uid, const std::string& what) {
      JobOutput o;
      o.job_id = job.id;
      o.output_key = key;
      o.kind = kind;
      o.preset = preset;
      o.series_uid = series_uid;
      o.sop_uid = newDicomUid(settings.outputs.uid_root);
      o.series_number = series_number;
      o.description = description(what);
      o.created = created;
      outputs.push_back(o);
    };
    for (const auto& out : rule.outputs) {
      std::string series_uid = newDicomUid(settings.outputs.uid_root);
      if (out.type == "reformat") {
        const auto count = reformat_slices.find(out.key());
        if (count == reformat_slices.end() || count->second == 0) continue;
        for (int i = 1; i <= count->second; ++i)
          add(reformatSliceKey(out, i), "reformat", "", series_uid, out.reformatDescription());
        ++series_number;
        continue;
      }
      RenderPreset preset = out.preset.empty() ? RenderPreset{} : loadPreset(settings.presets_dir, out.preset);
      RenderKind kind = out.type == "mesh" ? RenderKind::Surface : kindOf(preset);
      if (out.type == "key_views" && settings.outputs.key_views == "single") {
        for (View view : keyViews())
          add(out.type + ":" + out.preset + ":" + viewName(view), "key_view", out.preset, series_uid,
              describeOutput(preset.bone_removed ? "bone removed key views" : "key views", out.preset, kind));
      } else {
        std::string what = out.type == "mesh" ? "model" : out.type == "key_views" ? "key views" : "spin";
        if (preset.bone_removed) what = "bone removed " + what;
        add(out.type + ":" + out.preset, out.type, out.preset, series_uid, describeOutput(what, out.preset, kind));
      }
      ++series_number;
    }
    jobs.planOutputs(job.id, outputs);
    return jobs.outputs(job.id);
  }
};

RenderJobRunner::RenderJobRunner(RenderJobSettings settings, Index& index, JobQueue& jobs, const RuleSet& rules)
    : impl_(std::make_unique<Impl>(Impl{std::move(settings), index, jobs, rules, nullptr})) {}

RenderJobRunner::~RenderJobRunner() = default;

RenderJobResult RenderJobRunner::run(const Job& job, const ProgressFn& progress, const OutputsReadyFn& outputs_ready) {
  auto& s = impl_->settings;
  RenderJobResult result;
  auto log = moduleLogger("pipeline");
  const RoutingRule& rule = ruleNamed(impl_->rules, job.rule);
  auto series = impl_->index.series(job.series_uid);
  auto study = impl_->index.study(job.study_uid);
  if (!series || !study) throw Error(Errc::NotFound, "series " + job.series_uid + " is no longer in the index");

  // 1. Volume
  progress("assemble", 2);
  auto start = Clock::now();
  const auto files = impl_->index.seriesFilePaths(job.series_uid, s.store_root);
  AssemblyOptions assembly_options = assemblyWithinMemoryLimit();
  assembly_options.prefetched = s.prefetch;
  const size_t decoded_ahead = s.prefetch && s.prefetch->seriesUid() == job.series_uid ? s.prefetch->slices() : 0;
  auto assembly = assembleSeries(files, assembly_options);
  // assembleSeries has released the slices, used or not.
  if (decoded_ahead > 0)
    log->info("series {}: {} of {} files decoded while it arrived", job.series_uid, decoded_ahead, files.size());
  const VolumeCandidate* best = nullptr;
  for (const auto* candidate : assembly.renderable())
    if (candidate->volume && (!best || candidate->source_frames > best->source_frames)) best = candidate;
  if (!best) throw Error(Errc::NotAVolume, assembly.reason.empty() ? "no renderable volume" : assembly.reason);
  Volume volume = std::move(*const_cast<VolumeCandidate*>(best)->volume);
  std::vector<std::filesystem::path> source_files = best->files;
  assembly = {};  // release the other candidates' voxels
  result.timings.add("assemble", secondsSince(start));

  // Reformats resample the volume as acquired (full resolution, not cropped): it is
  // kept as it is, and preprocessing reads it into the prepared volume's new grid.
  std::shared_ptr<const Volume> acquired;
  std::map<std::string, int> reformat_slices;
  for (const auto& out : rule.outputs) {
    if (out.type != "reformat" || out.reformat.bone_removed || !s.outputs.reformats) continue;
    if (!acquired) acquired = std::make_shared<const Volume>(std::move(volume));
    reformat_slices[out.key()] = reformatSliceCount(*acquired, out);
  }

  progress("preprocess", 8);
  start = Clock::now();
  auto prepared =
      acquired ? preprocessCopyOf(*acquired, rule.preprocess) : preprocess(std::move(volume), rule.preprocess);
  auto shared_volume = std::make_shared<const Volume>(std::move(prepared.volume));
  result.timings.add("preprocess", secondsSince(start));
  const auto& v = *shared_volume;
  result.volume_summary = fmt::format("{}x{}x{}, {:.2f}x{:.2f}x{:.2f} mm", v.dimensions[0], v.dimensions[1],
                                      v.dimensions[2], v.spacing[0], v.spacing[1], v.spacing[2]);
  for (const auto& note : prepared.notes) result.volume_summary += "; " + note;

  // CT angiography: the bone is removed from the prepared volume on its own thread
  // while the outputs with bone render; its reformats have the prepared volume's planes.
  BoneRemovedVolume bone_removed;
  if (v.modality == "CT" && usesBoneRemovedVolume(rule, s.presets_dir)) {
    bone_removed = startBoneRemoval(shared_volume, boneRemovalParamsFor(series->body_part, series->series_description +
                                                                                              " " + series->protocol_name));
    for (const auto& out : rule.outputs)
      if (out.type == "reformat" && out.reformat.bone_removed && s.outputs.reformats)
        reformat_slices[out.key()] = reformatSliceCount(v, out);
  }

  // 2. Plan (UIDs kept in the queue before anything is produced)
  std::string prefix;
  auto payload = nlohmann::json::parse(job.payload, nullptr, false);
  if (payload.is_object() && payload.value("supersedes_job", int64_t{0}) > 0) prefix = "(update) ";
  auto planned = impl_->plan(job, rule, prefix, reformat_slices);
  auto identity = readOutputIdentity(source_files.empty() ? files : source_files);

  auto out_dir = s.results_root / std::to_string(job.id);
  std::filesystem::create_directories(out_dir / "dicom");
  std::filesystem::create_directories(out_dir / "png");
  std::filesystem::create_directories(out_dir / "mesh");
  // 3. Render and encode, output by output
  if (!impl_->renderer) {
    VolumeRenderer::Options options;
    options.backend = parseRenderBackend(s.render.backend);
    impl_->renderer = std::make_unique<VolumeRenderer>(options);
  }
  impl_->renderer->setVolume(shared_volume);
  impl_->renderer->resetTimings();
  bool annotation_ids = false;
  RenderRequest request;
  request.width = request.height = s.render.size;
  request.annotation = expandAnnotation(s.render.annotation, *study, *series, &annotation_ids);
  request.annotation_has_identifiers = annotation_ids;
  EquipmentInfo equipment;
  equipment.device_serial_number = s.node_aet;

  // The surface model is extracted on its own thread while the views render: it
  // is mostly serial VTK work, and so are parts of rendering (gradients, PNG).
  double mesh_seconds = 0;
  std::future<MeshResult> mesh_future;
  if (std::any_of(rule.outputs.begin(), rule.outputs.end(), [](const auto& o) { return o.type == "mesh"; })) {
    MeshOptions mesh_options;
    if (v.modality == "CT") mesh_options.threshold = rule.mesh_threshold_hu;
    mesh_options.min_island_mm3 = rule.mesh_min_island_mm3;
    mesh_options.max_triangles = static_cast<size_t>(s.outputs.mesh_triangle_budget);
    mesh_future = std::async(std::launch::async, [shared_volume, mesh_options, &mesh_seconds] {
      const auto mesh_start = Clock::now();
      auto mesh = extractSurface(*shared_volume, mesh_options);
      mesh_seconds = secondsSince(mesh_start);
      return mesh;
    });
  }
  // Reformats are resampled and written on their own thread while the views render;
  // each series is recorded (and can be sent) as soon as it is written.
  double reformat_seconds = 0;
  std::future<void> reformat_future;
  if (!reformat_slices.empty()) {
    std::map<std::string, std::vector<ObjectPlan>> reformat_plans;  // output key -> plans by instance
    std::map<std::string, std::string> key_of_sop;
    for (const auto& p : planned) key_of_sop[p.sop_uid] = p.output_key;
    for (const auto& out : rule.outputs) {
      if (out.type != "reformat") continue;
      for (int i = 1; i <= reformat_slices[out.key()]; ++i)
        for (const auto& p : planned)
          if (p.output_key == reformatSliceKey(out, i))
            reformat_plans[out.key()].push_back({p.series_uid, p.sop_uid, p.series_number, i, p.description, p.created});
    }
    reformat_future = std::async(std::launch::async, [this, &job, &s, &outputs_ready, acquired, bone_removed, &rule,
                                                      identity, reformat_plans, key_of_sop, equipment, out_dir,
                                                      &reformat_seconds] {
      const auto reformat_start = Clock::now();
      for (const auto& out : rule.outputs) {
        const auto plans = reformat_plans.find(out.key());
        if (out.type != "reformat" || plans == reformat_plans.end()) continue;
        std::vector<EncodedObject> written;
        try {
          // Bone-removed reformats wait for the bone removal (which throws if it failed).
          const auto source = out.reformat.bone_removed ? bone_removed.volume.get() : acquired;
          written = writeReformatSeries(*source, out, identity, plans->second, equipment, out_dir / "dicom",
                                        s.outputs.reformat_source_references);
        } catch (const std::exception& e) {  // the job's other outputs still go out; this series is not sent
          moduleLogger("pipeline")->warn("reformat {} not written: {}", out.reformatDescription(), e.what());
          continue;
        }
        for (const auto& encoded : written) {
          const auto key = key_of_sop.find(encoded.sop_instance_uid);
          if (key == key_of_sop.end()) continue;  // not planned: never sent
          impl_->jobs.recordOutputFile(job.id, key->second, encoded.sop_class_uid,
                                       std::filesystem::relative(encoded.path, s.results_root).string(),
                                       static_cast<int64_t>(encoded.size_bytes), 1);
        }
        if (outputs_ready && !written.empty()) outputs_ready();
      }
      reformat_seconds = secondsSince(reformat_start);
    });
  }
  bool rendering_bone_removed = false;
  auto waitForBoneRemoval = [&]() -> std::shared_ptr<const Volume> {
    if (!bone_removed.valid()) throw Error(Errc::InvalidArgument, "bone removal needs a CT volume");
    const auto wait_start = Clock::now();
    auto volume = bone_removed.volume.get();
    result.timings.add("bone-removal-wait", secondsSince(wait_start));
    return volume;
  };
  std::map<std::string, std::vector<RenderedFrame>> key_views_rendered;  // preset -> frames, made with its spin
  double share = 80.0 / std::max<size_t>(1, rule.outputs.size());
  double done = 10;
  for (const auto& out : rule.outputs) {
    if (out.type == "reformat") continue;  // written on their own thread, recorded below
    std::vector<JobOutput> mine;
    for (const auto& p : planned)
      if (p.output_key == out.key() || p.output_key.rfind(out.key() + ":", 0) == 0) mine.push_back(p);
    if (mine.empty()) continue;
    progress(out.type + " " + out.preset, done);
    start = Clock::now();
    if (out.type == "mesh") {
      auto mesh = mesh_future.get();
      result.timings.add("mesh", mesh_seconds);
      result.timings.add("mesh-wait", secondsSince(start));
      if (mesh.mesh.empty()) {
        log->warn("job {}: no surface at threshold {}; no model produced", job.id, mesh.threshold);
        continue;
      }
      auto stl = out_dir / "mesh" / "model.stl";
      writeBinaryStl(mesh.mesh, stl);
      MeshInfo info;
      info.title = describeOutput("model", out.preset, RenderKind::Surface);
      info.threshold = mesh.threshold;
      info.triangles = mesh.mesh.triangleCount();
      info.equipment = equipment;
      start = Clock::now();
      ObjectPlan plan{mine[0].series_uid, mine[0].sop_uid, mine[0].series_number, 1, mine[0].description,
                      mine[0].created};
      auto encoded = encodeStl(identity, plan, stl, info, out_dir / "dicom");
      result.timings.add("encode", secondsSince(start));
      impl_->jobs.recordOutputFile(job.id, mine[0].output_key, encoded.sop_class_uid,
                                   std::filesystem::relative(encoded.path, s.results_root).string(),
                                   static_cast<int64_t>(encoded.size_bytes), 0);
      if (outputs_ready) outputs_ready();
    } else {
      RenderPreset preset = loadPreset(s.presets_dir, out.preset);
      if (preset.bone_removed != rendering_bone_removed) {  // switch volumes (cheap: the renderer keeps a pointer)
        try {
          impl_->renderer->setVolume(preset.bone_removed ? waitForBoneRemoval() : shared_volume);
          rendering_bone_removed = preset.bone_removed;
        } catch (const std::exception& e) {
          log->warn("job {}: {} not rendered: no bone-removed volume: {}", job.id, out.key(), e.what());
          continue;
        }
      }
      const bool spin = out.type != "key_views";
      std::vector<RenderedFrame> frames;
      if (!spin && key_views_rendered.count(out.preset)) {
        frames = std::move(key_views_rendered[out.preset]);
        key_views_rendered.erase(out.preset);
      } else {
        // A spin and the key views of one preset are rendered in one pass: the
        // anterior, left, posterior and right views are spin frames.
        const bool with_key_views = spin && wantsKeyViews(rule, out.preset);
        RenderRequest r = request;
        r.views = spin && !with_key_views ? std::vector<View>{} : keyViews();
        r.spin_frames = spin ? s.render.spin_frames : 0;
        frames = impl_->renderer->render(preset, r);
        if (with_key_views) {
          const auto split = frames.begin() + static_cast<std::ptrdiff_t>(r.views.size());
          key_views_rendered[out.preset].assign(std::make_move_iterator(frames.begin()), std::make_move_iterator(split));
          frames.erase(frames.begin(), split);
        }
      }
      result.timings.add("render", secondsSince(start));
      start = Clock::now();
      FramesInfo info;
      info.kind = kindOf(preset);
      info.preset = out.preset;
      info.recognizable_visual_features = isHead(series->body_part, out.preset);
      info.equipment = equipment;
      std::vector<EncodedObject> encoded;
      if (spin) {
        ObjectPlan plan{mine[0].series_uid, mine[0].sop_uid, mine[0].series_number, 1, mine[0].description,
                        mine[0].created};
        encoded.push_back(encodeSpin(identity, plan, frames, info, out_dir / "dicom"));
      } else {
        std::vector<ObjectPlan> plans;
        int instance = 1;
        for (const auto& m : mine)
          plans.push_back({m.series_uid, m.sop_uid, m.series_number, instance++, m.description, m.created});
        encoded = encodeKeyViews(identity, plans, frames, info,
                                 plans.size() == 1 ? KeyViewsMode::Multiframe : KeyViewsMode::Single, out_dir / "dicom");
      }
      result.timings.add("encode", secondsSince(start));
      for (size_t i = 0; i < encoded.size() && i < mine.size(); ++i)
        impl_->jobs.recordOutputFile(job.id, mine[i].output_key, encoded[i].sop_class_uid,
                                     std::filesystem::relative(encoded[i].path, s.results_root).string(),
                                     static_cast<int64_t>(encoded[i].size_bytes), encoded[i].frames);
      if (outputs_ready && !encoded.empty()) outputs_ready();
      // The console's pictures after the PACS's object, which is on its way meanwhile.
      start = Clock::now();
      writePngs(frames, out_dir / "png", out.preset + "-");
      result.timings.add("png", secondsSince(start));
    }
    done += share;
  }
  // The interactive viewer opens this series from here instead of assembling it again;
  // written after the views and the model, which the PACS is waiting for.
  try {
    writeVolumeFile(v, out_dir / kPreparedVolumeFile);
  } catch (const Error& e) {
    log->warn("series {}: the prepared volume was not kept for the viewer: {}", job.series_uid, e.what());
  }
  if (bone_removed.valid()) {
    try {
      bone_removed.volume.wait();
      const auto without_bone = bone_removed.volume.get();
      result.timings.add("bone-removal", *bone_removed.seconds);
      result.volume_summary += "; bone removed, " + *bone_removed.summary;
      try {  // the viewer's bone-removed presets open it from here
        writeVolumeFile(*without_bone, out_dir / kBoneRemovedVolumeFile);
      } catch (const Error& e) {
        log->warn("series {}: the bone-removed volume was not kept for the viewer: {}", job.series_uid, e.what());
      }
    } catch (const std::exception& e) {
      log->warn("job {}: bone removal failed: {}", job.id, e.what());
    }
  }
  if (reformat_future.valid()) {
    progress("reformats", done);
    start = Clock::now();
    reformat_future.get();
    result.timings.add("reformat", reformat_seconds);
    result.timings.add("reformat-wait", secondsSince(start));
  }
  progress("done", 100);
  result.outputs = impl_->jobs.outputs(job.id);
  return result;
}

}  // namespace volnode
