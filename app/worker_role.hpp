#pragma once
// `volnode worker --config FILE`: a process that only renders. It runs
// render.workers supervised worker processes (the same as `volnode serve` runs,
// with their own private Xvfb) against the index and job queue named by the
// configuration and the store at storage.dir, which it shares with the serve nodes
// (on another host: the same path on a shared file system, docs/scaling.md). No DICOM
// listener, no console: it shows in every node's console as a cluster member.
// SIGTERM/SIGINT: the workers stop and the jobs they held are queued again at once;
// killed outright, its jobs' leases run out (JobWorkerSettings::lease_s) and another worker
// takes them.
#include <string>
#include <vector>

namespace volnode {

// `worker_command`: how to start one worker process (argv, without --slot).
int runWorkerRole(const std::string& config_path, const std::vector<std::string>& overrides,
                  const std::vector<std::string>& worker_command);

}  // namespace volnode
