#pragma once
// Where a render job's results go: one send job per destination its rule names
// that is configured; "reply_to_sender" is the destination whose AE title sent
// the series. The send jobs are queued when the render's first object is encoded
// (JobQueue::releaseSends) and again with its success, each time in one transaction
// with the render's lease, so results are never left unsent by a crash; a destination
// keeps one send job per render.
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "volnode/core/config.hpp"
#include "volnode/rules/routing_rules.hpp"
#include "volnode/storage/job_queue.hpp"
#include "volnode/storage/records.hpp"

namespace volnode {

std::vector<NewJob> sendJobsFor(const Job& render_job, const RuleSet& rules, const std::optional<SeriesSummary>& series,
                                const std::map<std::string, Destination>& destinations, int max_attempts);

}  // namespace volnode
