#include "viewer_worker_main.hpp"

#include <poll.h>
#include <unistd.h>

#include <fmt/format.h>

#include "volnode/core/logging.hpp"
#include "volnode/viewer/viewer_engine.hpp"
#include "worker_sandbox.hpp"

namespace volnode {
namespace {

constexpr int kRequestFd = 3;  // the socket to the node

}  // namespace

int runViewerWorker(const Config& config, int slot) {
  const std::string name = fmt::format("viewer-{}-{}", slot, ::getpid());
  LogConfig log_config = config.log;
  log_config.file.clear();  // stderr, which the node reads into its own log
  initLogging(log_config);
  auto log = moduleLogger("viewer");

  // Volumes kept warm, plus one being opened and the renderer's own grid copies.
  auto resources = limitResources(2 * config.viewer.memory_mb + 2048, config.render.cpu_priority);
  std::filesystem::path dir = config.storage.dir;
  const IndexSync sync = indexSyncOf(config);
  Index index(indexLocationOf(config), sync);
  JobQueue jobs(indexLocationOf(config), sync);
  RuleSet rules = RuleSet::forPresets(config.pipeline.presets_dir);

  // Writes: none of the results (a viewer only reads them), the index files
  // (SQLite's shared memory even for reads) and temporary folders.
  SandboxPaths paths;
  paths.writable_dirs = {"/tmp", "/var/tmp", "/dev"};
  paths.writable_files = indexLocationOf(config).files();
  auto confinement = confine(paths);
  log->info("{} ready: {}", name, sandboxSummary(resources, confinement));

  viewer::ViewerEngineSettings settings{config.render, dir / "store", dir / "results", config.pipeline.presets_dir,
                                        config.viewer.memory_mb};
  viewer::ViewerEngine engine(settings, index, jobs, rules);
  engine.warmUp();
  const int idle_ms = static_cast<int>(config.viewer.idle_timeout_s * 1000);
  while (true) {
    pollfd request{kRequestFd, POLLIN, 0};
    const int ready = ::poll(&request, 1, engine.volumesHeld() > 0 ? idle_ms : -1);
    if (ready == 0) {
      log->info("{}: idle for {} s, volumes given back", name, config.viewer.idle_timeout_s);
      engine.release();
      continue;
    }
    if (ready < 0) {
      if (errno == EINTR) continue;
      break;
    }
    auto next = viewer::receiveRequest(kRequestFd);
    if (!next) break;  // the node closed the socket, or spoke nonsense
    if (!viewer::sendReply(kRequestFd, engine.handle(*next))) break;
    engine.prepareAhead();
  }
  // The node is gone: stop at once, as a job worker does, without closing the index.
  log->info("{}: the node is gone; stopping", name);
  log->flush();
  ::_exit(0);
}

}  // namespace volnode
