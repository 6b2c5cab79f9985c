#include "volnode/pipeline/series_router.hpp"

#include <nlohmann/json.hpp>

#include "volnode/core/error.hpp"
#include "volnode/core/logging.hpp"
#include "volnode/pipeline/assembly.hpp"
#include "volnode/pipeline/inspect.hpp"

namespace volnode {

SeriesRouter::SeriesRouter(Index& index, JobQueue& jobs, RuleSet rules, std::filesystem::path store_root)
    : index_(index), jobs_(jobs), rules_(std::move(rules)), store_root_(std::move(store_root)) {}

int SeriesRouter::routeCompleted() {
  int routed = 0;
  for (const auto& series : index_.seriesInState("complete")) {
    try {
      Expectation expectation;
      {
        std::lock_guard lock(mutex_);
        auto found = expected_.find(series.study_uid);
        if (found != expected_.end()) expectation = found->second;
      }
      route(series.series_uid, expectation.rule, expectation.priority);
    } catch (const std::exception& e) {
      index_.setSeriesState(series.series_uid, "failed", std::string("routing failed: ") + e.what());
      moduleLogger("pipeline")->error("series {}: routing failed: {}", series.series_uid, e.what());
    }
    ++routed;
  }
  return routed;
}

void SeriesRouter::expectStudy(const std::string& study_uid, const std::string& rule_name, int priority) {
  std::lock_guard lock(mutex_);
  expected_[study_uid] = {rule_name, priority};
}

int64_t SeriesRouter::route(const std::string& series_uid, const std::string& rule_name, int priority) {
  auto series = index_.series(series_uid);
  if (!series) throw Error(Errc::NotFound, "no series " + series_uid);
  std::vector<std::filesystem::path> files;
  for (const auto& f : index_.seriesFiles(series_uid))
    if (!f.conflict) files.push_back(store_root_ / f.file_path);
  // Headers only: cheap, and it tells whether there is a volume at all.
  auto scan = scanSeries(files);
  const VolumeCandidate* best = nullptr;
  for (const auto* candidate : scan.renderable())
    if (!best || candidate->source_frames > best->source_frames) best = candidate;

  auto refuse = [&](const std::string& reason) {
    index_.setSeriesState(series_uid, "refused", reason);
    moduleLogger("pipeline")->info("series {} refused: {}", series_uid, reason);
    return int64_t{0};
  };

  const RoutingRule* rule = nullptr;
  std::optional<RoutingRule> forced;
  if (!rule_name.empty()) {
    for (const auto& r : rules_.rules())
      if (r.name == rule_name) forced = r;
    if (!forced) throw Error(Errc::InvalidArgument, "no routing rule named '" + rule_name + "'");
    rule = &*forced;
  } else if (best) {
    rule = rules_.firstMatch(attributesFor(scan.info, *best, series->calling_aet));
  } else {
    // No volume: a rule may still say "never render" more precisely (SC, SR, ...).
    VolumeCandidate none;
    none.source_frames = scan.instances;
    const RoutingRule* never = rules_.firstMatch(attributesFor(scan.info, none, series->calling_aet));
    if (never && !never->render) return refuse("not rendered: rule " + never->name);
  }
  if (!best) return refuse(scan.reason.empty() ? "no renderable volume" : scan.reason);
  if (!rule) return refuse("not rendered: no routing rule matches");
  if (!rule->render) return refuse("not rendered: rule " + rule->name);

  // A series rendered before gets a new render that supersedes the earlier one.
  auto earlier = jobs_.list({"succeeded", "render", "", series_uid, 1});
  nlohmann::json payload{{"supersedes_job", earlier.empty() ? 0 : earlier.front().id}};
  NewJob job{"render", series->study_uid, series_uid, rule->name, "", payload.dump(), priority, 3};
  int64_t id = jobs_.enqueue(job);
  index_.setSeriesState(series_uid, "queued", "rule " + rule->name + ", render job " + std::to_string(id));
  return id;
}

}  // namespace volnode
