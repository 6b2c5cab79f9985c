#pragma once
// The work of one worker process (`volnode worker`): it claims route and render
// jobs from the queue and runs them. Everything that reads received headers or
// pixels after ingest happens here, never in the node process, so a file that
// crashes a library costs one job attempt, not the node. Each outcome is one
// transaction: a route's render job with the series queued; a render's send jobs
// with the series done.
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "volnode/core/config.hpp"
#include "volnode/rules/routing_rules.hpp"
#include "volnode/storage/index.hpp"
#include "volnode/storage/job_queue.hpp"
#include "volnode/workflow/render_job.hpp"

namespace volnode {

struct JobWorkerSettings {
  std::string name;                   // the lease owner: unique per worker process and host
  // A running job's lease, renewed every third of it while the worker process lives
  // (LeaseKeeper): a worker host that dies loses its jobs to others this long after.
  double lease_s = 30;
  RenderJobSettings render;
  std::map<std::string, Destination> destinations;  // for the send jobs of a render
  int send_max_attempts = 12;
};

// Tells the supervisor what the worker does (it kills a job that runs too long).
struct JobWorkerEvents {
  std::function<void(const Job&)> claimed;
  std::function<void(const Job&)> finished;
  std::function<void(const Job&)> outputs_ready;  // a running render released objects to send
};

class JobWorker {
 public:
  JobWorker(JobWorkerSettings settings, Index& index, JobQueue& jobs, const RuleSet& rules);
  ~JobWorker();

  // Claims and runs one route or render job; false when none was waiting. Throws
  // DatabaseUnavailable (volnode/storage/database_unavailable.hpp) while the index
  // cannot be reached: a job an outage cut off is not failed but handed back to the
  // queue, uncounted, by the first call that reaches the index again.
  bool runOne(const JobWorkerEvents& events = {});
  // The job an outage cut off, not yet handed back (for a worker that ends instead).
  std::optional<int64_t> interruptedJob() const { return interrupted_job_; }

 private:
  void route(const Job& job);
  void render(const Job& job, const JobWorkerEvents& events);
  // True (the job remembered for returnInterrupted) when `error` is an outage.
  bool interruptedByOutage(const Job& job, const std::exception& error);

  JobWorkerSettings settings_;
  Index& index_;
  JobQueue& jobs_;
  const RuleSet& rules_;
  std::unique_ptr<RenderJobRunner> runner_;  // owns this process's render window
  std::optional<int64_t> interrupted_job_;    // cut off by a database outage, not yet handed back
};

}  // namespace volnode
