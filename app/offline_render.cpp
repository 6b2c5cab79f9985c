#include "offline_render.hpp"

#include <chrono>
#include <fstream>
#include <iostream>
#include <thread>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "volnode/core/error.hpp"
#include "volnode/encode/encode.hpp"
#include "volnode/render/display.hpp"
#include "volnode/render/presets.hpp"
#include "volnode/storage/file_store.hpp"
#include "volnode/storage/index.hpp"
#include "volnode/storage/instance_store.hpp"
#include "volnode/storage/job_queue.hpp"
#include "volnode/workflow/route_requests.hpp"
#include "volnode/workflow/worker_supervisor.hpp"

namespace volnode {
namespace {

// The rule every series is routed with: --rule, or one made from --preset, which
// the worker process finds in a presets folder of the run's own (the configured
// presets, and a rules folder holding that rule).
std::string prepareRule(const OfflineRenderRequest& request, const std::filesystem::path& work,
                        std::vector<std::string>* worker_overrides) {
  if (request.presets.empty()) return request.rule;
  const std::filesystem::path& presets_dir = request.config.pipeline.presets_dir;
  nlohmann::json outputs = nlohmann::json::array();
  for (const auto& name : request.presets) {
    auto preset = loadPreset(presets_dir, name);  // fails early on a typo
    outputs.push_back({{"type", preset.blend == BlendMode::MaximumIntensity ? "mip_spin" : "vr_spin"}, {"preset", name}});
    outputs.push_back({{"type", "key_views"}, {"preset", name}});
  }
  const std::string name = "command-line-presets";
  nlohmann::json rule{{"name", name}, {"match", nlohmann::json::object()}, {"outputs", outputs}};
  nlohmann::json rules{{"schema", 1}, {"rules", {rule}}};
  RuleSet::parse(rules.dump(), "--preset");  // refused here, not in the worker
  auto own = work / "presets";
  std::filesystem::create_directories(own / "rules");
  for (const auto& entry : std::filesystem::directory_iterator(presets_dir))
    if (entry.path().extension() == ".json") std::filesystem::copy_file(entry.path(), own / entry.path().filename());
  std::ofstream(own / "rules" / "command-line.json") << rules.dump(2);
  worker_overrides->push_back("pipeline.presets_dir=" + own.string());
  return name;
}

void moveContents(const std::filesystem::path& from, const std::filesystem::path& to) {
  if (!std::filesystem::is_directory(from)) return;
  std::filesystem::create_directories(to);
  for (const auto& entry : std::filesystem::directory_iterator(from))
    std::filesystem::rename(entry.path(), to / entry.path().filename());
}

bool anyActive(JobQueue& jobs) {
  for (auto state : {JobState::Queued, JobState::Running, JobState::Retry})
    for (auto kind : {JobKind::Route, JobKind::Render})
      if (!jobs.list({state, kind, "", "", 1}).empty()) return true;
  return false;
}

}  // namespace

int renderOffline(const OfflineRenderRequest& request, std::ostream& out) {
  if (!std::filesystem::is_directory(request.input_dir))
    throw Error(Errc::NotFound, "no such folder: " + request.input_dir.string());
  auto work = std::filesystem::absolute(request.out_dir / ".work");
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

  // 2. Route and render every series in a worker process, as the node does: a
  //    file that crashes a library fails its series, not the run.
  std::vector<std::string> worker_overrides{"storage.dir=" + work.string(), "log.file="};
  const std::string rule = prepareRule(request, work, &worker_overrides);
  JobQueue jobs(work / "index.sqlite");
  RouteRequests routes(jobs);
  std::vector<SeriesSummary> all_series;
  for (const auto& study : index.listStudies({}))
    for (const auto& series : index.seriesOfStudy(study.study_uid)) {
      all_series.push_back(series);
      routes.seriesCompleted(series, "read from " + request.input_dir.string(), RouteRequest{rule, 0});
    }

  auto display = DisplayServer::shared();  // the worker inherits DISPLAY
  WorkerPoolSettings pool;
  pool.command = request.worker_command;
  for (const auto& o : worker_overrides) pool.command.insert(pool.command.end(), {"--set", o});
  pool.workers = 1;
  pool.job_timeout_s = request.config.render.job_timeout_s;
  pool.max_crashes = request.config.render.max_crashes;
  {
    WorkerSupervisor supervisor(pool, jobs, nullptr);
    supervisor.start();
    while (anyActive(jobs)) std::this_thread::sleep_for(std::chrono::milliseconds(200));
    supervisor.stop();
  }

  // 3. Lay the results out per series.
  int rendered = 0;
  for (const auto& series : all_series) {
    auto renders = jobs.list({JobState::Succeeded, JobKind::Render, "", series.series_uid, 1});
    if (renders.empty()) {
      auto now = index.series(series.series_uid);
      out << fmt::format("{} {} \"{}\": {}: {}\n", series.series_uid, series.modality, series.series_description,
                         now ? toString(now->state) : "gone", now ? now->state_reason : "");
      continue;
    }
    const Job& job = renders.front();
    auto job_dir = work / "results" / std::to_string(job.id);
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
    auto now = index.series(series.series_uid);
    out << fmt::format("{} {} \"{}\": {}\n", series.series_uid, series.modality, series.series_description,
                       now ? now->state_reason : "rendered");
    for (const auto& o : jobs.outputs(job.id))
      out << fmt::format("  {:<22} {:<40} {:>8.1f} MB  dicom/{}_{}\n", sopClassName(o.sop_class_uid), o.description,
                         o.file_size / 1e6, series.series_uid, std::filesystem::path(o.file_path).filename().string());
    ++rendered;
  }
  std::filesystem::remove_all(work);
  return rendered;
}

}  // namespace volnode
