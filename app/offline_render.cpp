#include "offline_render.hpp"

#include <fstream>
#include <iostream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "volnode/core/error.hpp"
#include "volnode/pipeline/encode.hpp"
#include "volnode/pipeline/presets.hpp"
#include "volnode/pipeline/render_job.hpp"
#include "volnode/pipeline/series_router.hpp"
#include "volnode/storage/file_store.hpp"
#include "volnode/storage/index.hpp"
#include "volnode/storage/instance_store.hpp"
#include "volnode/storage/job_queue.hpp"

namespace volnode {
namespace {

// Routing rules for the run: the configured ones, plus a rule made from --preset.
RuleSet rulesFor(const OfflineRenderRequest& request, std::string* forced_rule) {
  RuleSet rules = RuleSet::forPresets(request.config.pipeline.presets_dir);
  *forced_rule = request.rule;
  if (request.presets.empty()) return rules;
  nlohmann::json outputs = nlohmann::json::array();
  for (const auto& name : request.presets) {
    auto preset = loadPreset(request.config.pipeline.presets_dir, name);  // fails early on a typo
    outputs.push_back({{"type", preset.blend == BlendMode::MaximumIntensity ? "mip_spin" : "vr_spin"}, {"preset", name}});
    outputs.push_back({{"type", "key_views"}, {"preset", name}});
  }
  nlohmann::json rule{{"name", "command-line-presets"}, {"match", nlohmann::json::object()}, {"outputs", outputs}};
  rules.append(RuleSet::parse(nlohmann::json{{"schema", 1}, {"rules", {rule}}}.dump(), "--preset"));
  *forced_rule = "command-line-presets";
  return rules;
}

void moveContents(const std::filesystem::path& from, const std::filesystem::path& to) {
  if (!std::filesystem::is_directory(from)) return;
  std::filesystem::create_directories(to);
  for (const auto& entry : std::filesystem::directory_iterator(from))
    std::filesystem::rename(entry.path(), to / entry.path().filename());
}

}  // namespace

int renderOffline(const OfflineRenderRequest& request, std::ostream& out) {
  if (!std::filesystem::is_directory(request.input_dir))
    throw Error(Errc::NotFound, "no such folder: " + request.input_dir.string());
  auto work = request.out_dir / ".work";
  std::filesystem::remove_all(work);
  std::filesystem::create_directories(work);

  // 1. Keep the files as the listener would (a private store and index).
  Index index(work / "index.sqlite");
  FileStore files(work / "store", false, index);
  StorageConfig storage;
  storage.min_free_mb = 0;
  InstanceStore store(storage, index, files);
  size_t kept = 0, skipped = 0;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(request.input_dir)) {
    if (!entry.is_regular_file()) continue;
    auto slot = store.reserve();
    std::filesystem::copy_file(entry.path(), slot.path, std::filesystem::copy_options::overwrite_existing);
    auto result = store.keep(slot, "", "", std::nullopt);
    (result.outcome == KeepOutcome::Stored || result.outcome == KeepOutcome::StoredConflict) ? ++kept : ++skipped;
  }
  out << fmt::format("{} instances read, {} files skipped (not DICOM or not an instance)\n", kept, skipped);

  // 2. Route every series and render it with the node's runner.
  std::string forced_rule;
  RuleSet rules = rulesFor(request, &forced_rule);
  JobQueue jobs(work / "index.sqlite");
  SeriesRouter router(index, jobs, rules, work / "store");
  RenderJobSettings settings{request.config.render, request.config.outputs, request.config.dicom.aet,
                             work / "store", work / "results", request.config.pipeline.presets_dir};
  RenderJobRunner runner(settings, index, jobs, rules);
  int rendered = 0;
  for (const auto& study : index.listStudies({})) {
    for (const auto& series : index.seriesOfStudy(study.study_uid)) {
      int64_t job_id = router.route(series.series_uid, forced_rule);
      if (job_id == 0) {
        out << fmt::format("{} {} \"{}\": refused: {}\n", series.series_uid, series.modality,
                           series.series_description, index.series(series.series_uid)->state_reason);
        continue;
      }
      auto job = jobs.claimNext({"render"}, "cli", 3600);
      try {
        auto result = runner.run(*job, [](const std::string&, double) {});
        jobs.succeed(job->id);
        auto job_dir = work / "results" / std::to_string(job->id);
        moveContents(job_dir / "png", request.out_dir / "png" / series.series_uid);
        // Flat OUT/dicom/, each file named after its source series (series numbers repeat across studies).
        std::filesystem::create_directories(request.out_dir / "dicom");
        for (const auto& entry : std::filesystem::directory_iterator(job_dir / "dicom"))
          std::filesystem::rename(entry.path(), request.out_dir / "dicom" /
                                                    (series.series_uid + "_" + entry.path().filename().string()));
        if (std::filesystem::exists(job_dir / "mesh" / "model.stl")) {
          std::filesystem::create_directories(request.out_dir / "mesh");
          std::filesystem::rename(job_dir / "mesh" / "model.stl", request.out_dir / "mesh" / (series.series_uid + ".stl"));
        }
        out << fmt::format("{} {} \"{}\": {} ({})\n", series.series_uid, series.modality, series.series_description,
                           result.volume_summary, result.timings.summary());
        for (const auto& o : result.outputs)
          out << fmt::format("  {:<22} {:<40} {:>8.1f} MB  dicom/{}_{}\n", sopClassName(o.sop_class_uid),
                             o.description, o.file_size / 1e6, series.series_uid,
                             std::filesystem::path(o.file_path).filename().string());
        ++rendered;
      } catch (const Error& e) {
        jobs.failPermanently(job->id, e.what());
        out << fmt::format("{} {} \"{}\": failed: {}\n", series.series_uid, series.modality,
                           series.series_description, e.what());
      }
    }
  }
  std::filesystem::remove_all(work);
  return rendered;
}

}  // namespace volnode
