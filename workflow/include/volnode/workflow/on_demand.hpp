#pragma once
// On-demand renders, as the console asks for them (a launch link, a "render"
// button, the API). A study or series held here is routed again with the
// requested rule, ahead of routine work. One not held is looked up on a peer at
// once (C-FIND: an unknown UID answers 404, a peer that cannot be asked 502, or
// 504 when it timed out) and a retrieve job is queued for the retrieval workers
// (retrieval_worker.hpp); its series are rendered as they complete. The state of
// a study's latest retrieval is read from its job, so it outlives a restart.
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "volnode/core/config.hpp"
#include "volnode/storage/index.hpp"
#include "volnode/storage/job_queue.hpp"
#include "volnode/workflow/retrieve_client.hpp"
#include "volnode/workflow/route_requests.hpp"

namespace volnode {

// A clinician is waiting: ahead of routine pushes.
constexpr int kOnDemandPriority = 10;

struct OnDemandOutcome {
  bool accepted = false;
  int status = 202;                // as HTTP: 202, 400 bad request, 404 unknown, 502/504 peer not answering
  std::string message;
  std::vector<int64_t> job_ids;    // route or render jobs of held series (empty while a retrieval runs)
  std::string retrieve_state;      // "", "held", "retrieving"
  std::string study_uid;           // the study concerned, when known (for a series: its study)
};

struct RetrievalState {
  std::string state;    // "retrieving" | "retrieved" | "failed"
  std::string message;  // why it failed (or why the last attempt did, while it is retried)
  std::string source;   // the peer asked
};

// The latest retrieval of a study (or of one of its series), from its job;
// nullopt when none was asked for.
std::optional<RetrievalState> latestRetrieval(JobQueue& jobs, const std::string& study_uid);

class OnDemandRenders {
 public:
  // `peers`: the configured destinations and sources, one of which is asked for
  // what is not held ("pacs" unless the request names one; DICOMweb peers by
  // QIDO-RS and WADO-RS). `wake_workers` after route jobs
  // were queued, `wake_retrievals` after a retrieve job was.
  OnDemandRenders(std::map<std::string, Destination> peers, Index& index, JobQueue& jobs, RouteRequests& routes,
                  RetrieveClient& client, std::function<void()> wake_workers, std::function<void()> wake_retrievals);

  OnDemandOutcome renderStudy(const std::string& study_uid, const std::string& source, const std::string& rule);
  OnDemandOutcome renderSeries(const std::string& series_uid, const std::string& source, const std::string& rule);
  std::optional<RetrievalState> retrievalOf(const std::string& study_uid) { return latestRetrieval(jobs_, study_uid); }

 private:
  const Destination* peer(const std::string& source, std::string* error) const;
  std::vector<int64_t> renderHeld(const std::vector<SeriesSummary>& series, const std::string& rule);
  // A study (series_uid empty) or one series (study_uid empty: the peer's C-FIND
  // by series UID names its study) not held here: queues its retrieve job.
  OnDemandOutcome retrieve(const std::string& study_uid, const std::string& series_uid, const std::string& source,
                           const std::string& rule);
  // The active retrieve job for this study or series, if any.
  std::optional<Job> activeRetrieval(const std::string& study_uid, const std::string& series_uid);

  std::map<std::string, Destination> peers_;
  Index& index_;
  JobQueue& jobs_;
  RouteRequests& routes_;
  RetrieveClient& client_;
  std::function<void()> wake_workers_;
  std::function<void()> wake_retrievals_;
  std::mutex mutex_;
  std::set<std::string> asking_;  // UIDs whose C-FIND runs now: a second request does not ask again
};

}  // namespace volnode
