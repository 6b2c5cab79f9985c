#pragma once
// What happens to a complete series, decided in a worker process (it reads the
// series' headers): the routing rules say whether it is rendered (a render job
// is queued: complete -> queued) or not (-> refused, with the reason: the rule
// that said no, or why it is not a volume). The decision is written with the
// route job's success, in one transaction.
#include <filesystem>
#include <string>

#include "volnode/rules/routing_rules.hpp"
#include "volnode/storage/index.hpp"
#include "volnode/storage/job_queue.hpp"
#include "volnode/volume/stack_prefetch.hpp"

namespace volnode {

// A route job's payload: the rule an on-demand request forced (empty: the rules
// decide) and the priority its render job gets.
struct RouteRequest {
  std::string rule;
  int priority = 0;
};
std::string routePayload(const RouteRequest& request);
RouteRequest parseRoutePayload(const std::string& payload);

class SeriesRouter {
 public:
  // `arrived`: the series' headers this worker read while it arrived, not read again.
  SeriesRouter(Index& index, JobQueue& jobs, const RuleSet& rules, std::filesystem::path store_root,
               StackPrefetch* arrived = nullptr);

  // The outcome of a route job for `series_uid`: the render job to queue and the
  // series' new state, or the series refused with the reason. Throws Error for a
  // failure worth retrying, Error(Errc::InvalidArgument) for an unknown forced rule.
  JobSuccess decide(const std::string& series_uid, const RouteRequest& request);

 private:
  Index& index_;
  JobQueue& jobs_;
  const RuleSet& rules_;
  std::filesystem::path store_root_;
  StackPrefetch* arrived_;
};

}  // namespace volnode
