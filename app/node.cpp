#include "node.hpp"

#include <unistd.h>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "directory_lock.hpp"
#include "node_actions.hpp"
#include "node_name.hpp"
#include "pixel_workers.hpp"
#include "storage_sink.hpp"
#include "volnode/console/console_server.hpp"
#include "volnode/core/error.hpp"
#include "volnode/core/files.hpp"
#include "volnode/core/logging.hpp"
#include "volnode/workflow/cluster_presence.hpp"
#include "volnode/workflow/completion.hpp"
#include "volnode/workflow/destination_echo.hpp"
#include "volnode/workflow/job_notifications.hpp"
#include "volnode/workflow/on_demand.hpp"
#include "volnode/render/display.hpp"
#include "volnode/render/presets.hpp"
#include "volnode/workflow/result_routing.hpp"
#include "volnode/workflow/retention_loop.hpp"
#include "volnode/workflow/retrieval_worker.hpp"
#include "volnode/workflow/route_requests.hpp"
#include "volnode/workflow/object_delivery.hpp"
#include "volnode/workflow/send_workers.hpp"
#include "volnode/workflow/startup_repair.hpp"
#include "volnode/viewer/viewer_pool.hpp"
#include "volnode/viewer/viewer_prewarm.hpp"
#include "volnode/workflow/worker_supervisor.hpp"
#include "volnode/workflow/workers.hpp"
#include "volnode/scp/store_scp.hpp"
#include "volnode/scp/store_scu.hpp"
#include "volnode/storage/cluster_members.hpp"
#include "volnode/storage/file_store.hpp"
#include "volnode/storage/index.hpp"
#include "volnode/storage/instance_store.hpp"
#include "volnode/storage/job_queue.hpp"
#include "volnode/storage/reconciliation.hpp"
#include "volnode/storage/retention.hpp"

namespace volnode {
namespace {

// Rules from <presets_dir>/rules when present, else the built-in defaults; every
// preset a rule names must load, so a typo stops start-up instead of a render.
RuleSet loadRules(const std::filesystem::path& presets_dir) {
  RuleSet rules = RuleSet::forPresets(presets_dir);
  for (const auto& rule : rules.rules())
    for (const auto& preset : rule.presets()) loadPreset(presets_dir, preset);
  return rules;
}

// The loaded rules and presets, for the console's settings view.
std::string rulesJson(const RuleSet& rules) {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& rule : rules.rules()) {
    nlohmann::json outputs = nlohmann::json::array();
    for (const auto& o : rule.outputs) outputs.push_back({{"type", o.type}, {"preset", o.preset}});
    out.push_back({{"name", rule.name}, {"source", rule.source}, {"render", rule.render}, {"outputs", outputs},
                   {"destinations", rule.destinations}, {"mesh_threshold_hu", rule.mesh_threshold_hu}});
  }
  return out.dump();
}

std::string presetsJson(const std::filesystem::path& presets_dir) {
  nlohmann::json out = nlohmann::json::object();
  if (!std::filesystem::is_directory(presets_dir)) return out.dump();
  for (const auto& entry : std::filesystem::directory_iterator(presets_dir)) {
    if (entry.path().extension() != ".json") continue;
    auto parsed = nlohmann::json::parse(readFile(entry.path()), nullptr, false);
    if (!parsed.is_discarded()) out[entry.path().stem().string()] = parsed;
  }
  return out.dump();
}

// The console's interactive view, answered by the viewer worker processes.
class PooledViewer final : public ViewerBackend {
 public:
  explicit PooledViewer(viewer::ViewerPoolSettings settings) : pool_(std::move(settings)) {}
  ViewerAnswer ask(const std::string& kind, const std::string& series_uid,
                   const std::map<std::string, std::string>& params) override {
    auto reply = pool_.ask({kind, series_uid, params});
    return {reply.status, reply.content_type, std::move(reply.body), reply.error, reply.parameter, reply.headers};
  }
  ViewerStats stats() const override {
    const auto s = pool_.status();
    ViewerStats out{s.workers, s.busy, s.running, {}, s.metrics.volume_source, s.metrics.failed, s.refused_busy,
                    s.worker_deaths};
    for (const auto& [quality, h] : s.metrics.answered)
      out.answered[quality] = {{h.kBoundsS.begin(), h.kBoundsS.end()}, {h.cumulative.begin(), h.cumulative.end()},
                               h.count, h.sum_s};
    return out;
  }
  viewer::PrepareOutcome prepare(const std::string& series_uid) { return pool_.prepare(series_uid); }
  void start() { pool_.start(); }
  void stop() { pool_.stop(); }

 private:
  viewer::ViewerPool pool_;
};

}  // namespace

struct Node::Impl {
  Config config;
  std::vector<std::string> worker_command;
  std::chrono::steady_clock::time_point started = std::chrono::steady_clock::now();
  std::unique_ptr<DirectoryLock> lock;
  std::unique_ptr<Index> index;
  std::unique_ptr<FileStore> files;
  std::unique_ptr<InstanceStore> store;
  RecoveryReport recovery;  // the start-up reconciliation of index and store
  std::unique_ptr<StorageSink> sink;
  std::unique_ptr<StoreScp> scp;
  std::unique_ptr<ConsoleServer> console;
  std::unique_ptr<JobQueue> jobs;
  RuleSet rules;
  std::unique_ptr<CompletionMonitor> monitor;
  std::unique_ptr<RouteRequests> routes;
  std::unique_ptr<CompletionLoop> completion;
  std::unique_ptr<WorkerSupervisor> workers;  // worker processes: route and render jobs
  std::unique_ptr<SendWorkers> senders;
  std::unique_ptr<RetrieveClient> retrieve_client;
  std::unique_ptr<RetrievalWorkers> retrievals;  // retrieve jobs: C-MOVE from a peer, in this process
  std::unique_ptr<OnDemandRenders> on_demand;
  std::unique_ptr<DestinationEcho> echo;
  std::unique_ptr<LiveNodeActions> actions;
  std::unique_ptr<PooledViewer> viewer;  // viewer worker processes: the interactive view
  std::unique_ptr<PooledPixelWorkers> pixels;  // pixel worker processes: DICOMweb frames and rendered
  std::unique_ptr<viewer::ViewerPrewarm> viewer_prewarm;  // fresh renders opened ahead in an idle viewer worker
  std::unique_ptr<RetentionPolicy> retention;
  std::unique_ptr<RetentionLoop> retention_loop;
  std::unique_ptr<JobNotificationRelay> notifications;  // PostgreSQL: jobs queued by other processes
  std::unique_ptr<ClusterMembers> members;     // the processes sharing the index (the console's cluster view)
  std::unique_ptr<ClusterPresence> presence;   // this node among them
  std::shared_ptr<DisplayServer> display;  // the X display renders use (a private Xvfb when DISPLAY is unset)
  std::string display_error;

  HealthReport health() const {
    HealthReport h;
    h.version = VOLNODE_VERSION;
    h.uptime_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    auto scp_status = scp->status();
    h.dicom_listening = scp_status.listening;
    h.dicom_aet = config.dicom.aet;
    h.dicom_port = config.dicom.port;
    h.dicom_bind = config.dicom.bind;
    h.dicom_tls = config.dicom.tls;
    h.active_associations = scp_status.active_associations;
    h.associations_total = scp_status.associations_total;
    h.associations_refused = scp_status.associations_refused;
    h.dicom_error = scp_status.last_error;
    h.storage_dir = config.storage.dir;
    try {
      h.disk_free_mb = freeBytes(files->root()) / (1024 * 1024);
    } catch (const Error&) {
    }
    h.min_free_mb = config.storage.min_free_mb;
    h.accepting_instances = store->hasSpace(&h.not_accepting_reason);
    h.index_reachable = index->reachable(&h.index_error);
    h.instances_unsettled = store->unsettled();
    if (recovery.noteworthy()) h.recovery = recovery;
    h.render_workers = workers ? workers->count() : 0;
    h.render_workers_busy = workers ? workers->busy() : 0;
    if (workers) {
      for (const auto& w : workers->status()) h.workers.push_back({w.name, w.pid, w.job_id, w.job_seconds});
      auto counts = workers->counts();
      h.worker_deaths = counts.worker_deaths;
      h.worker_timeouts = counts.timeouts;
      h.jobs_failed_by_crashes = counts.jobs_failed_by_crashes;
    }
    h.render_backend = config.render.backend;
    if (display) {
      h.display = display->display();
      h.display_state = display->ownsServer() ? "running (private Xvfb, pid " + std::to_string(display->serverPid()) + ")"
                                              : "using the existing DISPLAY";
    } else {
      h.display_state = display_error;
    }
    return h;
  }
};

Node::Node(Config config, std::vector<std::string> worker_command) : impl_(std::make_unique<Impl>()) {
  impl_->config = std::move(config);
  impl_->worker_command = std::move(worker_command);
}

Node::~Node() { stop(); }

void Node::start() {
  auto& c = impl_->config;
  auto log = moduleLogger("app");
  std::filesystem::path dir = c.storage.dir;
  const IndexLocation index_location = indexLocationOf(c);
  const bool shared_index = index_location.backend == IndexBackend::Postgresql;
  // Several serve nodes may share a store only on a shared index (docs/scaling.md).
  impl_->lock = shared_index ? std::make_unique<DirectoryLock>(dir, nodeName(c)) : std::make_unique<DirectoryLock>(dir);
  if (!shared_index) refuseLostIndex(dir / "index.sqlite", dir / "store");
  const IndexSync sync = indexSyncOf(c);
  impl_->index = std::make_unique<Index>(index_location, sync);
  impl_->index->ownRowsAs(nodeName(c));  // its slots and associations: start-up settles only these
  log->info("index: {}", index_location.describe());
  impl_->files = std::make_unique<FileStore>(dir / "store", c.storage.fsync, *impl_->index);
  if (int stale = impl_->index->closeStaleAssociations())
    log->warn("{} association(s) were open when the node last stopped; marked interrupted", stale);
  impl_->store = std::make_unique<InstanceStore>(c.storage, *impl_->index, *impl_->files);
  impl_->recovery = reconcileStore(*impl_->index, *impl_->files, *impl_->store);
  impl_->sink = std::make_unique<StorageSink>(*impl_->store, *impl_->index);

  impl_->jobs = std::make_unique<JobQueue>(index_location, sync);
  impl_->jobs->ownLeasesAs(nodeName(c));  // the worker processes take the same name
  if (int requeued = impl_->jobs->requeueInterruptedAtStart("node restarted while the job ran"))
    log->warn("{} job(s) interrupted by the last stop are queued again", requeued);
  impl_->rules = loadRules(c.pipeline.presets_dir);
  // A TLS file that cannot be read stops start-up here, not the first send hours later.
  for (const auto& [name, destination] : c.destinations) checkDeliverySettings(destination);
  for (const auto& [name, source] : c.sources) checkDeliverySettings(source);
  impl_->monitor = std::make_unique<CompletionMonitor>(c.completion, *impl_->index);
  impl_->routes = std::make_unique<RouteRequests>(*impl_->jobs);
  repairUnfinishedWork(*impl_->index, *impl_->jobs, *impl_->routes, impl_->rules, c.destinations,
                       c.sending.max_attempts, dir / "results");
  impl_->sink->onInstanceKept([this](const std::string& series, const std::string& study, const AssociationInfo& a) {
    impl_->monitor->instanceKept(series, study, a.id);
  });
  impl_->sink->onAssociationEnded(
      [this](const AssociationInfo& a, const AssociationStats&) { impl_->monitor->associationEnded(a.id); });
  if (c.render.workers == 0) {
    impl_->display_error = "not needed: render.workers = 0, `volnode worker` processes render";
    log->info("render.workers = 0: route and render jobs are left to `volnode worker` processes on this index");
  } else {
    try {
      // Started now, so a missing Xvfb shows at once; the workers inherit DISPLAY and draw on it.
      impl_->display = DisplayServer::shared();
    } catch (const Error& e) {
      impl_->display_error = e.what();
      log->error("no X display for rendering: {}; render jobs will fail until this is fixed", e.what());
    }
  }
  impl_->senders = std::make_unique<SendWorkers>(c.sending, c.destinations, c.dicom.aet, dir / "results", *impl_->jobs);
  WorkerPoolSettings pool{impl_->worker_command, c.render.workers, c.render.job_timeout_s, c.render.max_crashes};
  impl_->workers = std::make_unique<WorkerSupervisor>(pool, *impl_->jobs, [this] { impl_->senders->poke(); });
  impl_->completion = std::make_unique<CompletionLoop>(
      c.completion.tick_s, *impl_->monitor, *impl_->routes, *impl_->jobs,
      [this] {
        impl_->workers->wake();
        impl_->senders->poke();  // sends a confirmed speculative render released
      },
      [this, destinations = c.destinations, attempts = c.sending.max_attempts](const Job& render) {
        return sendJobsFor(render, impl_->rules, impl_->index->series(render.series_uid), destinations, attempts);
      });
  impl_->retrieve_client =
      retrieveClientPerPeerType(dicomRetrieveClient(c.dicom.aet), dicomWebRetrieveClient(*impl_->sink, c.dicom.aet));
  std::map<std::string, Destination> retrieve_peers = c.destinations;  // names are unique across both
  retrieve_peers.insert(c.sources.begin(), c.sources.end());
  impl_->retrievals = std::make_unique<RetrievalWorkers>(RetrievalSettings{retrieve_peers, c.dicom.aet},
                                                         *impl_->jobs, *impl_->routes, *impl_->retrieve_client);
  impl_->on_demand = std::make_unique<OnDemandRenders>(
      retrieve_peers, *impl_->index, *impl_->jobs, *impl_->routes, *impl_->retrieve_client,
      [this] { impl_->workers->wake(); }, [this] { impl_->retrievals->poke(); });
  impl_->echo = std::make_unique<DestinationEcho>(c.destinations, c.dicom.aet);
  impl_->actions = std::make_unique<LiveNodeActions>(*impl_->on_demand, *impl_->echo, [this] {
    impl_->workers->wake();
    impl_->senders->poke();
    impl_->retrievals->poke();
  });
  if (index_location.backend == IndexBackend::Postgresql) {
    impl_->notifications = std::make_unique<JobNotificationRelay>(*impl_->jobs, [this] {
      impl_->workers->wake();
      impl_->senders->poke();
      impl_->retrievals->poke();
    });
    impl_->notifications->start();
  }
  impl_->workers->start();
  impl_->senders->start();
  impl_->completion->start();
  impl_->echo->start();
  impl_->retention =
      std::make_unique<RetentionPolicy>(c.retention, *impl_->index, *impl_->jobs, *impl_->files, dir / "results");
  impl_->retention_loop = std::make_unique<RetentionLoop>(*impl_->retention, c.retention.check_every_s);
  impl_->retention_loop->start();

  startPresence();  // before the listener: peers see its open associations only with its heartbeat
  impl_->scp = std::make_unique<StoreScp>(c.dicom, *impl_->sink);
  impl_->scp->start();
  impl_->retrievals->start();  // after the listener: a resumed C-MOVE sends to it at once
  ConsoleContext console{c.console, *impl_->index, *impl_->jobs, [this] { return impl_->health(); }};
  console.results_root = dir / "results";
  console.store_root = impl_->files->root();
  console.actions = impl_->actions.get();
  // The viewer workers are this binary's `viewer-worker` with the job workers' arguments.
  std::vector<std::string> viewer_command = impl_->worker_command;
  if (viewer_command.size() > 1) viewer_command[1] = "viewer-worker";
  impl_->viewer = std::make_unique<PooledViewer>(
      viewer::ViewerPoolSettings{viewer_command, c.viewer.max_sessions, c.viewer.wait_s, 120});
  impl_->viewer->start();
  if (c.viewer.prepare_after_render) {
    impl_->viewer_prewarm = std::make_unique<viewer::ViewerPrewarm>(
        *impl_->jobs, [viewer = impl_->viewer.get()](const std::string& uid) { return viewer->prepare(uid); });
    impl_->viewer_prewarm->start();
  }
  console.viewer = impl_->viewer.get();
  impl_->pixels = std::make_unique<PooledPixelWorkers>(impl_->worker_command, 2);
  console.pixels = impl_->pixels.get();
  console.cluster = impl_->members.get();
  console.cluster_self = [this] { return impl_->presence ? impl_->presence->memberId() : 0; };
  console.rules_json = rulesJson(impl_->rules);
  console.presets_json = presetsJson(c.pipeline.presets_dir);
  console.launch_secret = c.console.launch_secret;
  console.tls_cert_file = c.console.tls_cert;
  console.tls_key_file = c.console.tls_key;
  console.effective_config_toml = renderConfig(c);
  impl_->console = std::make_unique<ConsoleServer>(std::move(console));
  impl_->console->start();
}

// This node in the cluster registry, with the jobs its worker processes run.
void Node::startPresence() {
  const auto& c = impl_->config;
  impl_->members = std::make_unique<ClusterMembers>(indexLocationOf(c));
  PresenceSettings presence;
  presence.member = {"serve", thisHostName(), ::getpid(), ClusterPresence::kHeartbeatS, c.render.workers,
                     fmt::format("DICOM AE {} on port {}, console port {}", c.dicom.aet, c.dicom.port, c.console.port)};
  presence.current_jobs = [this] { return impl_->workers->currentJobs(); };
  presence.member.node = nodeName(c);  // joins its open associations to its heartbeat (completion)
  impl_->presence = std::make_unique<ClusterPresence>(*impl_->members, std::move(presence));
  impl_->presence->start();
}

void Node::stop() {
  if (impl_->presence) impl_->presence->stop();
  if (impl_->console) impl_->console->stop();
  if (impl_->viewer_prewarm) impl_->viewer_prewarm->stop();
  if (impl_->viewer) impl_->viewer->stop();
  if (impl_->pixels) impl_->pixels->stop();
  if (impl_->scp) impl_->scp->stop();
  if (impl_->notifications) impl_->notifications->stop();
  if (impl_->completion) impl_->completion->stop();
  if (impl_->workers) impl_->workers->stop();
  if (impl_->senders) impl_->senders->stop();
  if (impl_->retrievals) impl_->retrievals->stop();
  if (impl_->echo) impl_->echo->stop();
  if (impl_->retention_loop) impl_->retention_loop->stop();
  impl_->display.reset();  // the private Xvfb stops with its last user
}

std::string Node::listeningSummary() const {
  const auto& c = impl_->config;
  return fmt::format("volnode {} listening: DICOM AE '{}' on port {}, console http://{}:{}/, store {}",
                     VOLNODE_VERSION, c.dicom.aet, c.dicom.port, c.console.bind, c.console.port,
                     std::filesystem::absolute(c.storage.dir).string());
}

}  // namespace volnode
