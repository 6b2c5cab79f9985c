// Offline rendering of a folder of DICOM files (see render_offline.hpp).
#include "volnode/pipeline/render_offline.hpp"

#include <chrono>
#include <fmt/format.h>
#include <map>
#include <regex>

#include "volnode/core/error.hpp"
#include "volnode/core/logging.hpp"
#include "volnode/pipeline/assembly.hpp"
#include "volnode/pipeline/display.hpp"
#include "volnode/pipeline/inspect.hpp"
#include "volnode/pipeline/preprocess.hpp"
#include "volnode/pipeline/presets.hpp"
#include "volnode/pipeline/routing_rules.hpp"

namespace volnode {
namespace {

double now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

std::string expandAnnotation(const std::string& tmpl, const SeriesInfo& info) {
  std::string s = tmpl;
  auto replace = [&](const std::string& key, const std::string& value) {
    for (size_t p; (p = s.find(key)) != std::string::npos;) s.replace(p, key.size(), value);
  };
  replace("{PatientID}", info.patient_id);
  replace("{PatientName}", info.patient_name);
  replace("{Modality}", info.modality);
  replace("{SeriesDescription}", info.series_description);
  s = std::regex_replace(s, std::regex(R"(\{[A-Za-z]+\})"), "");
  const auto b = s.find_first_not_of(' '), e = s.find_last_not_of(' ');
  return b == std::string::npos ? std::string() : s.substr(b, e - b + 1);
}

// What to render with one preset.
struct Job {
  std::string preset;
  bool spin = false;
  bool key_views = false;
};

std::vector<Job> jobsFor(const OfflineRenderOptions& o, const RoutingRule* rule) {
  std::vector<Job> jobs;
  auto add = [&](const std::string& preset, bool spin, bool keys) {
    for (auto& j : jobs)
      if (j.preset == preset) {
        j.spin |= spin;
        j.key_views |= keys;
        return;
      }
    jobs.push_back({preset, spin, keys});
  };
  if (!o.presets.empty()) {
    for (auto& p : o.presets) add(p, o.frames > 0, true);
    return jobs;
  }
  if (!rule) return jobs;
  for (const auto& out : rule->outputs) {
    if (out.preset.empty()) continue;
    if (out.type == "vr_spin" || out.type == "mip_spin") add(out.preset, o.frames > 0, false);
    else if (out.type == "key_views") add(out.preset, false, true);
  }
  return jobs;
}

}  // namespace

std::string OfflineRenderResult::summary() const {
  std::string s;
  for (const auto& r : series) {
    if (r.skipped.empty())
      s += fmt::format("{} {} \"{}\": {} PNG files (rule {})\n", r.series_instance_uid, r.modality, r.description,
                       r.files.size(), r.rule.empty() ? "-" : r.rule);
    else
      s += fmt::format("{} {} \"{}\": skipped: {}\n", r.series_instance_uid, r.modality, r.description, r.skipped);
  }
  s += fmt::format("{} frames written; {}; total {:.2f} s\n", frames_written, timings.summary(), timings.total());
  return s;
}

OfflineRenderResult runOfflineRender(const OfflineRenderOptions& o) {
  auto log = moduleLogger("render");
  OfflineRenderResult result;
  if (o.size < 16 || o.size > 4096) throw Error(Errc::InvalidArgument, fmt::format("--size {} is out of range", o.size));
  if (o.frames < 0 || o.frames > 720) throw Error(Errc::InvalidArgument, fmt::format("--frames {} is out of range", o.frames));

  // Rules and presets first: a typo fails before any slow work.
  const auto rules_dir = o.presets_dir / "rules";
  std::error_code ec;
  RuleSet rules = std::filesystem::is_directory(rules_dir, ec) ? RuleSet::loadDirectory(rules_dir) : RuleSet::defaults();
  const RoutingRule* forced = nullptr;
  if (!o.rule.empty()) {
    for (const auto& r : rules.rules())
      if (r.name == o.rule) forced = &r;
    if (!forced) {
      std::string names;
      for (const auto& r : rules.rules()) names += (names.empty() ? "" : ", ") + r.name;
      throw Error(Errc::InvalidConfig, "no routing rule \"" + o.rule + "\" (rules: " + names + ")");
    }
  }
  std::map<std::string, RenderPreset> presets;
  auto preset = [&](const std::string& name) -> const RenderPreset& {
    auto it = presets.find(name);
    if (it == presets.end()) it = presets.emplace(name, loadPreset(o.presets_dir, name)).first;
    return it->second;
  };
  for (const auto& p : o.presets) preset(p);
  if (forced)
    for (const auto& j : jobsFor(o, forced)) preset(j.preset);

  double t0 = now();
  InspectReport report = inspectDirectory(o.input_dir, &rules);
  result.timings.add("inspect", now() - t0);

  std::unique_ptr<VolumeRenderer> renderer;  // created on the first series that renders
  for (const auto& series : report.series) {
    int volume_index = 0;
    for (const auto& inspected : series.volumes) {
      OfflineRenderedSeries out;
      out.series_instance_uid = series.info.series_instance_uid;
      out.modality = series.info.modality;
      out.description = series.info.series_description;
      const VolumeCandidate& cand = inspected.candidate;
      if (cand.decision != VolumeDecision::Renderable) {
        out.skipped = cand.reason.empty() ? "not renderable" : cand.reason;
        result.series.push_back(std::move(out));
        continue;
      }
      std::optional<RoutingRule> matched;
      const RoutingRule* rule = forced;
      if (!rule && o.presets.empty()) {
        matched = rules.match(attributesFor(series.info, cand));
        if (!matched) {
          out.skipped = "no routing rule renders it";
          result.series.push_back(std::move(out));
          continue;
        }
        rule = &*matched;
      }
      out.rule = rule ? rule->name : "";
      const auto jobs = jobsFor(o, rule);
      if (jobs.empty()) {
        out.skipped = "the rule has no render outputs";
        result.series.push_back(std::move(out));
        continue;
      }

      t0 = now();
      SeriesAssembly assembled = assembleSeries(cand.files);
      result.timings.add("assemble", now() - t0);
      auto renderable = assembled.renderable();
      if (renderable.empty() || !renderable.front()->volume) {
        out.skipped = assembled.reason.empty() ? "assembly produced no volume" : assembled.reason;
        result.series.push_back(std::move(out));
        continue;
      }
      Volume volume = std::move(*const_cast<VolumeCandidate*>(renderable.front())->volume);
      if (volume.series_instance_uid.empty()) volume.series_instance_uid = series.info.series_instance_uid;
      if (o.apply_preprocess && rule) {
        t0 = now();
        volume = preprocess(std::move(volume), rule->preprocess).volume;
        result.timings.add("preprocess", now() - t0);
      }

      if (!renderer) {
        VolumeRenderer::Options ro;
        ro.backend = o.backend;
        renderer = std::make_unique<VolumeRenderer>(ro);
      }
      renderer->setVolume(std::make_shared<const Volume>(std::move(volume)));
      const std::string folder =
          series.info.series_instance_uid + (volume_index > 0 ? "-" + std::to_string(volume_index + 1) : "");
      ++volume_index;
      const auto dir = o.out_dir / "png" / folder;
      RenderRequest rq;
      rq.width = rq.height = o.size;
      rq.annotation = expandAnnotation(o.annotation, series.info);
      for (const auto& job : jobs) {
        rq.spin_frames = job.spin ? o.frames : 0;
        rq.views = job.key_views ? keyViews() : std::vector<View>{};
        auto frames = renderer->render(preset(job.preset), rq);
        t0 = now();
        for (const auto& f : frames) {
          const auto file = dir / (job.preset + "-" + f.view + ".png");
          writePng(f, file);
          out.files.push_back(file);
        }
        result.timings.add("png", now() - t0);
        result.frames_written += frames.size();
      }
      log->info("rendered {} ({}): {} PNG files in {}", out.series_instance_uid, out.rule, out.files.size(),
                dir.string());
      result.series.push_back(std::move(out));
    }
  }
  if (renderer)
    for (const auto& [stage, s] : renderer->timings().stages) result.timings.add(stage, s);
  return result;
}

}  // namespace volnode
