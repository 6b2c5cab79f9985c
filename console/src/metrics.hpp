#pragma once
// GET /metrics: the Prometheus text exposition format (version 0.0.4).
#include <string>
#include <vector>

#include "volnode/console/console_server.hpp"
#include "volnode/storage/activity_queries.hpp"

namespace volnode::console {

// Durations are computed from job rows (started_at of the last attempt to
// finished_at) at every scrape, so they survive restarts and need no state here.
std::string prometheusText(const HealthReport& health, const IndexCounts& counts, const ActivityTotals& totals,
                           const std::vector<DestinationStatus>& destinations);
// The interactive view's families (volnode_viewer_*), counted by the node since it started.
std::string viewerPrometheusText(const ViewerStats& viewer);

}  // namespace volnode::console
