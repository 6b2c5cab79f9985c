#pragma once
// Starts and watches the worker processes (`volnode worker`) that run route and
// render jobs, so that a file that crashes or exhausts a library costs one job
// attempt and never the node:
//   - a worker that dies (any signal, the OOM killer, kill -9) is replaced at
//     once; the job it held is retried, or failed for good with the cause once
//     its worker died render.max_crashes times ("worker killed by SIGSEGV while
//     assembling series X, 2 times");
//   - a job running longer than render.job_timeout_s has its worker killed (a hang
//     counts as a crash);
//   - workers die with the node (PR_SET_PDEATHSIG) and see it gone (EOF on their
//     control socket);
//   - a worker whose database connection is lost (its sandbox cannot open a new
//     one) ends with kExitIndexLost: not a crash; it is replaced at once (the new
//     one waits for the database), and the job it names ("interrupted <id>") goes
//     back to the queue uncounted as soon as the database answers.
// Protocol: one Unix socket per worker (its fd 3). The node writes "w" to wake it
// when a job may be waiting; the worker writes "claimed <id>", "finished <id>" and
// "interrupted <id>" lines. The worker's stderr is read and written to the node's log.
#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "volnode/storage/job_queue.hpp"

namespace volnode {

// A worker's exit status when its index connection is lost (EX_TEMPFAIL).
constexpr int kExitIndexLost = 75;

struct WorkerPoolSettings {
  std::vector<std::string> command;  // argv of a worker; "--slot N" is appended
  int workers = 1;
  double job_timeout_s = 1800;
  int max_crashes = 2;
};

// The lease owner name of the worker process in `slot` with `pid`:
// worker-<slot>-<pid>@<host>, unique across the hosts that share one queue
// (containers on several hosts number their processes alike).
std::string workerLeaseName(int slot, int pid);

struct WorkerStatus {
  std::string name;   // the lease owner of its jobs: workerLeaseName()
  int pid = -1;
  int64_t job_id = 0; // 0: idle
  double job_seconds = 0;
};

struct SupervisorCounts {
  int64_t worker_deaths = 0;   // any death while the node ran (crash, kill, time-out)
  int64_t timeouts = 0;        // of which: killed for exceeding render.job_timeout_s
  int64_t jobs_failed_by_crashes = 0;
};

class WorkerSupervisor {
 public:
  // `on_job_finished` runs on the supervisor's thread after a worker finished a job or
  // a running render released objects to send (e.g. to wake the sender); keep it short.
  WorkerSupervisor(WorkerPoolSettings settings, JobQueue& jobs, std::function<void()> on_job_finished);
  ~WorkerSupervisor();
  WorkerSupervisor(const WorkerSupervisor&) = delete;
  WorkerSupervisor& operator=(const WorkerSupervisor&) = delete;

  void start();
  // Stops the workers (SIGTERM, then SIGKILL) and waits for them; the jobs they
  // held are queued again at once for other workers (requeueJobsOf).
  void stop();
  // A job may be waiting: idle workers look now instead of at their next poll.
  void wake();

  int count() const { return settings_.workers; }
  int busy() const;
  std::vector<WorkerStatus> status() const;
  std::vector<int64_t> currentJobs() const;  // the jobs its workers hold now (the cluster registry shows them)
  SupervisorCounts counts() const;

 private:
  struct Impl;
  WorkerPoolSettings settings_;
  std::unique_ptr<Impl> impl_;
};

}  // namespace volnode
