#pragma once
// What happens to a complete series: the routing rules decide whether it is
// rendered (a render job is queued: complete -> queued) or not (-> refused,
// with the reason: the rule that said no, or why it is not a volume).
#include <map>
#include <mutex>
#include <string>

#include "volnode/pipeline/routing_rules.hpp"
#include "volnode/storage/index.hpp"
#include "volnode/storage/job_queue.hpp"

namespace volnode {

class SeriesRouter {
 public:
  SeriesRouter(Index& index, JobQueue& jobs, RuleSet rules, std::filesystem::path store_root);

  // Routes every series in state `complete`; returns how many were routed.
  int routeCompleted();
  // Routes one series now (on-demand render); `rule_name` forces a rule.
  // Returns the render job id, or 0 with the series refused.
  int64_t route(const std::string& series_uid, const std::string& rule_name = "", int priority = 0);

  // Series of this study that complete later (e.g. retrieved by C-MOVE for an
  // on-demand render) are routed with this rule (empty: the rules decide) and priority.
  void expectStudy(const std::string& study_uid, const std::string& rule_name, int priority);

  const RuleSet& rules() const { return rules_; }

 private:
  struct Expectation {
    std::string rule;
    int priority = 0;
  };
  std::mutex mutex_;
  std::map<std::string, Expectation> expected_;
  Index& index_;
  JobQueue& jobs_;
  RuleSet rules_;
  std::filesystem::path store_root_;
};

}  // namespace volnode
