#pragma once
// At start-up, after the jobs of the previous run were queued again: work the
// previous run left unfinished that no job would finish. Each finding is
// repaired and logged with its reason:
//   - a series started speculatively on release and not confirmed complete: its
//     held route and render jobs canceled (nothing was sent), the series receiving;
//   - a series complete, queued or processing that no active route or render job
//     serves (a crash between steps of an older version): routed again;
//   - the latest render of a series that succeeded in the last 24 hours without
//     send jobs for the destinations its rule names: its send jobs are queued;
//   - an active send job whose render outputs are gone from the results folder:
//     failed with that reason (a new render of the series sends anew);
//   - a retrieve job still to run (one that ran was queued again with the other
//     jobs): resumed by the retrieval workers, or failed with the reason when
//     the peer it retrieves from is no longer configured.
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "volnode/core/config.hpp"
#include "volnode/rules/routing_rules.hpp"
#include "volnode/storage/index.hpp"
#include "volnode/storage/job_queue.hpp"
#include "volnode/workflow/route_requests.hpp"

namespace volnode {

struct RepairReport {
  int series_routed_again = 0;
  int speculative_starts_withdrawn = 0;  // started on release, not confirmed before the stop
  int send_jobs_queued = 0;
  int send_jobs_abandoned = 0;
  int retrievals_resumed = 0;
  int retrievals_failed = 0;
  std::vector<std::string> findings;  // one line each, for the log and the console
  bool empty() const { return findings.empty(); }
};

RepairReport repairUnfinishedWork(Index& index, JobQueue& jobs, RouteRequests& routes, const RuleSet& rules,
                                  const std::map<std::string, Destination>& destinations, int send_max_attempts,
                                  const std::filesystem::path& results_root);

}  // namespace volnode
