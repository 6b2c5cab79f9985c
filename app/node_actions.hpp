#pragma once
// What the console may ask of the node (NodeActions), answered by the workflow:
// on-demand renders and retrievals (workflow/on_demand.hpp), the reachability of
// the destinations (workflow/destination_echo.hpp), and waking the workers after
// an operator changed a job.
#include <functional>

#include "volnode/console/console_server.hpp"
#include "volnode/workflow/destination_echo.hpp"
#include "volnode/workflow/on_demand.hpp"

namespace volnode {

class LiveNodeActions : public NodeActions {
 public:
  LiveNodeActions(OnDemandRenders& on_demand, DestinationEcho& echo, std::function<void()> wake_workers)
      : on_demand_(on_demand), echo_(echo), wake_(std::move(wake_workers)) {}

  OnDemandResult renderStudy(const std::string& study_uid, const std::string& source, const std::string& rule) override;
  OnDemandResult renderSeries(const std::string& series_uid, const std::string& source,
                              const std::string& rule) override;
  void wakeWorkers() override { wake_(); }
  std::vector<DestinationStatus> destinations() override;
  std::optional<RetrievalStatus> retrievalOf(const std::string& study_uid) override;

 private:
  OnDemandRenders& on_demand_;
  DestinationEcho& echo_;
  std::function<void()> wake_;
};

}  // namespace volnode
