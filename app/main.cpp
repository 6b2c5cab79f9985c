// volnode: a DICOM 3D node. The command line and the composition root.
#include <algorithm>
#include <csignal>
#include <iostream>
#include <memory>

#include <CLI/CLI.hpp>
#include <httplib.h>
#include <nlohmann/json.hpp>
#include <dcmtk/dcmdata/dcrledrg.h>
#include <dcmtk/dcmjpeg/djdecode.h>
#include <dcmtk/dcmjpls/djdecode.h>

#include "directory_lock.hpp"
#include "node.hpp"
#include "pixel_worker_main.hpp"
#include "stop_signals.hpp"
#include "viewer_worker_main.hpp"
#include "wait_for_database.hpp"
#include "worker_main.hpp"
#include "worker_role.hpp"
#include "volnode/workflow/inspect.hpp"
#include "offline_render.hpp"
#include "volnode/render/render.hpp"
#include "volnode/rules/routing_rules.hpp"
#include "volnode/core/config.hpp"
#include "volnode/core/error.hpp"
#include "volnode/core/logging.hpp"
#include "volnode/scp/dicom_network.hpp"
#include "volnode/storage/reindex.hpp"

namespace {

using namespace volnode;

// How the node starts its worker processes: this very binary, with the same
// configuration file and overrides.
std::vector<std::string> workerCommand(const std::string& config_path, const std::vector<std::string>& overrides) {
  std::vector<std::string> command{std::filesystem::read_symlink("/proc/self/exe").string(), "worker"};
  if (!config_path.empty()) command.insert(command.end(), {"--config", config_path});
  for (const auto& o : overrides) command.insert(command.end(), {"--set", o});
  return command;
}

int runServe(const std::string& config_path, const std::vector<std::string>& overrides) {
  Config config = loadConfig(config_path, overrides);
  initLogging(config.log);
  for (const auto& warning : config.warnings) moduleLogger("app")->warn("configuration: {}", warning);
  // Decoders let the sender fall back to an uncompressed transfer syntax for a
  // destination that does not accept the compressed one (JPEG 2000 is not in DCMTK).
  DcmRLEDecoderRegistration::registerCodecs();
  DJDecoderRegistration::registerCodecs();
  DJLSDecoderRegistration::registerCodecs();
  // SIGINT/SIGTERM are taken by sigwait below, in this thread only; every thread
  // started from here on inherits the blocked mask.
  const sigset_t signals = blockStopSignals();

  std::unique_ptr<Node> node;
  const bool started = startWhenDatabaseAnswers(signals, [&] {
    node = std::make_unique<Node>(config, workerCommand(config_path, overrides));
    try {
      node->start();
    } catch (...) {
      node.reset();  // what had started stops; the directory lock is released
      throw;
    }
  });
  if (!started) return 0;
  std::cout << node->listeningSummary() << std::endl;
  int received = 0;
  sigwait(&signals, &received);
  moduleLogger("app")->info("{} received: finishing in-flight work and stopping", strsignal(received));
  node->stop();
  moduleLogger("app")->info("stopped");
  return 0;
}

// `volnode reindex`: rebuilds the index from the store, while no node holds the directory.
int runReindex(const std::string& config_path, const std::vector<std::string>& overrides, bool route) {
  Config config = loadConfig(config_path, overrides);
  if (config.index.backend != "sqlite")
    throw Error(Errc::Unsupported, "volnode reindex rebuilds an SQLite index; this configuration's index is in "
                                   "PostgreSQL (index.backend), which has its own backups (pg_dump, pg_basebackup)");
  initLogging(config.log);
  const std::filesystem::path dir = config.storage.dir;
  DirectoryLock lock(dir);
  ReindexOptions options;
  options.route_new_series = route;
  auto report = reindexStorage(dir, options);
  std::cout << "volnode reindex: " << std::filesystem::absolute(dir).string() << "\n" << report.summary() << "\n";
  return report.store.left_in_place.empty() ? 0 : 1;
}

// `volnode status`: the health summary, read from the running node's API.
int runStatus(const std::string& config_path, const std::vector<std::string>& overrides, bool as_json) {
  Config config = loadConfig(config_path, overrides);
  std::string host = config.console.bind == "0.0.0.0" ? "127.0.0.1" : config.console.bind;
  httplib::Client client(host, config.console.port);
  client.set_connection_timeout(3);
  client.set_read_timeout(10);
  auto response = client.Get("/api/health");
  if (!response) {
    std::cerr << "volnode status: no node answers on http://" << host << ":" << config.console.port << "/\n";
    return 3;
  }
  if (as_json) {
    std::cout << response->body << "\n";
    return response->status == 200 ? 0 : 1;
  }
  auto h = nlohmann::json::parse(response->body, nullptr, false);
  if (!h.is_object()) {
    std::cerr << "volnode status: unexpected answer (HTTP " << response->status << ")\n";
    return 1;
  }
  auto d = h.value("dicom", nlohmann::json::object());
  auto s = h.value("storage", nlohmann::json::object());
  auto i = h.value("index", nlohmann::json::object());
  std::cout << "status:   " << h.value("status", "?") << " (volnode " << h.value("version", "?") << ", up "
            << static_cast<int>(h.value("uptime_s", 0.0)) << " s)\n"
            << "dicom:    " << (d.value("listening", false) ? "listening" : "NOT LISTENING") << " as '"
            << d.value("aet", "") << "' on port " << d.value("port", 0) << ", " << d.value("active_associations", 0)
            << " active associations, " << d.value("associations_refused", 0) << " refused\n"
            << "storage:  " << s.value("disk_free_mb", 0) << " MB free (watermark " << s.value("min_free_mb", 0)
            << " MB)" << (s.value("accepting_instances", true) ? "" : ", REFUSING: " + s.value("reason", "")) << "\n"
            << "index:    " << i.value("studies", 0) << " studies, " << i.value("series", 0) << " series, "
            << i.value("instances", 0) << " instances (" << i.value("instances_today", 0) << " today)\n";
  if (h.contains("recovery")) std::cout << "recovery: " << h["recovery"].value("summary", "") << "\n";
  // The processes sharing the index (docs/scaling.md): the node and any `volnode worker`.
  if (auto cluster = client.Get("/api/cluster"); cluster && cluster->status == 200) {
    auto c = nlohmann::json::parse(cluster->body, nullptr, false);
    if (c.is_object())
      std::cout << "cluster:  " << c.value("serve_nodes_alive", 0) << " serve node(s), "
                << c.value("worker_processes_alive", 0) << " render worker process(es) alive"
                << (c.value("stale", 0) ? ", " + std::to_string(c.value("stale", 0)) + " stale member(s)" : "") << "\n";
  }
  if (h.contains("jobs")) std::cout << "jobs:     " << h["jobs"].dump() << "\n";
  return h.value("status", "") == "ok" ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"volnode: a DICOM 3D node (receive, reconstruct, render, send back)"};
  app.set_version_flag("--version", std::string("volnode ") + VOLNODE_VERSION);
  app.require_subcommand(1);

  std::string config_path;
  std::vector<std::string> overrides;

  auto* serve = app.add_subcommand("serve", "run the node (DICOM listener, pipeline, console)");
  serve->add_option("--config,-c", config_path, "configuration file (default: the embedded etc/volnode.toml)");
  serve->add_option("--set", overrides, "override a key, e.g. --set dicom.port=11113 (repeatable)");

  auto* reindex = app.add_subcommand(
      "reindex", "rebuild the index from the store (a lost or unreadable index is kept aside); no node may run on it");
  bool reindex_route = false;
  reindex->add_option("--config,-c", config_path, "configuration file of the node (for storage.dir)");
  reindex->add_option("--set", overrides, "override a key, e.g. --set storage.dir=/srv/volnode (repeatable)");
  reindex->add_flag("--route", reindex_route,
                    "render and send series the old index did not know (default: index them only)");

  auto* config_cmd = app.add_subcommand("config", "print or check configuration");
  bool print_default = false;
  std::string check_path;
  config_cmd->add_flag("--print-default", print_default, "print the default configuration file");
  config_cmd->add_option("--check", check_path, "check a configuration file and print the effective values");
  config_cmd->add_option("--set", overrides, "override a key while checking (repeatable)");

  auto* inspect = app.add_subcommand("inspect", "read a folder of DICOM files and show every series and its volumes");
  std::string inspect_dir, rules_dir;
  bool inspect_json = false;
  inspect->add_option("DIR", inspect_dir, "folder to read (recursively; non-DICOM files are skipped)")->required();
  inspect->add_flag("--json", inspect_json, "print the stable JSON form");
  inspect->add_option("--rules", rules_dir, "routing rules folder (default: presets/rules if present, else built-in)");

  auto* render = app.add_subcommand("render", "render a folder offline (no server), with the node's pipeline");
  OfflineRenderRequest render_request;
  int render_size = 0, render_frames = 0;
  render->add_option("DIR", render_request.input_dir, "folder of DICOM files")->required();
  render->add_option("--out", render_request.out_dir, "output folder")->required();
  render->add_option("--rule", render_request.rule, "routing rule to apply to every series");
  render->add_option("--preset", render_request.presets, "preset(s) to render instead of the rule's (repeatable)");
  render->add_option("--size", render_size, "frame size in pixels")->check(CLI::Range(64, 4096));
  render->add_option("--frames", render_frames, "spin frames")->check(CLI::Range(1, 360));
  render->add_option("--config,-c", config_path, "configuration file (render.*, outputs.*, pipeline.presets_dir)");
  render->add_option("--set", overrides, "override a key (repeatable)");

  // Without --slot: the worker role (render.workers worker processes against the shared
  // index, e.g. on another host). With --slot: one of those worker processes, as
  // `serve`, `render` and the worker role start them; not for use by hand.
  auto* worker = app.add_subcommand(
      "worker", "run only render workers against the index and store of the configuration (no listener, no console)");
  int worker_slot = 0;
  worker->add_option("--config,-c", config_path, "configuration file");
  worker->add_option("--set", overrides, "override a key, e.g. --set render.workers=4 (repeatable)");
  worker->add_option("--slot", worker_slot, "internal: the supervisor's slot number of one worker process")
      ->check(CLI::Range(1, 1000));

  // Started by `serve` for the interactive viewer (viewer.max_sessions of them); not for use by hand.
  auto* viewer_worker = app.add_subcommand("viewer-worker", "");
  viewer_worker->add_option("--config,-c", config_path, "configuration file");
  viewer_worker->add_option("--set", overrides, "override a key (repeatable)");
  viewer_worker->add_option("--slot", worker_slot, "the pool's slot number")->required();

  // Started by `serve` for DICOMweb pixel data (WADO-RS frames, rendered); not for use by hand.
  auto* pixel_worker = app.add_subcommand("pixel-worker", "");
  pixel_worker->add_option("--config,-c", config_path, "configuration file");
  pixel_worker->add_option("--set", overrides, "override a key (repeatable)");
  pixel_worker->add_option("--slot", worker_slot, "the pool's slot number")->required();

  auto* status = app.add_subcommand("status", "print the running node's health summary (from its console API)");
  bool status_json = false;
  status->add_option("--config,-c", config_path, "configuration file of the node (for the console address)");
  status->add_option("--set", overrides, "override a key, e.g. --set console.port=8081");
  status->add_flag("--json", status_json, "print the API's JSON");

  CLI11_PARSE(app, argc, argv);
  // DCMTK's process-wide settings (its log level, TCP_NODELAY, ...), once, here:
  // no thread exists yet, and DCMTK reads them from every thread that associates.
  initDicomNetworking();

  try {
    if (serve->parsed()) return runServe(config_path, overrides);
    if (worker->parsed() && worker_slot > 0) return runWorker(loadConfig(config_path, overrides), worker_slot);
    if (worker->parsed()) return runWorkerRole(config_path, overrides, workerCommand(config_path, overrides));
    if (viewer_worker->parsed()) return runViewerWorker(loadConfig(config_path, overrides), worker_slot);
    if (pixel_worker->parsed()) return runPixelWorker(loadConfig(config_path, overrides), worker_slot);
    if (status->parsed()) return runStatus(config_path, overrides, status_json);
    if (reindex->parsed()) return runReindex(config_path, overrides, reindex_route);
    if (inspect->parsed()) {
      if (!std::filesystem::is_directory(inspect_dir)) throw Error(Errc::NotFound, "no such folder: " + inspect_dir);
      RuleSet rules = rules_dir.empty() ? RuleSet::forPresets("presets") : RuleSet::loadDirectory(rules_dir);
      auto report = inspectDirectory(inspect_dir, &rules);
      std::cout << (inspect_json ? toJson(report) : toText(report)) << "\n";
      return 0;
    }
    if (render->parsed()) {
      if (render_size) overrides.push_back("render.size=" + std::to_string(render_size));
      if (render_frames) overrides.push_back("render.spin_frames=" + std::to_string(render_frames));
      render_request.config = loadConfig(config_path, overrides);
      render_request.worker_command = workerCommand(config_path, overrides);
      return renderOffline(render_request, std::cout) > 0 ? 0 : 1;
    }
    if (config_cmd->parsed()) {
      if (print_default) {
        std::cout << defaultConfigText();
        return 0;
      }
      if (!check_path.empty()) {
        Config config = loadConfig(check_path, overrides);
        std::cout << renderConfig(config);
        for (const auto& warning : config.warnings) std::cerr << "warning: " << warning << "\n";
        std::cerr << check_path << ": OK\n";
        return 0;
      }
      std::cerr << "config: use --print-default or --check FILE\n";
      return 2;
    }
  } catch (const Error& e) {
    std::cerr << "volnode: " << e.what() << "\n";
    return e.code() == Errc::InvalidConfig ? 2 : 1;
  } catch (const std::exception& e) {
    std::cerr << "volnode: unexpected error: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
