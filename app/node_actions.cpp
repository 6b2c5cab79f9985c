#include "node_actions.hpp"

namespace volnode {
namespace {

OnDemandResult toConsole(OnDemandOutcome o) {
  return {o.accepted, o.status, std::move(o.message), std::move(o.job_ids), std::move(o.retrieve_state),
          std::move(o.study_uid)};
}

}  // namespace

OnDemandResult LiveNodeActions::renderStudy(const std::string& study_uid, const std::string& source,
                                            const std::string& rule) {
  return toConsole(on_demand_.renderStudy(study_uid, source, rule));
}

OnDemandResult LiveNodeActions::renderSeries(const std::string& series_uid, const std::string& source,
                                             const std::string& rule) {
  return toConsole(on_demand_.renderSeries(series_uid, source, rule));
}

std::vector<DestinationStatus> LiveNodeActions::destinations() {
  std::vector<DestinationStatus> out;
  for (auto& r : echo_.latest()) out.push_back({r.name, r.aet, r.host, r.port, r.reachable, r.checked_at, r.error, r.tls});
  return out;
}

std::optional<RetrievalStatus> LiveNodeActions::retrievalOf(const std::string& study_uid) {
  auto state = on_demand_.retrievalOf(study_uid);
  if (!state) return std::nullopt;
  return RetrievalStatus{state->state, state->message, state->source};
}

}  // namespace volnode
