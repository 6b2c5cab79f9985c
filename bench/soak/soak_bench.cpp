// bench_soak: studies pushed without pause for a long time, each rendered by volnode
// with its default settings and sent to a local Orthanc, while the node's process is
// sampled. Goal: flat memory and descriptors (no growth beyond 5 % after warm-up),
// zero failed jobs, zero lost instances.
//
// It starts its own Orthanc (Debian's package, loopback, volnode declared as a
// modality) and its own `volnode serve` (default render settings; destination `pacs`
// = that Orthanc; retention deletes a study's source instances --retention-s after
// its results were delivered). Each study is a new patient, study and series: a
// generated body CT (default 256x256x120) written once as a template and given fresh
// UIDs for every push, sent with DCMTK's storescu (one association). At most
// --in-flight studies are pushed and not yet delivered, so the run measures a steady
// state, not a growing backlog. Every delivered study is checked in Orthanc (one
// study with the same StudyInstanceUID and PatientID holding exactly the SOP
// instances the render job reports) and then deleted there, so Orthanc's disk stays
// bounded.
//
// Every --sample-s seconds: the node's VmRSS and RssAnon, open descriptors
// (/proc/<pid>/fd), threads, the resident memory of its child processes (its Xvfb),
// queue depth (render + send jobs queued, running or waiting for a retry) and failed
// jobs from GET /api/jobs, the index size from GET /api/health, and the disk used by
// the node's store and results folders and by Orthanc.
//
// At the end, each instance storescu saw acknowledged must be in the node's index
// (GET /api/studies/{uid}) or have been deleted by retention after delivery (the
// node's log line names the study and the number of instances). Growth is the mean
// of the last 20 % of the samples taken while pushing against the mean of the first
// 20 % after the warm-up.
//
//   bench_soak [--minutes 30] [--sample-s 10] [--warmup-min 3] [--in-flight 2]
//              [--rows 256] [--slices 120] [--retention-s 60] [--drain-min 10]
//              [--idle-s 60] [--min-free-gb 5] [--csv FILE] [--markdown FILE] [--work DIR]
// --idle-s: after the last delivery the node is left idle and sampled this long (does
// it give memory back?). --min-free-gb: pushing stops early when the disk holding the
// work folder has less free space (the node keeps every render's results, about
// 80 MB per study with the default settings: retention deletes source instances only).
// --work keeps the node's and Orthanc's folders (logs, index) in DIR instead of a
// temporary folder removed at the end. Ctrl-C (SIGINT) or SIGTERM stops pushing,
// reports what was measured and stops both servers by their pid.
// Exit status: 0 when no job failed, no instance was lost and every delivered study
// was found intact in Orthanc; 1 otherwise; 2 for a bad option.
#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcfilefo.h>
#include <dcmtk/dcmdata/dcmetinf.h>
#include <dcmtk/dcmdata/dcuid.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <ctime>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <sstream>
#include <thread>

#include <httplib.h>

#include "../common/ct_body_phantom.hpp"
#include "../common/folder_bytes.hpp"
#include "../common/iso_time.hpp"
#include "support/node_process.hpp"
#include "support/orthanc_process.hpp"
#include "support/process.hpp"
#include "support/synthetic_series.hpp"

using namespace volnode::test;
using volnode::bench::isoSeconds;
using nlohmann::json;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

std::atomic<bool> g_interrupted{false};

extern "C" void onSignal(int) { g_interrupted = true; }

double nowSeconds() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

std::string fixed(double v, int digits) {
  std::ostringstream s;
  s << std::fixed << std::setprecision(digits) << v;
  return s.str();
}

// The body of a 200 answer, or null (never a discarded value, so lookups stay safe).
json parseJson(const HttpResponse& r) {
  if (r.status != 200) return json();
  json body = json::parse(r.body, nullptr, false);
  return body.is_discarded() ? json() : body;
}

// Sleeps in short steps so Ctrl-C is answered within a fraction of a second.
void pause(std::chrono::milliseconds total) {
  auto end = std::chrono::steady_clock::now() + total;
  while (!g_interrupted && std::chrono::steady_clock::now() < end) std::this_thread::sleep_for(100ms);
}

// ---- /proc ---------------------------------------------------------------------------

struct ProcSample {
  long rss_kb = 0;
  long rss_anon_kb = 0;
  long hwm_kb = 0;  // peak VmRSS since the start
  long threads = 0;
  long fds = 0;
  long children_rss_kb = 0;  // direct children (the node's Xvfb)
  bool alive = false;
};

std::map<std::string, long> procStatus(pid_t pid) {
  std::map<std::string, long> out;
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  for (std::string line; std::getline(in, line);) {
    auto colon = line.find(':');
    if (colon == std::string::npos) continue;
    try {
      out[line.substr(0, colon)] = std::stol(line.substr(colon + 1));
    } catch (...) {
    }
  }
  return out;
}

// Parent pid from /proc/<pid>/stat (the field after the parenthesised command name).
pid_t parentOf(const std::string& pid) {
  std::ifstream in("/proc/" + pid + "/stat");
  std::string stat;
  std::getline(in, stat);
  auto close = stat.rfind(')');
  if (close == std::string::npos) return -1;
  std::istringstream rest(stat.substr(close + 2));
  std::string state;
  long ppid = -1;
  rest >> state >> ppid;
  return static_cast<pid_t>(ppid);
}

ProcSample sampleProcess(pid_t pid) {
  ProcSample s;
  auto status = procStatus(pid);
  if (status.empty()) return s;
  s.alive = true;
  s.rss_kb = status["VmRSS"];
  s.rss_anon_kb = status["RssAnon"];
  s.hwm_kb = status["VmHWM"];
  s.threads = status["Threads"];
  std::error_code ec;
  for (auto it = fs::directory_iterator("/proc/" + std::to_string(pid) + "/fd", ec); !ec && it != fs::directory_iterator();
       it.increment(ec))
    ++s.fds;
  for (auto it = fs::directory_iterator("/proc", ec); !ec && it != fs::directory_iterator(); it.increment(ec)) {
    std::string name = it->path().filename();
    if (name.empty() || !std::all_of(name.begin(), name.end(), ::isdigit)) continue;
    if (parentOf(name) == pid) s.children_rss_kb += procStatus(std::stoi(name))["VmRSS"];
  }
  return s;
}

// ---- studies -------------------------------------------------------------------------

// The generated CT, loaded once; every study is these instances with fresh UIDs.
class StudyTemplate {
 public:
  StudyTemplate(const fs::path& dir, int rows, int slices) {
    SyntheticSeries s;
    s.rows = s.cols = rows;
    s.row_spacing = s.col_spacing = 358.4 / rows;  // the 358 mm field of view of the e2e benchmark
    s.slices = slices;
    s.slice_spacing = 300.0 / slices;              // 300 mm, chest and abdomen of the body phantom
    s.origin = {-179.2, -179.2, -150};
    s.body_part = "CHEST";
    s.series_description = "soak body CT";
    s.value = [](const Vec3& p) { return volnode::bench::ctBodyPhantomHu(p[0], p[1], p[2]); };
    auto written = writeSyntheticSeries(s, dir);
    for (const auto& file : written.files) {
      auto format = std::make_unique<DcmFileFormat>();
      if (format->loadFile(file.c_str()).bad()) throw std::runtime_error("cannot read " + file.string());
      format->loadAllDataIntoMemory();
      files_.push_back(std::move(format));
      bytes_ += fs::file_size(file);
    }
  }
  size_t instances() const { return files_.size(); }
  double megabytes() const { return bytes_ / 1e6; }

  struct Written {
    std::string study_uid, series_uid, patient_id;
  };
  // Writes study number n with new UIDs into dir.
  Written write(int n, const fs::path& dir) {
    fs::create_directories(dir);
    char uid[100];
    Written w;
    std::ostringstream number;
    number << std::setw(5) << std::setfill('0') << n;
    w.patient_id = "SOAK" + number.str();
    w.study_uid = dcmGenerateUniqueIdentifier(uid, SITE_STUDY_UID_ROOT);
    w.series_uid = dcmGenerateUniqueIdentifier(uid, SITE_SERIES_UID_ROOT);
    std::string frame_of_reference = dcmGenerateUniqueIdentifier(uid);
    for (size_t i = 0; i < files_.size(); ++i) {
      DcmDataset* d = files_[i]->getDataset();
      std::string sop = dcmGenerateUniqueIdentifier(uid, SITE_INSTANCE_UID_ROOT);
      d->putAndInsertString(DCM_PatientID, w.patient_id.c_str());
      d->putAndInsertString(DCM_PatientName, ("SOAK^STUDY" + number.str()).c_str());
      d->putAndInsertString(DCM_AccessionNumber, w.patient_id.c_str());
      d->putAndInsertString(DCM_StudyID, number.str().c_str());
      d->putAndInsertString(DCM_StudyInstanceUID, w.study_uid.c_str());
      d->putAndInsertString(DCM_SeriesInstanceUID, w.series_uid.c_str());
      d->putAndInsertString(DCM_FrameOfReferenceUID, frame_of_reference.c_str());
      d->putAndInsertString(DCM_SOPInstanceUID, sop.c_str());
      files_[i]->getMetaInfo()->putAndInsertString(DCM_MediaStorageSOPInstanceUID, sop.c_str());
      auto path = dir / ("IM" + std::to_string(i) + ".dcm");
      if (files_[i]->saveFile(path.c_str(), d->getOriginalXfer()).bad())
        throw std::runtime_error("cannot write " + path.string());
    }
    return w;
  }

 private:
  std::vector<std::unique_ptr<DcmFileFormat>> files_;
  uintmax_t bytes_ = 0;
};

enum class StudyState { InFlight, Delivered, Failed };
constexpr double kStudyTimeoutS = 600;  // a study still not delivered after this is counted as failed

struct Study {
  int n = 0;
  std::string study_uid, series_uid, patient_id;
  int sent = 0;
  int acknowledged = 0;       // C-STORE responses Success or Warning, as storescu printed them
  double push_begin = 0, push_end = 0;
  StudyState state = StudyState::InFlight;
  double delivered_at = 0;    // the send job's finished_at
  int in_index_at_delivery = -1;
  bool orthanc_ok = false;
  std::string problem;        // why it is not fine, for the report
};

// Counts the C-STORE responses in storescu's verbose output.
int acknowledgedIn(const std::string& output) {
  int n = 0;
  std::istringstream lines(output);
  for (std::string line; std::getline(lines, line);) {
    auto at = line.find("Received Store Response (");
    if (at == std::string::npos) continue;
    std::string status = line.substr(at + 25);
    if (status.rfind("Success", 0) == 0 || status.rfind("Warning", 0) == 0) ++n;
  }
  return n;
}

struct Sample {
  double t = 0;  // seconds since pushing began
  std::string phase;
  ProcSample proc;
  long queue = 0, queued = 0, running = 0, retry = 0, failed = 0;
  long pushed = 0, delivered = 0;
  long index_studies = 0, index_instances = 0;
  double store_mb = 0, results_mb = 0, orthanc_mb = 0;
};

struct Summary {
  double mean_first = 0, mean_last = 0, growth_pct = 0, max = 0;
  double min_first = 0, min_last = 0;  // the floor of each window: transients (an open association) excluded
  size_t n = 0;  // samples in each window
};

Summary growth(const std::vector<double>& values) {
  Summary s;
  if (values.size() < 2) return s;
  s.n = std::max<size_t>(1, static_cast<size_t>(std::lround(values.size() * 0.2)));
  s.min_first = values[0];
  s.min_last = values.back();
  for (size_t i = 0; i < s.n; ++i) {
    s.mean_first += values[i] / s.n;
    s.min_first = std::min(s.min_first, values[i]);
  }
  for (size_t i = values.size() - s.n; i < values.size(); ++i) {
    s.mean_last += values[i] / s.n;
    s.min_last = std::min(s.min_last, values[i]);
  }
  s.growth_pct = s.mean_first > 0 ? 100.0 * (s.mean_last - s.mean_first) / s.mean_first : 0;
  s.max = *std::max_element(values.begin(), values.end());
  return s;
}

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(std::ceil(p * v.size())) - (p > 0 ? 1 : 0))];
}

struct Options {
  double minutes = 30, sample_s = 10, warmup_min = -1, retention_s = 60, drain_min = 10, idle_s = 60, min_free_gb = 5;
  int in_flight = 2, rows = 256, slices = 120;
  std::string csv, markdown, work;
};

class Soak {
 public:
  Soak(const Options& o, const fs::path& dir) : o_(o), dir_(dir) {}

  int run(const std::string& command);

 private:
  void sampler();
  Sample takeSample(const std::string& phase);
  void push(StudyTemplate& tmpl);
  void poll(Study& s);
  void checkInOrthanc(Study& s, const json& render_job);
  void finalCheck();
  std::string report(const std::string& command);

  Options o_;
  fs::path dir_;
  std::unique_ptr<OrthancProcess> orthanc_;
  std::unique_ptr<NodeProcess> node_;
  int node_port_ = 0;
  pid_t node_pid_ = -1;
  double t0_ = 0;

  std::mutex mutex_;  // studies_ and samples_
  std::vector<Study> studies_;
  std::vector<Sample> samples_;
  std::atomic<bool> pushing_{false};
  std::atomic<bool> idle_{false};  // after the drain: nothing to do, still sampled
  std::string stopped_early_;      // why pushing ended before --minutes
  double pushed_for_s_ = 0;        // from the first push to the moment pushing stopped
  std::atomic<bool> sampling_{true};
  std::ofstream csv_;

  // Final check.
  long final_failed_ = -1, final_retry_events_ = 0;
  long lost_ = 0, in_index_ = 0, deleted_by_retention_ = 0, acknowledged_ = 0, sent_ = 0;
  long warnings_ = 0, errors_ = 0;
  std::vector<std::string> problems_;
  bool node_died_ = false;
};

Sample Soak::takeSample(const std::string& phase) {
  Sample s;
  s.t = nowSeconds() - t0_;
  s.phase = phase;
  s.proc = sampleProcess(node_pid_);
  auto jobs = parseJson(node_->get("/api/jobs?limit=1"));
  if (jobs.is_object()) {
    auto c = jobs.value("counts", json::object());
    s.queued = c.value("queued", 0L);
    s.running = c.value("running", 0L);
    s.retry = c.value("retry", 0L);
    s.failed = c.value("failed", 0L);
    s.queue = s.queued + s.running + s.retry;
  }
  auto health = parseJson(node_->get("/api/health"));
  if (health.is_object()) {
    auto index = health.value("index", json::object());
    s.index_studies = index.value("studies", 0L);
    s.index_instances = index.value("instances", 0L);
  }
  s.store_mb = volnode::bench::folderBytes(node_->dir() / "var" / "store") / 1e6;
  s.results_mb = volnode::bench::folderBytes(node_->dir() / "var" / "results") / 1e6;
  s.orthanc_mb = volnode::bench::folderBytes(dir_ / "orthanc" / "db") / 1e6;
  std::lock_guard lock(mutex_);
  s.pushed = static_cast<long>(studies_.size());
  for (const auto& st : studies_) s.delivered += st.state == StudyState::Delivered;
  return s;
}

void Soak::sampler() {
  try {
    auto next = std::chrono::steady_clock::now();
    while (sampling_) {
      Sample s = takeSample(pushing_ ? "push" : idle_ ? "idle" : "drain");
      csv_ << fixed(s.t, 1) << ',' << s.phase << ',' << s.proc.rss_kb << ',' << s.proc.rss_anon_kb << ','
           << s.proc.hwm_kb << ',' << s.proc.fds << ',' << s.proc.threads << ',' << s.proc.children_rss_kb << ',' << s.queue << ','
           << s.queued << ',' << s.running << ',' << s.retry << ',' << s.failed << ',' << s.pushed << ','
           << s.delivered << ',' << s.index_studies << ',' << s.index_instances << ',' << fixed(s.store_mb, 1)
           << ',' << fixed(s.results_mb, 1) << ',' << fixed(s.orthanc_mb, 1) << std::endl;
      std::cerr << "t=" << fixed(s.t, 0) << "s rss " << s.proc.rss_kb / 1024 << " MiB, fds " << s.proc.fds
                << ", threads " << s.proc.threads << ", queue " << s.queue << ", failed " << s.failed
                << ", pushed " << s.pushed << ", delivered " << s.delivered << ", store "
                << fixed(s.store_mb, 0) << " MB, results " << fixed(s.results_mb, 0) << " MB\n";
      {
        std::lock_guard lock(mutex_);
        samples_.push_back(s);
      }
      if (!s.proc.alive) return;
      next += std::chrono::milliseconds(static_cast<long>(o_.sample_s * 1000));
      while (sampling_ && std::chrono::steady_clock::now() < next) std::this_thread::sleep_for(50ms);
    }
  } catch (const std::exception& e) {
    std::cerr << "sampler stopped: " << e.what() << "\n";
  }
}

void Soak::push(StudyTemplate& tmpl) {
  Study s;
  {
    std::lock_guard lock(mutex_);
    s.n = static_cast<int>(studies_.size()) + 1;
  }
  fs::path folder = dir_ / "push";
  fs::remove_all(folder);
  auto w = tmpl.write(s.n, folder);
  s.study_uid = w.study_uid;
  s.series_uid = w.series_uid;
  s.patient_id = w.patient_id;
  s.sent = static_cast<int>(tmpl.instances());
  s.push_begin = nowSeconds();
  auto result = volnode::test::run({"storescu", "-aec", "VOLNODE", "-v", "+sd", "+r", "127.0.0.1",
                                    std::to_string(node_port_), folder.string()},
                                   300s);
  s.push_end = nowSeconds();
  s.acknowledged = acknowledgedIn(result.output);
  if (result.exit_code != 0 || s.acknowledged != s.sent)
    s.problem = "storescu exit " + std::to_string(result.exit_code) + ", " + std::to_string(s.acknowledged) + "/" +
                std::to_string(s.sent) + " acknowledged";
  fs::remove_all(folder);
  std::lock_guard lock(mutex_);
  studies_.push_back(s);
}

// Finds the study's jobs; on a succeeded send checks the results in Orthanc.
void Soak::poll(Study& s) {
  auto body = parseJson(node_->get("/api/jobs?study=" + s.study_uid));
  if (!body.is_object()) return;
  json render, send;
  for (const auto& job : body.value("jobs", json::array())) {
    std::string state = job.value("state", "");
    if (state == "failed" || state == "canceled") {
      s.state = StudyState::Failed;
      s.problem = job.value("kind", "") + " job " + std::to_string(job.value("id", 0)) + " " + state + ": " +
                  job.value("last_error", "");
      return;
    }
    if (job.value("kind", "") == "render" && state == "succeeded") render = job;
    if (job.value("kind", "") == "send" && state == "succeeded") send = job;
  }
  if (render.is_null() || send.is_null()) {
    // Nothing else can happen to a series the node refused; a stuck one would stop the pushing.
    auto series = parseJson(node_->get("/api/series/" + s.series_uid));
    if (series.is_object() && (series.value("state", "") == "refused" || series.value("state", "") == "failed")) {
      s.state = StudyState::Failed;
      s.problem = "series " + series.value("state", "") + ": " + series.value("state_reason", "");
    } else if (nowSeconds() - s.push_end > kStudyTimeoutS) {
      s.state = StudyState::Failed;
      s.problem = "not delivered " + fixed(kStudyTimeoutS, 0) + " s after the push (series state '" +
                  (series.is_object() ? series.value("state", "") : std::string("unknown")) + "')";
    }
    return;
  }
  s.state = StudyState::Delivered;
  s.delivered_at = isoSeconds(send.value("finished_at", ""));
  auto study = parseJson(node_->get("/api/studies/" + s.study_uid));
  s.in_index_at_delivery = study.is_object() ? study.value("instances", -1) : -1;
  if (s.in_index_at_delivery != s.acknowledged)
    s.problem = "index holds " + std::to_string(s.in_index_at_delivery) + " of " + std::to_string(s.acknowledged) +
                " acknowledged instances at delivery";
  checkInOrthanc(s, parseJson(node_->get("/api/jobs/" + std::to_string(render.value("id", 0)))));
}

void Soak::checkInOrthanc(Study& s, const json& render_job) {
  std::set<std::string> expected;
  if (render_job.is_object())
    for (const auto& out : render_job.value("outputs", json::array())) expected.insert(out.value("SOPInstanceUID", ""));
  httplib::Client client("127.0.0.1", orthanc_->httpPort());
  client.set_read_timeout(60);
  std::string why;
  for (int attempt = 0; attempt < 20; ++attempt) {
    why.clear();
    auto found = parseJson(orthanc_->post("/tools/lookup", s.study_uid, "text/plain"));
    std::vector<std::string> ids;
    if (found.is_array())
      for (const auto& item : found)
        if (item.value("Type", "") == "Study") ids.push_back(item.value("ID", ""));
    std::set<std::string> stored;
    std::string patient;
    for (const auto& id : ids) {
      auto study = parseJson(orthanc_->get("/studies/" + id));
      if (study.is_object()) patient = study.value("PatientMainDicomTags", json::object()).value("PatientID", "");
      auto instances = parseJson(orthanc_->get("/studies/" + id + "/instances"));
      if (instances.is_array())
        for (const auto& instance : instances)
          stored.insert(instance.value("MainDicomTags", json::object()).value("SOPInstanceUID", ""));
    }
    if (expected.empty())
      why = "the render job lists no outputs";
    else if (ids.size() != 1)
      why = std::to_string(ids.size()) + " studies in Orthanc with this StudyInstanceUID";
    else if (patient != s.patient_id)
      why = "Orthanc's study has PatientID '" + patient + "'";
    else if (stored != expected)
      why = "Orthanc holds " + std::to_string(stored.size()) + " instances, the render job made " +
            std::to_string(expected.size());
    if (why.empty()) {
      s.orthanc_ok = true;
      for (const auto& id : ids) client.Delete(("/studies/" + id).c_str());  // keeps Orthanc's disk bounded
      return;
    }
    std::this_thread::sleep_for(500ms);
  }
  s.problem += (s.problem.empty() ? "" : "; ") + why;
}

// Every acknowledged instance is in the index or was deleted by retention after delivery.
void Soak::finalCheck() {
  std::map<std::string, long> retention;  // study -> instances deleted, from the node's log
  std::ifstream log(node_->logFile());
  for (std::string line; std::getline(log, line);) {
    {
      std::istringstream words(line);  // "2026-11-26 15:00:00.123 warning [module] text"
      std::string date, time, level;
      words >> date >> time >> level;
      warnings_ += level == "warning";
      errors_ += level == "error" || level == "critical";
    }
    auto at = line.find("retention: deleted study ");
    if (at == std::string::npos) continue;
    std::istringstream rest(line.substr(at + 25));
    std::string uid;
    char paren;
    long n = 0;
    rest >> uid >> paren >> n;
    retention[uid] += n;
  }
  auto jobs = parseJson(node_->get("/api/jobs?limit=1"));
  if (jobs.is_object()) final_failed_ = jobs.value("counts", json::object()).value("failed", 0L);
  auto metrics = node_->get("/metrics");
  std::istringstream lines(metrics.body);
  for (std::string line; std::getline(lines, line);)
    if (line.rfind("volnode_destination_failures_total{", 0) == 0)
      final_retry_events_ += std::lround(std::stod(line.substr(line.rfind(' ') + 1)));

  std::lock_guard lock(mutex_);
  for (auto& s : studies_) {
    sent_ += s.sent;
    acknowledged_ += s.acknowledged;
    auto study = parseJson(node_->get("/api/studies/" + s.study_uid));
    long held = study.is_object() ? study.value("instances", 0L) : 0;
    long deleted = retention.count(s.study_uid) ? retention[s.study_uid] : 0;
    if (held > 0) in_index_ += held;
    if (deleted > 0) deleted_by_retention_ += deleted;
    if (deleted > 0 && s.state != StudyState::Delivered)
      problems_.push_back("study " + std::to_string(s.n) + ": deleted by retention but never seen delivered");
    long missing = s.acknowledged - held - deleted;
    if (missing != 0) {
      lost_ += std::max(0L, missing);
      problems_.push_back("study " + std::to_string(s.n) + " (" + s.study_uid + "): " +
                          std::to_string(s.acknowledged) + " acknowledged, " + std::to_string(held) + " in the index, " +
                          std::to_string(deleted) + " deleted by retention");
    }
    if (!s.problem.empty()) problems_.push_back("study " + std::to_string(s.n) + ": " + s.problem);
    else if (s.state == StudyState::InFlight)
      problems_.push_back("study " + std::to_string(s.n) + ": not delivered when the run ended");
  }
}

std::string Soak::report(const std::string& command) {
  std::lock_guard lock(mutex_);
  std::ostringstream md;
  std::ifstream loadavg("/proc/loadavg");
  std::string load1, load5, load15;
  loadavg >> load1 >> load5 >> load15;
  std::time_t now = std::time(nullptr);
  char date[40];
  std::strftime(date, sizeof date, "%Y-%m-%d %H:%M UTC", std::gmtime(&now));
  double pushing_s = pushed_for_s_ > 0 ? pushed_for_s_ : nowSeconds() - t0_;
  double warmup_s = o_.warmup_min * 60;

  md << "Date " << date << "; machine: " << machineDescription() << "; load average at the end " << load1 << " / "
     << load5 << " / " << load15 << " (1 / 5 / 15 min); command: `" << command << "`\n\n";
  md << "Pushed for " << fixed(pushing_s / 60, 1) << " min ("
     << (!stopped_early_.empty() ? stopped_early_ : g_interrupted ? "interrupted" : "as asked") << "), sampled every " << fixed(o_.sample_s, 0) << " s; warm-up " << fixed(o_.warmup_min, 1)
     << " min; studies of " << o_.rows << "x" << o_.rows << "x" << o_.slices << " (one series each), at most "
     << o_.in_flight << " pushed and not yet delivered; retention deletes sources " << fixed(o_.retention_s, 0)
     << " s after delivery.\n\n";

  std::vector<double> rss, anon, fds, threads, children, queue;
  size_t push_samples = 0;
  for (const auto& s : samples_) {
    if (s.phase != "push") continue;
    ++push_samples;
    if (s.t < warmup_s) continue;
    rss.push_back(s.proc.rss_kb / 1024.0);
    anon.push_back(s.proc.rss_anon_kb / 1024.0);
    fds.push_back(static_cast<double>(s.proc.fds));
    threads.push_back(static_cast<double>(s.proc.threads));
    children.push_back(s.proc.children_rss_kb / 1024.0);
    queue.push_back(static_cast<double>(s.queue));
  }
  md << "| volnode process (" << rss.size() << " samples after warm-up, " << push_samples
     << " while pushing) | mean of the first 20 % | mean of the last 20 % | growth | lowest, first → last 20 % | max "
        "| goal |\n"
     << "|---|---|---|---|---|---|---|\n";
  auto row = [&](const std::string& name, const std::vector<double>& v, int digits, bool goal) {
    Summary g = growth(v);
    md << "| " << name << " | " << fixed(g.mean_first, digits) << " | " << fixed(g.mean_last, digits) << " | "
       << (g.growth_pct >= 0 ? "+" : "") << fixed(g.growth_pct, 1) << " % | " << fixed(g.min_first, digits) << " → "
       << fixed(g.min_last, digits) << " | " << fixed(g.max, digits) << " | "
       << (goal ? (v.size() < 2 ? "too few samples" : g.growth_pct <= 5 ? "≤ 5 %: **met**" : "≤ 5 %: **not met**")
                : "")
       << " |\n";
  };
  row("resident memory VmRSS (MiB)", rss, 1, true);
  row("anonymous resident memory RssAnon (MiB)", anon, 1, false);
  row("open file descriptors", fds, 1, true);
  row("threads", threads, 1, true);
  row("its child processes' VmRSS (Xvfb, MiB)", children, 1, false);
  row("queue depth (render + send jobs queued, running, retry)", queue, 2, false);

  long delivered = 0, orthanc_ok = 0, failed_studies = 0;
  std::vector<double> latency;
  for (const auto& s : studies_) {
    if (s.state == StudyState::Delivered) {
      ++delivered;
      latency.push_back(s.delivered_at - s.push_end);
    }
    failed_studies += s.state == StudyState::Failed;
    orthanc_ok += s.orthanc_ok;
  }
  double store_max = 0, results_end = 0, orthanc_max = 0, store_end = 0;
  for (const auto& s : samples_) {
    store_max = std::max(store_max, s.store_mb);
    orthanc_max = std::max(orthanc_max, s.orthanc_mb);
    results_end = s.results_mb;
    store_end = s.store_mb;
  }
  double minutes = std::max(pushing_s / 60, 1e-9);
  const Sample* idle_last = nullptr;
  long hwm_kb = 0;
  for (const auto& s : samples_) {
    if (s.phase == "idle") idle_last = &s;
    hwm_kb = std::max(hwm_kb, s.proc.hwm_kb);
  }
  md << "\n| outcome | value | goal |\n|---|---|---|\n";
  md << "| studies pushed / delivered / failed | " << studies_.size() << " / " << delivered << " / " << failed_studies
     << " (" << fixed(delivered / minutes, 2) << " studies/min) | |\n";
  md << "| delivered studies found intact in Orthanc (same StudyInstanceUID and PatientID, every result) | "
     << orthanc_ok << " of " << delivered << " | all |\n";
  md << "| storescu push → results delivered (send job finished), median / p95 / max | "
     << fixed(percentile(latency, 0.5), 1) << " / " << fixed(percentile(latency, 0.95), 1) << " / "
     << fixed(latency.empty() ? 0 : *std::max_element(latency.begin(), latency.end()), 1) << " s | |\n";
  md << "| failed jobs (GET /api/jobs) | " << final_failed_ << " | 0: **" << (final_failed_ == 0 ? "met" : "not met")
     << "** |\n";
  md << "| failed send attempts (volnode_destination_failures_total) | " << final_retry_events_ << " | |\n";
  md << "| instances sent / acknowledged | " << sent_ << " / " << acknowledged_ << " | |\n";
  md << "| acknowledged instances in the index at the end / deleted by retention after delivery | " << in_index_
     << " / " << deleted_by_retention_ << " | |\n";
  md << "| lost instances | " << lost_ << " | 0: **" << (lost_ == 0 ? "met" : "not met") << "** |\n";
  md << "| node store at the end / max (MB) | " << fixed(store_end, 0) << " / " << fixed(store_max, 0)
     << " | bounded |\n";
  md << "| node results folder at the end (MB) | " << fixed(results_end, 0) << " | |\n";
  md << "| Orthanc storage max (MB) | " << fixed(orthanc_max, 0) << " | bounded |\n";
  md << "| node peak resident memory (VmHWM, MiB) | " << fixed(hwm_kb / 1024.0, 0) << " | |\n";
  if (idle_last)
    md << "| node after " << fixed(o_.idle_s, 0) << " s idle at the end: VmRSS / RssAnon (MiB), fds, threads | "
       << fixed(idle_last->proc.rss_kb / 1024.0, 0) << " / " << fixed(idle_last->proc.rss_anon_kb / 1024.0, 0) << ", "
       << idle_last->proc.fds << ", " << idle_last->proc.threads << " | |\n";
  md << "| warning / error lines in the node's log | " << warnings_ << " / " << errors_ << " | |\n";
  if (node_died_) md << "\n**The node stopped during the run.**\n";
  if (!problems_.empty()) {
    md << "\nProblems:\n\n";
    for (size_t i = 0; i < problems_.size() && i < 30; ++i) md << "- " << problems_[i] << "\n";
    if (problems_.size() > 30) md << "- ... and " << problems_.size() - 30 << " more\n";
  }

  // One row per minute (the CSV has every sample).
  md << "\n| t (min) | phase | VmRSS MiB | RssAnon MiB | fds | threads | Xvfb MiB | queue | failed | pushed | "
        "delivered | store MB | results MB |\n|---|---|---|---|---|---|---|---|---|---|---|---|---|\n";
  double next_minute = 0;
  for (size_t i = 0; i < samples_.size(); ++i) {
    const auto& s = samples_[i];
    if (s.t + 0.5 < next_minute && i + 1 != samples_.size()) continue;
    next_minute = std::floor(s.t / 60 + 0.01) * 60 + 60;
    md << "| " << fixed(s.t / 60, 1) << " | " << s.phase << " | " << fixed(s.proc.rss_kb / 1024.0, 1) << " | "
       << fixed(s.proc.rss_anon_kb / 1024.0, 1) << " | " << s.proc.fds << " | " << s.proc.threads << " | "
       << fixed(s.proc.children_rss_kb / 1024.0, 1) << " | " << s.queue << " | " << s.failed << " | " << s.pushed
       << " | " << s.delivered << " | " << fixed(s.store_mb, 0) << " | " << fixed(s.results_mb, 0) << " |\n";
  }
  return md.str();
}

int Soak::run(const std::string& command) {
  std::cerr << "generating the template series (" << o_.rows << "x" << o_.rows << "x" << o_.slices << ")...\n";
  StudyTemplate tmpl(dir_ / "template", o_.rows, o_.slices);
  std::cerr << "  " << tmpl.instances() << " instances, " << fixed(tmpl.megabytes(), 1) << " MB per study\n";

  node_port_ = freePort();
  orthanc_ = std::make_unique<OrthancProcess>(dir_ / "orthanc",
                                              std::vector<OrthancModality>{{"volnode", "VOLNODE", "127.0.0.1", node_port_}});
  node_ = std::make_unique<NodeProcess>(
      dir_ / "node",
      std::vector<std::string>{"dicom.port=" + std::to_string(node_port_), "destinations.pacs.aet=ORTHANC",
                               "destinations.pacs.host=127.0.0.1",
                               "destinations.pacs.port=" + std::to_string(orthanc_->dicomPort()),
                               "retention.delete_after_days=" + fixed(o_.retention_s / 86400.0, 9),
                               "retention.check_every_s=" + fixed(std::clamp(o_.retention_s / 4, 1.0, 60.0), 0)});
  {
    std::ifstream lock(node_->dir() / "var" / "volnode.lock");
    long pid = 0;
    lock >> pid;
    node_pid_ = static_cast<pid_t>(pid);
  }
  if (node_pid_ <= 0 || !fs::exists("/proc/" + std::to_string(node_pid_)))
    throw std::runtime_error("cannot find the node's pid in its volnode.lock");
  std::cerr << "volnode pid " << node_pid_ << " (DICOM port " << node_port_ << "), Orthanc DICOM port "
            << orthanc_->dicomPort() << "\n";

  if (!o_.csv.empty()) {
    csv_.open(o_.csv);
    if (!csv_) throw std::runtime_error("cannot write " + o_.csv);
  }
  csv_ << "t_s,phase,rss_kb,rss_anon_kb,hwm_kb,fds,threads,children_rss_kb,queue,queued,running,retry,failed,pushed,"
          "delivered,index_studies,index_instances,store_mb,results_mb,orthanc_mb"
       << std::endl;
  t0_ = nowSeconds();
  pushing_ = true;
  std::thread sampler_thread([this] { sampler(); });
  struct StopSampler {  // also when a step below throws: a joinable thread must not be destroyed
    Soak* soak;
    std::thread& thread;
    ~StopSampler() {
      soak->sampling_ = false;
      if (thread.joinable()) thread.join();
    }
  } stop_sampler{this, sampler_thread};

  auto push_end = std::chrono::steady_clock::now() + std::chrono::milliseconds(static_cast<long>(o_.minutes * 60000));
  auto drain_end = push_end + std::chrono::milliseconds(static_cast<long>(o_.drain_min * 60000));
  while (!g_interrupted) {
    auto now = std::chrono::steady_clock::now();
    if (pushing_ && now >= push_end) {
      pushing_ = false;
      pushed_for_s_ = nowSeconds() - t0_;
      std::cerr << "pushing ended; waiting for the studies in flight\n";
    }
    // Results are kept by the node (retention deletes only source instances): stop
    // pushing rather than fill the disk that others share.
    if (std::error_code ec; pushing_ && fs::space(dir_, ec).available < o_.min_free_gb * 1e9 && !ec) {
      pushing_ = false;
      pushed_for_s_ = nowSeconds() - t0_;
      stopped_early_ = "stopped early: less than " + fixed(o_.min_free_gb, 1) + " GB free disk";
      std::cerr << stopped_early_ << "\n";
    }
    if (!node_->running()) {
      node_died_ = true;
      std::cerr << "the node stopped\n";
      break;
    }
    std::vector<size_t> in_flight;
    {
      std::lock_guard lock(mutex_);
      for (size_t i = 0; i < studies_.size(); ++i)
        if (studies_[i].state == StudyState::InFlight) in_flight.push_back(i);
    }
    size_t open = 0;
    for (size_t i : in_flight) {
      Study s;
      {
        std::lock_guard lock(mutex_);
        s = studies_[i];
      }
      poll(s);
      if (s.state == StudyState::Failed || (s.state == StudyState::Delivered && !s.problem.empty()))
        std::cerr << "study " << s.n << ": " << s.problem << "\n";
      open += s.state == StudyState::InFlight;
      std::lock_guard lock(mutex_);
      studies_[i] = s;
    }
    if (pushing_ && open < static_cast<size_t>(o_.in_flight)) {
      push(tmpl);
      continue;
    }
    if (!pushing_ && open == 0) break;
    if (!pushing_ && now >= drain_end) {
      std::cerr << "drain time over with " << open << " studies in flight\n";
      break;
    }
    pause(500ms);
  }
  // Idle: does the node give memory back when there is nothing to do?
  if (!g_interrupted && !node_died_ && o_.idle_s > 0) {
    idle_ = true;
    std::cerr << "idle for " << fixed(o_.idle_s, 0) << " s\n";
    pause(std::chrono::milliseconds(static_cast<long>(o_.idle_s * 1000)));
  }
  sampling_ = false;
  sampler_thread.join();
  if (!node_died_) {
    Sample last = takeSample("end");
    std::lock_guard lock(mutex_);
    samples_.push_back(last);
  }
  if (!node_died_) finalCheck();
  std::string md = report(command);
  std::cout << md;
  if (!o_.markdown.empty()) std::ofstream(o_.markdown) << md;
  bool ok = !node_died_ && final_failed_ == 0 && lost_ == 0 && problems_.empty() && !studies_.empty();
  return ok ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; i += 2) {
    std::string flag = argv[i];
    if (i + 1 >= argc) {
      std::cerr << flag << " needs a value\n";
      return 2;
    }
    std::string value = argv[i + 1];
    try {
      if (flag == "--minutes") o.minutes = std::stod(value);
      else if (flag == "--sample-s") o.sample_s = std::stod(value);
      else if (flag == "--warmup-min") o.warmup_min = std::stod(value);
      else if (flag == "--in-flight") o.in_flight = std::stoi(value);
      else if (flag == "--rows") o.rows = std::stoi(value);
      else if (flag == "--slices") o.slices = std::stoi(value);
      else if (flag == "--retention-s") o.retention_s = std::stod(value);
      else if (flag == "--drain-min") o.drain_min = std::stod(value);
      else if (flag == "--idle-s") o.idle_s = std::stod(value);
      else if (flag == "--min-free-gb") o.min_free_gb = std::stod(value);
      else if (flag == "--csv") o.csv = value;
      else if (flag == "--markdown") o.markdown = value;
      else if (flag == "--work") o.work = value;
      else {
        std::cerr << "unknown option " << flag
                  << "\nusage: bench_soak [--minutes 30] [--sample-s 10] [--warmup-min 3] [--in-flight 2] [--rows 256] "
                     "[--slices 120] [--retention-s 60] [--drain-min 10] [--idle-s 60] [--min-free-gb 5] [--csv FILE] "
                     "[--markdown FILE] [--work DIR]\n";
        return 2;
      }
    } catch (const std::exception&) {
      std::cerr << "bad value for " << flag << ": " << value << "\n";
      return 2;
    }
  }
  if (o.minutes <= 0 || o.sample_s <= 0 || o.in_flight < 1 || o.rows < 16 || o.slices < 20 || o.retention_s <= 0) {
    std::cerr << "out of range: --minutes, --sample-s, --retention-s > 0; --in-flight >= 1; --rows >= 16; "
                 "--slices >= 20 (the CT rule needs 20)\n";
    return 2;
  }
  // Default warm-up: 3 minutes, but at most a third of a short run.
  if (o.warmup_min < 0) o.warmup_min = std::min(3.0, o.minutes / 3);

  std::string command;
  for (int i = 0; i < argc; ++i) command += (i ? " " : "") + std::string(argv[i]);

  struct sigaction action {};
  action.sa_handler = onSignal;
  sigemptyset(&action.sa_mask);
  sigaction(SIGINT, &action, nullptr);
  sigaction(SIGTERM, &action, nullptr);
  signal(SIGPIPE, SIG_IGN);
  setenv("TCP_NODELAY", "1", 1);  // storescu without it waits on Nagle + delayed ACK per instance

  std::unique_ptr<TempDir> temp;
  fs::path dir;
  if (o.work.empty()) {
    temp = std::make_unique<TempDir>("volnode-bench-soak");
    dir = temp->path();
  } else {
    dir = fs::absolute(o.work);
    fs::create_directories(dir);
  }
  int rc = 1;
  try {
    // The servers are members of `soak`: they are stopped (by pid) when it goes,
    // also after an exception. The CSV is written as the samples come.
    Soak soak(o, dir);
    rc = soak.run(command);
  } catch (const std::exception& e) {
    std::cerr << "bench_soak: " << e.what() << "\n";
    rc = 1;
  }
  return rc;
}
