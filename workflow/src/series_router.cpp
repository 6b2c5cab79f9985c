#include "volnode/workflow/series_router.hpp"

#include <nlohmann/json.hpp>

#include "volnode/core/error.hpp"
#include "volnode/core/logging.hpp"
#include "volnode/volume/assembly.hpp"
#include "volnode/workflow/inspect.hpp"

namespace volnode {

std::string routePayload(const RouteRequest& request) {
  return nlohmann::json{{"rule", request.rule}, {"priority", request.priority}}.dump();
}

RouteRequest parseRoutePayload(const std::string& payload) {
  auto json = nlohmann::json::parse(payload, nullptr, false);
  RouteRequest request;
  if (!json.is_object()) return request;
  if (json.contains("rule") && json["rule"].is_string()) request.rule = json["rule"].get<std::string>();
  if (json.contains("priority") && json["priority"].is_number_integer()) request.priority = json["priority"].get<int>();
  return request;
}

SeriesRouter::SeriesRouter(Index& index, JobQueue& jobs, const RuleSet& rules, std::filesystem::path store_root,
                           StackPrefetch* arrived)
    : index_(index), jobs_(jobs), rules_(rules), store_root_(std::move(store_root)), arrived_(arrived) {}

JobSuccess SeriesRouter::decide(const std::string& series_uid, const RouteRequest& request) {
  auto series = index_.series(series_uid);
  if (!series) throw Error(Errc::NotFound, "no series " + series_uid);
  const auto files = index_.seriesFilePaths(series_uid, store_root_);
  // Headers only: cheap, and it tells whether there is a volume at all.
  AssemblyOptions headers_only;
  headers_only.prefetched = arrived_;
  auto scan = scanSeries(files, headers_only);
  const VolumeCandidate* best = nullptr;
  for (const auto* candidate : scan.renderable())
    if (!best || candidate->source_frames > best->source_frames) best = candidate;

  auto refuse = [&](const std::string& reason) {
    moduleLogger("pipeline")->info("series {} refused: {}", series_uid, reason);
    JobSuccess outcome;
    outcome.warning = reason;
    outcome.series = SeriesChange{SeriesState::Refused, reason};
    return outcome;
  };

  const RoutingRule* rule = nullptr;
  std::optional<RoutingRule> forced;
  SeriesAttributes attributes;
  if (!request.rule.empty()) {
    for (const auto& r : rules_.rules())
      if (r.name == request.rule) forced = r;
    if (!forced) throw Error(Errc::InvalidArgument, "no routing rule named '" + request.rule + "'");
    rule = &*forced;
  } else if (best) {
    attributes = attributesFor(scan.info, *best, series->calling_aet);
    rule = rules_.firstMatch(attributes);
  } else {
    // No volume: a rule may still say "never render" more precisely (SC, SR, ...).
    VolumeCandidate none;
    none.source_frames = scan.instances;
    const RoutingRule* never = rules_.firstMatch(attributesFor(scan.info, none, series->calling_aet));
    if (never && !never->render) return refuse(never->refusal());
  }
  if (!best) return refuse(scan.reason.empty() ? "no renderable volume" : scan.reason);
  if (!rule) return refuse(rules_.noMatchReason(attributes));
  if (!rule->render) return refuse(rule->refusal());

  // A series rendered before gets a new render that supersedes the earlier one.
  auto earlier = jobs_.list({JobState::Succeeded, JobKind::Render, "", series_uid, 1});
  nlohmann::json payload{{"supersedes_job", earlier.empty() ? 0 : earlier.front().id}};
  JobSuccess outcome;
  outcome.warning = "rule " + rule->name;
  outcome.series = SeriesChange{SeriesState::Queued, "rule " + rule->name + ", render job queued"};
  outcome.follow_ups.push_back(
      NewJob{JobKind::Render, series->study_uid, series_uid, rule->name, "", payload.dump(), request.priority, 3});
  return outcome;
}

}  // namespace volnode
