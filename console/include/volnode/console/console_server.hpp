#pragma once
// The service console: a JSON REST API, Prometheus metrics and the web pages
// (dashboard, studies, jobs, viewer, settings) over HTTP or HTTPS. Reads the
// index; the node's live health and its actions come through the context so the
// console does not depend on the DICOM or pipeline modules. docs/api.md lists
// every endpoint.
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "volnode/core/config.hpp"
#include "volnode/storage/cluster_members.hpp"
#include "volnode/storage/index.hpp"
#include "volnode/storage/job_queue.hpp"
#include "volnode/storage/reconciliation.hpp"

namespace volnode {

struct HealthReport {
  std::string version;
  double uptime_s = 0;
  // DICOM listener
  bool dicom_listening = false;
  std::string dicom_aet;
  int dicom_port = 0;
  std::string dicom_bind;           // the address listened on
  bool dicom_tls = false;           // the listener speaks TLS only
  int active_associations = 0;
  int64_t associations_total = 0;
  int64_t associations_refused = 0;
  std::string dicom_error;
  // storage
  std::string storage_dir;
  uint64_t disk_free_mb = 0;
  uint64_t min_free_mb = 0;
  bool accepting_instances = true;
  std::string not_accepting_reason;
  // the index's database (PostgreSQL may be away; C-STOREs are then answered 0xA700)
  bool index_reachable = true;
  std::string index_error;          // why not, with the URL redacted
  size_t instances_unsettled = 0;   // refused during an outage, their files kept until the index answers
  // render workers (render_workers < 0: not reported by the application)
  int render_workers = -1;
  int render_workers_busy = 0;
  struct Worker {
    std::string name;               // worker-<slot>-<pid>: the lease owner of its jobs
    int pid = -1;                   // -1: being restarted
    int64_t job_id = 0;             // 0: idle
    double job_seconds = 0;
  };
  std::vector<Worker> workers;      // the worker processes
  int64_t worker_deaths = 0;        // crashes, kills and time-outs since start
  int64_t worker_timeouts = 0;      // of which killed for exceeding render.job_timeout_s
  int64_t jobs_failed_by_crashes = 0;
  std::string render_backend;       // "cpu" | "gpu" | "auto"
  // the X server for rendering: "" not reported, "not needed", "running", or why it is not
  std::string display_state;
  std::string display;              // e.g. ":99"
  // The start-up reconciliation of index and store, when it found anything
  // beyond unused slots (instances indexed, cut-off files removed, files missing).
  std::optional<RecoveryReport> recovery;
};

// What the console may ask of the running node (implemented by the application).
struct OnDemandResult {
  bool accepted = false;
  int status = 202;                 // HTTP status to answer with (202, 404 unknown study, 502 PACS unreachable, ...)
  std::string message;
  std::vector<int64_t> job_ids;     // render jobs queued (may be empty while a retrieve runs)
  std::string retrieve_state;       // "", "held", "retrieving", "retrieved", "failed"
  std::string study_uid;            // the study concerned, when known (for a series: the study it belongs to)
};

// The latest on-demand retrieval (C-MOVE from a peer) of a study, for the pages that
// wait for it: a launch link opens the viewer before the study has arrived.
struct RetrievalStatus {
  std::string state;    // "retrieving" | "retrieved" | "failed"
  std::string message;  // why it failed
  std::string source;   // the peer asked
};

struct DestinationStatus {
  std::string name, aet, host;
  int port = 0;
  bool reachable = false;           // last C-ECHO
  std::string checked_at, error;
  bool tls = false;                 // the node's associations to it speak TLS
};

class NodeActions {
 public:
  virtual ~NodeActions() = default;
  // On-demand render of a study or a series; retrieves it from `source` (a
  // configured peer, empty: the default) by C-MOVE when it is not held (a series
  // alone: C-FIND by its UID tells the study, then only that series is moved).
  virtual OnDemandResult renderStudy(const std::string& study_uid, const std::string& source,
                                     const std::string& rule) = 0;
  virtual OnDemandResult renderSeries(const std::string& series_uid, const std::string& source,
                                      const std::string& rule) = 0;
  // A job changed state by an operator: let the workers look again.
  virtual void wakeWorkers() = 0;
  virtual std::vector<DestinationStatus> destinations() = 0;
  // The latest retrieval of the study (or of one of its series), if any was asked for.
  virtual std::optional<RetrievalStatus> retrievalOf(const std::string& /*study_uid*/) { return std::nullopt; }
};

// The interactive view's frames and slices, rendered outside the node process
// (implemented by the application with its viewer worker processes). The console
// checks access and the series, forwards the query parameters and answers with
// what comes back.
struct ViewerAnswer {
  int status = 200;
  std::string content_type;   // of body when status is 200
  std::string body;
  std::string error;          // why, when status is not 200
  std::string parameter;      // the query parameter a 400 is about
  std::map<std::string, std::string> headers;  // e.g. Retry-After with a 503, X-Orientation-Letters
};

// What the interactive view answered since the node started, for /metrics.
struct ViewerStats {
  int max_sessions = 0;  // viewer worker processes (frames rendered at once)
  int busy = 0;          // of them rendering now
  int running = 0;       // of them started
  struct Latency {
    std::vector<double> bounds_s;     // histogram upper bounds
    std::vector<int64_t> cumulative;  // answers at most each bound
    int64_t count = 0;
    double sum_s = 0;
  };
  std::map<std::string, Latency> answered;        // 200 answers by quality: draft, full, slice
  std::map<std::string, int64_t> volume_source;   // memory (warm hit), disk, assembled
  std::map<int, int64_t> failed;                  // other answers by HTTP status
  int64_t refused_busy = 0;                       // 503: every worker stayed busy
  int64_t worker_deaths = 0;
};

class ViewerBackend {
 public:
  virtual ~ViewerBackend() = default;
  // kind: "view3d" or "slice"; params: the query parameters, each given once.
  virtual ViewerAnswer ask(const std::string& kind, const std::string& series_uid,
                           const std::map<std::string, std::string>& params) = 0;
  virtual ViewerStats stats() const { return {}; }
};

// DICOMweb pixel data that the node process must not read itself: compressed frames as
// stored, decoded frames and rendered images, asked of worker processes by the
// application (app/pixel_worker_main.hpp: kinds "stored", "decoded", "rendered" and
// their parameters). The console checks access, the instance and its file.
class PixelWorkers {
 public:
  virtual ~PixelWorkers() = default;
  virtual ViewerAnswer ask(const std::string& kind, const std::string& sop_uid, const std::filesystem::path& file,
                           const std::map<std::string, std::string>& params) = 0;
};

// Everything the console reads or acts on, passed in by the application.
struct ConsoleContext {
  ConsoleConfig config;
  Index& index;
  JobQueue& jobs;
  std::function<HealthReport()> health;
  NodeActions* actions = nullptr;           // may be null in tests of the read-only API
  ViewerBackend* viewer = nullptr;          // null: the interactive view answers 503
  PixelWorkers* pixels = nullptr;           // null: DICOMweb frames that need decoding and rendered images answer 406
  ClusterMembers* cluster = nullptr;        // the processes sharing the index; null: /api/cluster lists none
  std::function<int64_t()> cluster_self;    // this node's member id (0: not a member)
  std::filesystem::path results_root;       // render outputs: <results_root>/<job id>/{dicom,png,mesh}
  std::filesystem::path store_root;         // received instances (the index's file paths are relative to it)
  std::filesystem::path web_root;           // static pages (console/web), empty: built-in location
  std::string effective_config_toml;        // secrets already masked
  std::string rules_json;                   // loaded routing rules, for the settings view
  std::string presets_json;                 // loaded presets
  // Launch URLs (/launch?studyUID=..&token=..) accept tokens signed with this secret
  // (HMAC-SHA256, see docs/api.md), never the console token; empty: launch links are off.
  std::string launch_secret;
  // HTTPS: both set -> the console serves TLS with this PEM certificate (chain) and key.
  std::filesystem::path tls_cert_file;
  std::filesystem::path tls_key_file;
  // Guessing: after auth_max_failures wrong tokens (bearer or launch) from one client
  // address within auth_failure_window, that address gets 429 for auth_block; 0: no limit.
  int auth_max_failures = 10;
  std::chrono::seconds auth_failure_window{60};
  std::chrono::seconds auth_block{60};
  // How long the read session that a signed launch link opens lasts.
  std::chrono::seconds launch_session{3600};
};

class ConsoleServer {
 public:
  explicit ConsoleServer(ConsoleContext context);
  ~ConsoleServer();
  ConsoleServer(const ConsoleServer&) = delete;
  ConsoleServer& operator=(const ConsoleServer&) = delete;

  // Binds (throws Error(Errc::Network) if it cannot) and serves on a background thread.
  void start();
  void stop();
  // The port it listens on (config.port, or the one the system chose for port 0).
  int port() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace volnode
