#include "worker_main.hpp"

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <memory>

#include <fmt/format.h>

#include "volnode/core/error.hpp"
#include "volnode/core/logging.hpp"
#include "volnode/storage/database_unavailable.hpp"
#include "volnode/workflow/job_worker.hpp"
#include "volnode/workflow/receiving_prefetch.hpp"
#include "volnode/workflow/worker_supervisor.hpp"
#include "volnode/render/presets.hpp"
#include "node_name.hpp"
#include "worker_sandbox.hpp"

namespace volnode {
namespace {

constexpr int kControlFd = 3;  // the socket to the supervisor

void tell(const std::string& line) {
  std::string text = line + "\n";
  [[maybe_unused]] auto ignored = ::send(kControlFd, text.data(), text.size(), MSG_NOSIGNAL);
}

// Waits for a wake-up or `seconds`; false once the node is gone.
bool waitForWork(double seconds) {
  pollfd fd{kControlFd, POLLIN, 0};
  if (::poll(&fd, 1, static_cast<int>(seconds * 1000)) <= 0) return true;
  char buffer[64];
  ssize_t n = ::recv(kControlFd, buffer, sizeof buffer, MSG_DONTWAIT);
  return n > 0 || (n < 0 && (errno == EAGAIN || errno == EINTR));
}

int defaultMemoryMb(int workers) {
  long pages = ::sysconf(_SC_PHYS_PAGES), page = ::sysconf(_SC_PAGE_SIZE);
  if (pages <= 0 || page <= 0) return 0;
  double total_mb = static_cast<double>(pages) * static_cast<double>(page) / (1024.0 * 1024.0);
  return std::max(2048, static_cast<int>(0.8 * total_mb / std::max(1, workers)));
}

}  // namespace

int runWorker(const Config& config, int slot) {
  const std::string name = workerLeaseName(slot, ::getpid());
  LogConfig log_config = config.log;
  log_config.file.clear();  // stderr, which the node reads into its own log
  initLogging(log_config);
  auto log = moduleLogger("pipeline");

  int memory_mb = config.render.max_memory_mb > 0 ? config.render.max_memory_mb : defaultMemoryMb(config.render.workers);
  auto resources = limitResources(memory_mb, config.render.cpu_priority);

  std::filesystem::path dir = config.storage.dir;
  const IndexSync sync = indexSyncOf(config);
  // Connections are opened before the sandbox, which allows no new TCP socket: a
  // database that is away is waited for here, and one lost later ends this process
  // (kExitIndexLost below) for a new one to connect.
  std::unique_ptr<Index> index;
  std::unique_ptr<JobQueue> jobs;
  for (double wait_s = 0.5; !jobs; wait_s = std::min(2 * wait_s, 5.0)) {
    try {
      index = std::make_unique<Index>(indexLocationOf(config), sync);
      jobs = std::make_unique<JobQueue>(indexLocationOf(config), sync);
    } catch (const std::exception& e) {
      if (!isDatabaseUnavailable(e)) throw;
      if (wait_s == 0.5) log->warn("{}: waiting for the index: {}", name, e.what());
      if (!waitForWork(wait_s)) ::_exit(0);  // the node is gone
    }
  }
  jobs->ownLeasesAs(nodeName(config));  // the node's name: its start-up repair knows these leases
  RuleSet rules = RuleSet::forPresets(config.pipeline.presets_dir);
  std::filesystem::create_directories(dir / "results");

  SandboxPaths paths;
  paths.writable_dirs = {dir / "results", "/tmp", "/var/tmp", "/dev"};
  paths.writable_files = indexLocationOf(config).files();
  auto confinement = confine(paths);
  log->info("{} ready: {}", name, sandboxSummary(resources, confinement));

  JobWorkerSettings settings;
  settings.name = name;
  settings.render = RenderJobSettings{config.render, config.outputs, config.dicom.aet, dir / "store", dir / "results",
                                      config.pipeline.presets_dir};
  settings.destinations = config.destinations;
  settings.send_max_attempts = config.sending.max_attempts;
  // Idle time goes to decoding the series being received, within the memory the
  // render job's assembly may use (render_job.cpp: a quarter of the cap).
  StackPrefetch prefetch(memory_mb > 0 ? uint64_t(memory_mb) * 1024 * 1024 / 4 : uint64_t(1) << 40);
  if (config.render.decode_ahead) settings.render.prefetch = &prefetch;
  ReceivingSeriesPrefetch receiving(*index, dir / "store", prefetch, slot - 1);
  JobWorker worker(settings, *index, *jobs, rules);
  JobWorkerEvents events;
  events.claimed = [](const Job& job) { tell("claimed " + std::to_string(job.id)); };
  events.finished = [](const Job& job) { tell("finished " + std::to_string(job.id)); };
  events.outputs_ready = [](const Job& job) { tell("released " + std::to_string(job.id)); };
  while (true) {
    bool ran = false;
    try {
      ran = worker.runOne(events);
    } catch (const std::exception& e) {
      if (!isDatabaseUnavailable(e)) {
        log->error("{}: {}", name, e.what());  // e.g. the index is busy: try again after a pause
      } else {
        // The sandbox cannot reopen the connection: the supervisor hands the job back
        // and starts a worker that connects (waiting for the database) before confining itself.
        if (auto job = worker.interruptedJob()) tell("interrupted " + std::to_string(*job));
        log->warn("{}: the index connection is lost ({}); this worker ends for a new one to connect", name,
                  e.what());
        log->flush();
        ::_exit(kExitIndexLost);
      }
    }
    if (ran) continue;
    bool more = false;
    try {
      more = config.render.decode_ahead && receiving.step();
    } catch (const std::exception& e) {  // only an optimisation: the job assembles without it
      log->debug("{}: decoding ahead stopped: {}", name, e.what());
      prefetch.clear();
    }
    if (!waitForWork(more ? 0.0 : 1.0)) break;
  }
  // The node is gone (it would have killed us with SIGKILL a moment later): stop at
  // once, as killed, without closing the index, whose last connection would
  // checkpoint it after its owner died.
  log->info("{}: the node is gone; stopping", name);
  log->flush();
  ::_exit(0);
}

}  // namespace volnode
