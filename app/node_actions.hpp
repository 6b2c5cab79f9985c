#pragma once
// What the console may ask of the node: on-demand renders (retrieving a study or
// one series from a PACS by C-FIND + C-MOVE when it is not held), waking the workers after
// an operator changed a job, and the reachability of the destinations.
#include <chrono>
#include <functional>
#include <map>
#include <mutex>
#include <thread>
#include <vector>

#include "volnode/console/console_server.hpp"
#include "volnode/core/config.hpp"
#include "volnode/storage/index.hpp"
#include "volnode/storage/job_queue.hpp"
#include "volnode/workflow/route_requests.hpp"
#include "volnode/workflow/workers.hpp"

namespace volnode {

class LiveNodeActions : public NodeActions {
 public:
  LiveNodeActions(const Config& config, Index& index, JobQueue& jobs, RouteRequests& routes,
                  std::function<void()> wake_workers);
  ~LiveNodeActions() override;

  OnDemandResult renderStudy(const std::string& study_uid, const std::string& source, const std::string& rule) override;
  OnDemandResult renderSeries(const std::string& series_uid, const std::string& source,
                              const std::string& rule) override;
  void wakeWorkers() override { wake_(); }
  // The last C-ECHO result per destination; never blocks (a background thread checks).
  std::vector<DestinationStatus> destinations() override;
  std::optional<RetrievalStatus> retrievalOf(const std::string& study_uid) override;

 private:
  const Destination* peer(const std::string& source, std::string* error) const;
  // Queues route jobs (then renders) for held series that have none yet; returns
  // the job ids: the route job queued, or the series' latest route or render job.
  std::vector<int64_t> renderHeld(const std::vector<SeriesSummary>& series, const std::string& rule);
  // Retrieves a study (series_uid empty) or one series (study_uid empty: a C-FIND
  // by series UID finds its study) from a peer by C-MOVE to this node, in the background.
  OnDemandResult retrieve(const std::string& study_uid, const std::string& series_uid, const std::string& source,
                          const std::string& rule);

  Config config_;
  Index& index_;
  JobQueue& jobs_;
  RouteRequests& routes_;
  std::function<void()> wake_;
  std::mutex mutex_;
  struct Retrieval {
    std::string state;      // "retrieving" | "retrieved" | "failed: ..."
    std::string study_uid;  // the study retrieved, or the one the series belongs to (once known)
    std::string source;     // the peer asked
    uint64_t sequence = 0;  // order of the requests, to find a study's latest
  };
  std::map<std::string, Retrieval> retrievals_;  // by the study or series UID retrieved; the latest kRetrievalsKept
  uint64_t retrieval_sequence_ = 0;
  void forgetOldRetrievals();  // under mutex_
  std::mutex threads_mutex_;  // guards retrieval_threads_ (console requests come on several threads)
  std::map<std::string, std::thread> retrieval_threads_;  // by the same key; joined once their retrieval ended
  void joinFinishedRetrievals();
  std::map<std::string, DestinationStatus> echo_cache_;
  Waker echo_waker_;
  std::thread echo_thread_;
};

}  // namespace volnode
