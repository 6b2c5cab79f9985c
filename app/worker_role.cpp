#include "worker_role.hpp"

#include <unistd.h>

#include <csignal>
#include <cstring>
#include <iostream>
#include <optional>

#include <fmt/format.h>

#include "node_name.hpp"
#include "stop_signals.hpp"
#include "wait_for_database.hpp"
#include "volnode/core/config.hpp"
#include "volnode/core/error.hpp"
#include "volnode/core/logging.hpp"
#include "volnode/render/display.hpp"
#include "volnode/storage/cluster_members.hpp"
#include "volnode/storage/index.hpp"
#include "volnode/storage/job_queue.hpp"
#include "volnode/workflow/cluster_presence.hpp"
#include "volnode/workflow/job_notifications.hpp"
#include "volnode/workflow/worker_supervisor.hpp"

namespace volnode {

int runWorkerRole(const std::string& config_path, const std::vector<std::string>& overrides,
                  const std::vector<std::string>& worker_command) {
  const Config config = loadConfig(config_path, overrides);
  if (config.render.workers < 1)
    throw Error(Errc::InvalidConfig, "volnode worker runs render.workers worker processes, and render.workers is 0 "
                                     "here; give it at least 1 (e.g. --set render.workers=4)");
  initLogging(config.log);
  auto log = moduleLogger("app");
  for (const auto& warning : config.warnings) log->warn("configuration: {}", warning);
  const sigset_t signals = blockStopSignals();

  const IndexLocation location = indexLocationOf(config);
  if (location.backend == IndexBackend::Sqlite && !std::filesystem::exists(location.sqlite_path))
    throw Error(Errc::NotFound, "no index at " + location.sqlite_path.string() +
                                    ": volnode worker renders for a node; start `volnode serve` on this storage.dir "
                                    "first (or use a PostgreSQL index, index.backend)");
  const IndexSync sync = indexSyncOf(config);
  // Opening the index applies the schema migrations when this process is the first to
  // start; a database that does not answer yet is waited for, as `volnode serve` does.
  std::optional<Index> index;
  std::optional<JobQueue> jobs;
  std::optional<ClusterMembers> members;
  const bool connected = startWhenDatabaseAnswers(signals, [&] {
    try {
      index.emplace(location, sync);
      jobs.emplace(location, sync);
      members.emplace(location);
    } catch (...) {
      members.reset();
      jobs.reset();
      index.reset();
      throw;
    }
  });
  if (!connected) return 0;
  // The name its worker processes lease under (worker_main.cpp derives the same), so
  // that the supervisor finds their jobs.
  jobs->ownLeasesAs(nodeName(config));
  log->info("index: {}; store: {}", location.describe(), std::filesystem::absolute(config.storage.dir).string());

  // The worker processes inherit DISPLAY: a private Xvfb when none is set.
  std::shared_ptr<DisplayServer> display = DisplayServer::shared();
  WorkerPoolSettings pool{worker_command, config.render.workers, config.render.job_timeout_s,
                          config.render.max_crashes};
  WorkerSupervisor workers(pool, *jobs, nullptr);
  std::optional<JobNotificationRelay> notifications;
  if (location.backend == IndexBackend::Postgresql) notifications.emplace(*jobs, [&workers] { workers.wake(); });

  PresenceSettings presence_settings;
  presence_settings.member = {"worker", thisHostName(), ::getpid(), ClusterPresence::kHeartbeatS, config.render.workers,
                              "display " + display->display()};
  presence_settings.current_jobs = [&workers] { return workers.currentJobs(); };
  // No serve node may be running: this process queues expired leases again itself.
  presence_settings.requeue_expired = &*jobs;
  presence_settings.on_requeued = [&workers] { workers.wake(); };
  ClusterPresence presence(*members, std::move(presence_settings));

  workers.start();
  if (notifications) notifications->start();
  presence.start();
  std::cout << fmt::format("volnode {} worker: {} render worker process(es) on display {}, index {}", VOLNODE_VERSION,
                           config.render.workers, display->display(), location.describe())
            << std::endl;

  int received = 0;
  sigwait(&signals, &received);
  log->info("{} received: stopping the workers; the jobs they hold are queued again", strsignal(received));
  if (notifications) notifications->stop();
  workers.stop();
  presence.stop();
  display.reset();
  log->info("stopped");
  return 0;
}

}  // namespace volnode
