#pragma once
// The node's configuration: plain structs with defaults in code, filled once
// from etc/volnode.toml plus `--set key=value` overrides, then passed down
// through constructors. Nothing reads configuration from deep inside a thread.
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace volnode {

// One entry of the association allow-list. "*" matches any AE title / host.
struct PeerRule {
  std::string aet = "*";
  std::string host = "*";
};

struct DicomConfig {
  std::string aet = "VOLNODE";
  std::string bind = "0.0.0.0";  // IPv4 address to listen on; 0.0.0.0 = every interface
  uint16_t port = 11112;
  int max_associations = 8;
  // Of those, at most this many from one address, so one misbehaving modality cannot
  // take every slot; 0 = no limit of its own.
  int max_associations_per_host = 0;
  uint32_t max_pdu = 131072;     // bytes we announce as our maximum receive PDU
  // A larger instance is taken off the wire without being kept and refused with 0xA700
  // (out of resources); the association goes on. 0 = no limit.
  int max_instance_mb = 4096;
  int acse_timeout_s = 10;       // no complete association request this long after connecting: dropped
  int dimse_timeout_s = 60;      // a peer silent this long in the middle of a message is dropped
  int idle_timeout_s = 60;       // an open association without any command this long is aborted
  // A data set that arrives slower than this on average, once dimse_timeout_s has passed,
  // is cut (the association is aborted): a peer sending tiny PDUs, each within DCMTK's
  // per-PDU timeout, would otherwise hold an association for ever. 0 = no minimum.
  int min_receive_kib_per_s = 4;
  // Empty list: any calling AE title, but only from loopback.
  std::vector<PeerRule> allowed_peers;
  bool check_called_aet = true;  // refuse associations to another called AE title
  // DICOM TLS: with tls = true the port speaks TLS only (BCP 195 non-downgrading profile).
  bool tls = false;
  std::string tls_cert;          // our certificate, PEM
  std::string tls_key;           // its private key, PEM
  std::string tls_ca;            // PEM file of trusted CA / peer certificates, for checking peers
  // PEM file of the CRLs of the CAs in tls_ca. Set: a peer's certificate is refused when
  // its CA's CRL lists it, and when that CA has no CRL in the file.
  std::string tls_crl;
  // What is done with a caller's certificate: require | check (only when one is sent) | ignore.
  // Read also from the old key dicom.tls_verify_peers, with a warning.
  std::string tls_verify_peer = "require";
};

struct StorageConfig {
  std::string dir = "var";       // file store and index live here
  uint64_t min_free_mb = 512;    // below this C-STORE answers 0xA700
  bool fsync = true;             // fsync every file before answering Success
  std::string index_sync = "full";  // "full": every index commit on disk before the node acts on it; "normal": at checkpoints
};

// Where the index and the job queue live (storage/include/volnode/storage/index_location.hpp).
struct IndexConfig {
  std::string backend = "sqlite";  // "sqlite": <storage.dir>/index.sqlite, no server; "postgresql": shared by nodes
  std::string url;                 // postgresql://user@host:5432/dbname (the password does not belong here)
  std::string password_file;       // its first line is the password; empty: the PGPASSWORD environment
};

struct ConsoleConfig {
  std::string bind = "127.0.0.1";
  uint16_t port = 8080;
  std::string token;             // required for mutating calls and to bind beyond loopback; >= 16 characters
  std::string launch_secret;     // signs short-lived /launch tokens (HMAC); empty: launch links are off; >= 16
  std::string tls_cert;          // PEM certificate; with tls_key the console serves HTTPS
  std::string tls_key;           // PEM private key
  int threads = 4;
  // Host names (no port) accepted in the Host header besides the bind address (and
  // localhost / 127.0.0.1 / [::1] on a loopback or wildcard bind): DNS rebinding guard.
  std::vector<std::string> allowed_hosts;
  // Reads of patient data need the token (or a launch session) on loopback too;
  // beyond loopback they always do.
  bool read_requires_token = false;
  // A bind beyond loopback without tls_cert/tls_key is refused unless this is true.
  bool allow_plain_http = false;
};

struct LogConfig {
  std::string level = "info";    // trace, debug, info, warn, error
  std::string file = "var/log/volnode.log";  // empty: stderr only
  int max_size_mb = 20;
  int max_files = 5;
};

struct CompletionConfig {
  double quiet_s = 10.0;         // no new instance for this long -> complete
  double release_grace_s = 2.0;  // after the delivering association released
  bool speculative_start = true;  // render from the release on, results held until the grace confirms
  double tick_s = 1.0;           // how often the monitor looks
};

struct RenderConfig {
  std::string backend = "auto";  // auto | cpu | gpu
  int workers = 1;               // worker processes running route and render jobs
  double job_timeout_s = 1800;   // a job running longer has its worker killed (counts as a crash)
  int max_crashes = 2;           // a job whose worker died this often fails for good
  int max_memory_mb = 0;         // per worker, enforced by the kernel (RLIMIT_DATA); 0: 80 % of RAM / workers
  int size = 512;
  int spin_frames = 36;
  std::string annotation = "{PatientID} {StudyDate}";  // empty: no identifiers burned in
  // CPU priority of job and viewer workers: "idle" (SCHED_IDLE: only CPU time nothing
  // else wants, so receiving never waits for a render; the default for a machine of
  // its own) or "low" (nice 19 only: a node sharing its machine with other busy
  // services still renders when they keep every core busy).
  std::string cpu_priority = "idle";
  // An idle job worker decodes the series being received, so that its render job finds
  // the volume mostly assembled (within a quarter of the worker's memory cap).
  bool decode_ahead = true;
};

// The interactive 3D view in the browser: worker processes that render frames and
// slices on request, each keeping recently viewed volumes in memory.
struct ViewerConfig {
  int max_sessions = 2;      // viewer worker processes = frames rendered at once; more answer 503
  int memory_mb = 2048;      // prepared volumes kept warm, per viewer worker (least recently used dropped)
  double idle_timeout_s = 600;  // a worker idle this long drops its volumes
  double wait_s = 2;         // a request waits this long for a free worker before 503
  // A series whose render just succeeded is opened ahead in an idle viewer worker,
  // so its first frame is warm when someone opens it within idle_timeout_s.
  bool prepare_after_render = true;
};

struct OutputsConfig {
  std::string key_views = "multiframe";  // multiframe | single
  std::string uid_root;                   // empty: 2.25.<uuid>
  int series_number_base = 9001;
  int mesh_triangle_budget = 300000;
  bool reformats = true;  // false: the rules' "reformat" outputs are not produced (e.g. the scanner sends its own)
  // A reformat slice lists the source images it was computed from when they are at
  // most this many (axial slabs); coronal and sagittal slices of a long stack then list
  // none and name the source series only, instead of a header of every source image.
  int reformat_source_references = 100;
};

struct PipelineConfig {
  std::string presets_dir = "presets";    // rendering presets and routing rules (JSON)
};

struct RetentionConfig {
  double delete_after_days = 0;  // delete a study's source instances this long after its results were delivered; 0: never
  double max_store_gb = 0;       // above this, delete delivered studies, oldest delivery first; 0: no cap
  double max_volume_cache_gb = 0;  // prepared volumes kept for the viewer (volume.vol): oldest beyond this go; 0: no cap
  double check_every_s = 600;
};

// How results reach a destination: DIMSE C-STORE, or DICOMweb STOW-RS.
enum class DestinationType { Dimse, DicomWeb };

struct Destination {
  std::string name;
  DestinationType type = DestinationType::Dimse;
  std::string aet;
  std::string host;
  uint16_t port = 104;
  std::vector<std::string> sop_classes;   // empty: unknown, propose everything
  // C-STORE associations opened in parallel for one send (each object goes on one of
  // them): a PACS that commits each instance to disk before answering stores several
  // at once nearly as fast as one (docs/performance.md). A peer that takes fewer gets
  // every object anyway, and the next sends open only what it took (AssociationLimits).
  int associations = 8;
  // DICOM TLS for every association volnode opens to this peer (C-STORE, C-FIND,
  // C-MOVE, C-ECHO); BCP 195 non-downgrading profile, no fallback to plain TCP.
  bool tls = false;
  std::string tls_cert;          // our client certificate (PEM), for peers that authenticate clients
  std::string tls_key;           // its private key (PEM)
  std::string tls_ca;            // trusted CA / server certificates (PEM), to verify the peer's certificate
  std::string tls_crl;           // CRLs (PEM) of the CAs in tls_ca: revoked server certificates are refused
  std::string tls_verify_peer = "require";  // require | ignore (encrypt without verifying: testing only)
  bool tls_verify_host = true;   // the peer's certificate must name `host` (DNS name or IP address)
  // DICOMweb (type = "dicomweb"): the service's base URL (http:// or https://, e.g.
  // "https://pacs.example.org/dicom-web"), and at most one way to authenticate: HTTP
  // Basic (username, password read from password_file) or a bearer token read from
  // token_file. Secrets live in files, never in this file or the log. tls_ca and
  // tls_verify_host above apply to an https:// url.
  std::string url;
  std::string username;
  std::string password_file;
  std::string token_file;
  int timeout_s = 120;           // connect and each read of the HTTP exchange
  std::string section = "destinations";  // or "sources": where the configuration names it, for messages
};

struct SendingConfig {
  double retry_initial_s = 10.0;
  double retry_max_s = 600.0;
  int max_attempts = 12;
};

struct Config {
  DicomConfig dicom;
  StorageConfig storage;
  IndexConfig index;
  ConsoleConfig console;
  LogConfig log;
  CompletionConfig completion;
  RenderConfig render;
  ViewerConfig viewer;
  OutputsConfig outputs;
  PipelineConfig pipeline;
  SendingConfig sending;
  RetentionConfig retention;
  std::map<std::string, Destination> destinations;
  // Archives the on-demand render retrieves from but never sends to: [sources.<name>]
  // with type = "dicomweb" and a destination's DICOMweb keys (url, credentials, TLS).
  // Their names differ from the destinations': a retrieval names its peer.
  std::map<std::string, Destination> sources;
  // What the file says that still works but should change (e.g. an old key name),
  // one sentence each, for the log once logging is set up.
  std::vector<std::string> warnings;
};

// The commented default configuration shipped as etc/volnode.toml, embedded at build time.
const char* defaultConfigText();

// Parses TOML text (source names the file in messages) and applies overrides of
// the form "section.key=value" (value in TOML syntax; a bare word is a string).
// Throws Error(Errc::InvalidConfig) naming the key, the line and what is allowed.
Config parseConfig(const std::string& toml_text, const std::string& source,
                   const std::vector<std::string>& overrides = {});

// Reads FILE (or the embedded default when path is empty) and applies overrides.
Config loadConfig(const std::string& path, const std::vector<std::string>& overrides = {});

// The effective configuration as TOML, secrets masked (for the console's settings view).
std::string renderConfig(const Config& config, bool mask_secrets = true);

}  // namespace volnode
