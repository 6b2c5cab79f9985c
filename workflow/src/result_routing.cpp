#include "volnode/workflow/result_routing.hpp"

#include <nlohmann/json.hpp>

namespace volnode {

std::vector<NewJob> sendJobsFor(const Job& render_job, const RuleSet& rules, const std::optional<SeriesSummary>& series,
                                const std::map<std::string, Destination>& destinations, int max_attempts) {
  const RoutingRule* rule = nullptr;
  for (const auto& r : rules.rules())
    if (r.name == render_job.rule) rule = &r;
  std::vector<NewJob> sends;
  if (!rule) return sends;
  for (const auto& wanted : rule->destinations) {
    std::string name = wanted;
    if (wanted == "reply_to_sender") {
      name.clear();
      for (const auto& [dest_name, dest] : destinations)
        if (series && dest.aet == series->calling_aet) name = dest_name;
    }
    if (name.empty() || !destinations.count(name)) continue;
    nlohmann::json payload{{"render_job", render_job.id}};
    sends.push_back(NewJob{JobKind::Send, render_job.study_uid, render_job.series_uid, render_job.rule, name,
                           payload.dump(), render_job.priority, max_attempts});
  }
  return sends;
}

}  // namespace volnode
