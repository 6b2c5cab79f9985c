#pragma once
// The retrieval workers: threads of the node (a retrieval talks to a peer over
// the network, which the sandboxed worker processes may not) that claim only
// retrieve jobs and run each as one C-MOVE of a study or a series to this node
// or, from a DICOMweb peer, one WADO-RS retrieve (its progress kept in the job).
// Before each attempt the study is expected with the job's rule and priority
// (route_requests.hpp), so its series are routed as asked when they complete,
// also when the job resumes after a restart. A failed move is retried with a
// doubling delay until its attempts run out, then failed with the reason; a peer
// that is not configured or no longer holds the study fails it at once.
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "volnode/core/config.hpp"
#include "volnode/storage/job_queue.hpp"
#include "volnode/workflow/retrieve_client.hpp"
#include "volnode/workflow/route_requests.hpp"
#include "volnode/workflow/workers.hpp"

namespace volnode {

constexpr int kRetrieveAttempts = 3;

// The job that retrieves a study (`series_uid` empty) or one of its series from
// the configured peer `peer`; its series are routed with `rule` at `priority`.
NewJob retrieveJob(const std::string& study_uid, const std::string& series_uid, const std::string& peer,
                   const std::string& rule, int priority);

struct RetrievalSettings {
  std::map<std::string, Destination> peers;  // by name, as a job names its peer
  std::string move_destination_aet;          // this node's AE title: where the peer sends the instances
  int threads = 2;                           // retrievals running at the same time
  double retry_delay_s = 5;                  // before the second attempt; doubled for each further one
};

class RetrievalWorkers {
 public:
  RetrievalWorkers(RetrievalSettings settings, JobQueue& jobs, RouteRequests& routes, RetrieveClient& client);
  ~RetrievalWorkers();
  void start();
  void stop();
  void poke() { waker_.poke(); }

  // Claims one runnable retrieve job under `worker`'s lease and runs it to an
  // outcome; false when there was none. The threads' step, and the tests'. A job that
  // a database outage cut off is not failed: this worker's next call hands it back to
  // the queue, uncounted (and throws while the database is still away).
  bool runOne(const std::string& worker);

 private:
  void run(const std::string& worker);
  void retrieve(const Job& job, const std::string& worker);

  RetrievalSettings settings_;
  JobQueue& jobs_;
  RouteRequests& routes_;
  RetrieveClient& client_;
  Waker waker_;
  std::vector<std::thread> threads_;
  // Per worker: the job a database outage cut off, handed back by its next runOne().
  std::mutex interrupted_mutex_;
  std::map<std::string, int64_t> interrupted_;
};

}  // namespace volnode
