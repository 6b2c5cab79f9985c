// bench_e2e: from the last instance a PACS pushes to every result stored back in
// that PACS, per stage, with volnode's default render settings.
//
// For each series: a fresh Orthanc (Debian's package, loopback, volnode as a
// modality) and a fresh `volnode serve` (defaults: 36 spin frames of 512 px,
// completion.quiet_s 10, release_grace_s 2), the series uploaded to Orthanc over
// REST (not timed), then Orthanc pushes it to volnode (POST /modalities/volnode/store).
// Stage times come from the node's own millisecond timestamps (GET /api/series,
// /api/jobs) and from polling Orthanc every 100 ms for the 3D results and for every result:
//   last instance received -> series complete -> render job started -> rendered
//   -> send job finished (after the render job's end) ; 3D results, every result in Orthanc.
// The goal's figure is the last: every planned result acknowledged and stored by Orthanc.
//
//   bench_e2e [--phantom DIR] [--slices N] [--series DIR] [--repeat N] [--markdown FILE] [--only phantom|generated]
//             [--burst N] [--set KEY=VALUE ...] [--node-log FILE]
// --phantom: the 140-slice head CT (default ../shared/data/ct-head-phantom-study/S2020)
// --series keeps the generated 512x512xN CT in DIR (and reuses it when present).
// --burst N: instead, the generated CT alone and then N copies of it pushed together
// (see runBurst): p50/p95 of last instance -> results acknowledged, against the single study.
// --set: a node setting besides the defaults (repeatable), e.g. destinations.pacs.associations=1
// --node-log: appends each run's node log to FILE (e.g. for the send passes' timings).
#include <algorithm>
#include <chrono>
#include <cmath>
#include <ctime>
#include <fstream>
#include <functional>
#include <iomanip>
#include <iostream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <thread>

#include "support/node_api.hpp"
#include "support/node_process.hpp"
#include "support/orthanc_process.hpp"
#include "support/process.hpp"
#include "support/synthetic_series.hpp"
#include "../common/ct_body_phantom.hpp"
#include "../common/iso_time.hpp"

using namespace volnode::test;
using volnode::bench::isoSeconds;
using nlohmann::json;
using namespace std::chrono_literals;
using Clock = std::chrono::system_clock;

namespace {

double nowSeconds() { return std::chrono::duration<double>(Clock::now().time_since_epoch()).count(); }

json getJson(const HttpResponse& r) { return r.status == 200 ? json::parse(r.body, nullptr, false) : json(); }

struct Run {
  std::string name;
  int slices = 0;
  double mb = 0;
  double push_s = 0;             // Orthanc's C-STORE of the whole series (first to last instance)
  double complete_s = 0;         // last instance received -> series complete (confirmed, when started on release)
  double render_wait_s = 0;      // complete -> render job started (negative: started on release, before)
  double render_s = 0;           // render job started -> succeeded (renders, mesh, encode)
  double send_s = 0;             // render succeeded -> send job succeeded (objects leave as they are encoded)
  double visible_s = 0;          // last instance received -> the 3D results (not reformats) in Orthanc (poll, 100 ms)
  double total_s = 0;            // last instance received -> send job succeeded (after the render job ended)
  double all_in_s = 0;           // last instance received -> every planned result in Orthanc (poll, 100 ms)
  // Last instance received -> the route job (the rules' decision) queued, started, finished.
  double route_queued_s = 0, route_start_s = 0, route_end_s = 0;
  std::string completion_reason;
  std::string render_log;        // the node's "job N rendered series ..." line (its own stage timings)
};

// The newest render job with its planned outputs (GET /api/jobs/<id>); null while there is none.
json newestRenderJob(const NodeProcess& node) {
  auto renders = getJson(node.get("/api/jobs?kind=render"));
  if (!renders.is_object() || renders["jobs"].empty()) return nullptr;
  return getJson(node.get("/api/jobs/" + std::to_string(renders["jobs"].at(0).value("id", int64_t{0}))));
}

// Whether every 3D result (spins, key views, model: the render job's outputs that are
// not reformat slices) is in Orthanc's study.
bool threeDimensionalResultsIn(const OrthancProcess& orthanc, const json& job, const std::string& study) {
  if (!job.is_object()) return false;
  std::set<std::string> wanted;
  for (const auto& o : job["outputs"])
    if (o.value("kind", "") != "reformat") wanted.insert(o.value("SOPInstanceUID", ""));
  if (wanted.size() < kResultsPerCtSeries) return false;
  auto instances = getJson(orthanc.get("/studies/" + study + "/instances"));
  for (const auto& i : instances) wanted.erase(i["MainDicomTags"].value("SOPInstanceUID", ""));
  return wanted.empty();
}

// Whether Orthanc's study holds every result the render job planned, beside the
// `sources` pushed: each result acknowledged. The send job itself ends only with the
// render job, whose last step (the viewer's volume file) comes after its last result.
bool everyResultIn(const OrthancProcess& orthanc, const json& job, const std::string& study, int sources) {
  if (!job.is_object()) return false;
  const size_t planned = job["outputs"].size();
  if (planned < kResultsPerCtSeries) return false;
  auto statistics = getJson(orthanc.get("/studies/" + study + "/statistics"));
  return statistics.is_object() && statistics.value("CountInstances", size_t{0}) >= size_t(sources) + planned;
}

// The node's settings: Orthanc as destination `pacs`, and the extra ones of --set.
std::vector<std::string> nodeSettings(int node_port, const OrthancProcess& orthanc,
                                      const std::vector<std::string>& extra) {
  std::vector<std::string> settings{"dicom.port=" + std::to_string(node_port), "destinations.pacs.aet=ORTHANC",
                                    "destinations.pacs.host=127.0.0.1",
                                    "destinations.pacs.port=" + std::to_string(orthanc.dicomPort())};
  settings.insert(settings.end(), extra.begin(), extra.end());
  return settings;
}

Run runOne(const std::string& name, const std::vector<std::filesystem::path>& files,
           const std::vector<std::string>& extra_settings, const std::string& node_log) {
  Run run;
  run.name = name;
  TempDir dir("volnode-bench-e2e");
  int node_port = freePort();
  OrthancProcess orthanc(dir / "orthanc", {{"volnode", "VOLNODE", "127.0.0.1", node_port}});
  NodeProcess node(dir / "node", nodeSettings(node_port, orthanc, extra_settings));
  std::string study, series_uid;
  for (const auto& f : files) {
    auto bytes = readBytes(f);
    auto r = orthanc.post("/instances", bytes, "application/dicom");
    if (r.status != 200) continue;
    run.mb += bytes.size() / 1e6;
    ++run.slices;
    auto body = json::parse(r.body);
    study = body.value("ParentStudy", study);
  }
  if (study.empty()) throw std::runtime_error("no DICOM instance in the series of " + name);
  auto orthanc_series = getJson(orthanc.get("/studies/" + study + "/series"));
  series_uid = orthanc_series.at(0)["MainDicomTags"].value("SeriesInstanceUID", "");

  double push_begin = nowSeconds();
  auto pushed = orthanc.post("/modalities/volnode/store", json{{"Resources", {study}}}.dump());
  if (pushed.status != 200) throw std::runtime_error("Orthanc could not push: " + pushed.body);
  double push_end = nowSeconds();

  // The 3D results (the first objects the render produces) visible in Orthanc, and the
  // send job done: every result, reformats included, acknowledged by Orthanc.
  double visible_at = 0, all_in_at = 0;
  json send;
  auto deadline = std::chrono::steady_clock::now() + 600s;
  while (std::chrono::steady_clock::now() < deadline && !send.is_object()) {
    if (visible_at == 0 || all_in_at == 0) {
      const json render = newestRenderJob(node);  // once a poll, for both checks
      if (visible_at == 0 && threeDimensionalResultsIn(orthanc, render, study)) visible_at = nowSeconds();
      if (all_in_at == 0 && everyResultIn(orthanc, render, study, run.slices)) all_in_at = nowSeconds();
    }
    auto jobs = getJson(node.get("/api/jobs?kind=send"));
    for (const auto& j : jobs["jobs"])
      if (j.value("state", "") == "succeeded") send = j;
    if (!send.is_object()) std::this_thread::sleep_for(100ms);
  }
  if (all_in_at == 0 && everyResultIn(orthanc, newestRenderJob(node), study, run.slices)) all_in_at = nowSeconds();
  if (!send.is_object()) throw std::runtime_error("results did not arrive in Orthanc; node log:\n" + node.log());
  auto render_jobs = getJson(node.get("/api/jobs?kind=render"));
  json render = render_jobs["jobs"].at(0);
  auto series = getJson(node.get("/api/series/" + series_uid));
  double last_received = isoSeconds(series.value("last_received", ""));
  double complete_at = 0;
  for (const auto& t : series["transitions"])
    if (t.value("state", "") == "complete" && complete_at == 0) {
      complete_at = isoSeconds(t.value("at", ""));
      run.completion_reason = t.value("reason", "");
    }
  // Started on release (completion.speculative_start): the series is complete when the
  // grace confirmed it, which the render job's events record; the render began before.
  auto render_detail = getJson(node.get("/api/jobs/" + std::to_string(render.value("id", int64_t{0}))));
  for (const auto& e : render_detail["events"])
    if (e.value("message", "").find("speculative start confirmed") != std::string::npos) {
      complete_at = isoSeconds(e.value("at", ""));
      run.completion_reason = e.value("message", "");
    }
  // The route job (the routing rules' decision, a header scan) that queued this render.
  const auto routes = getJson(node.get("/api/jobs?kind=route"));
  for (const auto& route : routes["jobs"])
    if (route.value("SeriesInstanceUID", "") == series_uid) {
      run.route_queued_s = isoSeconds(route.value("created_at", "")) - last_received;
      run.route_start_s = isoSeconds(route.value("started_at", "")) - last_received;
      run.route_end_s = isoSeconds(route.value("finished_at", "")) - last_received;
    }
  double render_started = isoSeconds(render.value("started_at", ""));
  double render_finished = isoSeconds(render.value("finished_at", ""));
  double send_finished = send.is_object() ? isoSeconds(send.value("finished_at", "")) : 0;

  run.push_s = push_end - push_begin;
  run.complete_s = complete_at - last_received;
  run.render_wait_s = render_started - complete_at;
  run.render_s = render_finished - render_started;
  run.send_s = send_finished - render_finished;
  run.total_s = send_finished - last_received;
  run.visible_s = visible_at - last_received;
  run.all_in_s = all_in_at - last_received;
  std::istringstream log(node.log());
  for (std::string line; std::getline(log, line);)
    if (line.find("rendered series") != std::string::npos) run.render_log = line.substr(std::min(line.size(), line.find("job ")));
  if (!node_log.empty()) std::ofstream(node_log, std::ios::app) << node.log();
  return run;
}

// --burst: one Orthanc and one node; first one study alone, then `copies` copies of
// it (new UIDs, made by Orthanc's /modify) pushed together, one
// association each, as a PACS pushing a backlog. Per study: the node's last instance
// received -> its send job finished (every result acknowledged by Orthanc).
struct BurstStudy {
  std::string orthanc_id, series_uid;
  double last_received = 0, complete_at = 0, sent_at = 0;
  double latency() const { return sent_at - last_received; }
  double processing() const { return sent_at - complete_at; }  // queueing, render and send
};

struct Burst {
  int slices = 0;
  BurstStudy single;
  std::vector<BurstStudy> studies;
  double push_s = 0;  // first push requested -> Orthanc's last push job done
};

std::string seriesOfStudy(const OrthancProcess& orthanc, const std::string& study) {
  auto series = getJson(orthanc.get("/studies/" + study + "/series"));
  if (!series.is_array() || series.empty()) throw std::runtime_error("Orthanc study " + study + " has no series");
  return series.at(0)["MainDicomTags"].value("SeriesInstanceUID", "");
}

// Waits until the send job of each study succeeded; fills in the node's times.
// `check` runs at each poll (e.g. to stop when the PACS gave up pushing a study).
void waitForResults(const NodeProcess& node, std::vector<BurstStudy*> studies, std::chrono::seconds limit,
                    const std::function<void()>& check = {}) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (true) {
    if (check) check();
    auto jobs = getJson(node.get("/api/jobs?kind=send&limit=500"));
    size_t done = 0;
    for (auto* study : studies) {
      for (const auto& j : jobs["jobs"])
        if (j.value("SeriesInstanceUID", "") == study->series_uid && j.value("state", "") == "succeeded")
          study->sent_at = isoSeconds(j.value("finished_at", ""));
      done += study->sent_at > 0;
    }
    if (done == studies.size()) break;
    if (std::chrono::steady_clock::now() > deadline)
      throw std::runtime_error(std::to_string(studies.size() - done) + " studies without results; node log:\n" +
                               node.log());
    std::this_thread::sleep_for(250ms);
  }
  for (auto* study : studies) {
    auto series = getJson(node.get("/api/series/" + study->series_uid));
    study->last_received = isoSeconds(series.value("last_received", ""));
    for (const auto& t : series["transitions"])
      if (t.value("state", "") == "complete" && study->complete_at == 0) study->complete_at = isoSeconds(t.value("at", ""));
  }
}

// Orthanc's job times ("20261205T052510.650459", UTC) as seconds since the epoch.
double orthancSeconds(const std::string& t) {
  if (t.size() < 15) return 0;
  return isoSeconds(t.substr(0, 4) + "-" + t.substr(4, 2) + "-" + t.substr(6, 2) + "T" + t.substr(9, 2) + ":" +
                    t.substr(11, 2) + ":" + t.substr(13, 2) + t.substr(15, 4));
}

Burst runBurst(const std::vector<std::filesystem::path>& files, int copies,
               const std::vector<std::string>& extra_settings) {
  Burst burst;
  TempDir dir("volnode-bench-e2e-burst");
  int node_port = freePort();
  // Orthanc runs up to 7 pushes at once, the others wait in Orthanc (its default is 2):
  // one below the node's default dicom.max_associations (8). Orthanc opens its next
  // association the moment one is released; the node now waits briefly for the worker
  // still winding down (AssociationReuse test), and 7 keeps the recorded runs comparable.
  OrthancProcess orthanc(dir / "orthanc", {{"volnode", "VOLNODE", "127.0.0.1", node_port}},
                         "\"ConcurrentJobs\": " + std::to_string(std::min(copies, 7)));
  NodeProcess node(dir / "node", nodeSettings(node_port, orthanc, extra_settings));
  std::string original;
  for (const auto& f : files) {
    auto r = orthanc.post("/instances", readBytes(f), "application/dicom");
    if (r.status != 200) continue;
    ++burst.slices;
    original = json::parse(r.body).value("ParentStudy", original);
  }
  if (original.empty()) throw std::runtime_error("no DICOM instance in the burst series");
  std::cerr << "burst: making " << copies << " copies with new UIDs in Orthanc...\n";
  for (int k = 0; k < copies; ++k) {
    // Orthanc gives the copy new study, series and instance UIDs (same patient).
    auto r = orthanc.post("/studies/" + original + "/modify",
                          json{{"Replace", {{"StudyDescription", "burst " + std::to_string(k + 1)},
                                            {"AccessionNumber", "BURST" + std::to_string(k + 1)}}}}
                              .dump());
    if (r.status != 200) throw std::runtime_error("Orthanc could not copy the study: " + r.body);
    BurstStudy study;
    study.orthanc_id = json::parse(r.body).value("ID", "");
    study.series_uid = seriesOfStudy(orthanc, study.orthanc_id);
    burst.studies.push_back(study);
  }

  std::cerr << "burst: one study alone...\n";
  burst.single.orthanc_id = original;
  burst.single.series_uid = seriesOfStudy(orthanc, original);
  auto pushed = orthanc.post("/modalities/volnode/store", json{{"Resources", {original}}}.dump());
  if (pushed.status != 200) throw std::runtime_error("Orthanc could not push: " + pushed.body);
  waitForResults(node, {&burst.single}, 600s);

  std::cerr << "burst: " << copies << " studies pushed together...\n";
  const double push_begin = nowSeconds();
  std::vector<std::string> push_jobs;
  for (const auto& study : burst.studies) {
    auto r = orthanc.post("/modalities/volnode/store",
                          json{{"Resources", {study.orthanc_id}}, {"Asynchronous", true}}.dump());
    if (r.status != 200) throw std::runtime_error("Orthanc could not push: " + r.body);
    push_jobs.push_back(json::parse(r.body).value("ID", ""));
  }
  std::vector<BurstStudy*> pending;
  for (auto& study : burst.studies) pending.push_back(&study);
  waitForResults(node, pending, 1800s, [&] {
    for (const auto& id : push_jobs)
      if (getJson(orthanc.get("/jobs/" + id)).value("State", "") == "Failure")
        throw std::runtime_error("Orthanc's push job " + id + " failed: " + orthanc.get("/jobs/" + id).body);
  });
  double pushes_done = 0;
  for (const auto& id : push_jobs)
    pushes_done = std::max(pushes_done, orthancSeconds(getJson(orthanc.get("/jobs/" + id)).value("CompletionTime", "")));
  burst.push_s = pushes_done - push_begin;
  return burst;
}

// Nearest-rank percentile.
double percentile(std::vector<double> values, double p) {
  std::sort(values.begin(), values.end());
  size_t rank = static_cast<size_t>(std::ceil(p / 100.0 * static_cast<double>(values.size())));
  return values[std::clamp<size_t>(rank, 1, values.size()) - 1];
}

std::string fmt1(double v) {
  std::ostringstream s;
  s << std::fixed << std::setprecision(1) << v;
  return s.str();
}

std::string fmt2(double v) {
  std::ostringstream s;
  s << std::fixed << std::setprecision(2) << v;
  return s.str();
}

}  // namespace

int main(int argc, char** argv) {
  std::filesystem::path phantom = sharedData() / "ct-head-phantom-study" / "S2020";
  std::string series_dir, markdown, only, node_log;
  std::vector<std::string> extra_settings;
  int slices = 300, repeat = 1, burst = 0;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string flag = argv[i];
    if (flag == "--phantom") phantom = argv[i + 1];
    else if (flag == "--slices") slices = std::stoi(argv[i + 1]);
    else if (flag == "--series") series_dir = argv[i + 1];
    else if (flag == "--repeat") repeat = std::stoi(argv[i + 1]);
    else if (flag == "--markdown") markdown = argv[i + 1];
    else if (flag == "--only") only = argv[i + 1];
    else if (flag == "--burst") burst = std::stoi(argv[i + 1]);
    else if (flag == "--set") extra_settings.push_back(argv[i + 1]);
    else if (flag == "--node-log") node_log = argv[i + 1];
    else {
      std::cerr << "unknown option " << flag << "\n";
      return 2;
    }
  }

  TempDir work("volnode-bench-e2e-series");
  std::vector<std::pair<std::string, std::vector<std::filesystem::path>>> inputs;
  if ((only.empty() && burst == 0) || only == "phantom") {
    std::vector<std::filesystem::path> files;
    for (const auto& e : std::filesystem::directory_iterator(phantom)) files.push_back(e.path());
    std::sort(files.begin(), files.end());
    inputs.push_back({"phantom head CT S2020 (512x512x140)", files});
  }
  if (only.empty() || only == "generated") {
    SyntheticSeries s;
    s.rows = s.cols = 512;
    s.row_spacing = s.col_spacing = 0.7;
    s.slices = slices;
    s.origin = {-179.2, -179.2, -150};
    // The body phantom of the render benchmark: bone, lungs, contrast, so the
    // ct-bone and MIP renders have realistic work (not a few markers in air).
    s.value = [](const Vec3& p) { return volnode::bench::ctBodyPhantomHu(p[0], p[1], p[2]); };
    std::filesystem::path path = series_dir.empty() ? work / "generated" : std::filesystem::path(series_dir);
    std::vector<std::filesystem::path> files;
    if (std::filesystem::exists(path))
      for (const auto& e : std::filesystem::directory_iterator(path)) files.push_back(e.path());
    if (files.empty()) {
      std::cerr << "generating " << slices << " slices of 512x512...\n";
      files = writeSyntheticSeries(s, path).files;
    }
    std::sort(files.begin(), files.end());
    inputs.push_back({"generated body CT (512x512x" + std::to_string(files.size()) + ")", files});
  }

  std::string command;
  for (int i = 0; i < argc; ++i) command += (i ? " " : "") + std::string(argv[i]);
  if (burst > 0) {
    const auto& files = inputs.back().second;
    auto b = runBurst(files, burst, extra_settings);
    std::vector<double> latencies, anchors;
    for (const auto& study : b.studies) {
      latencies.push_back(study.latency());
      anchors.push_back(60 + study.processing());
    }
    std::ostringstream out;
    std::time_t now = std::time(nullptr);
    char date[32];
    std::strftime(date, sizeof date, "%Y-%m-%d %H:%M UTC", std::gmtime(&now));
    std::ifstream loadavg("/proc/loadavg");
    std::string load1, load5;
    loadavg >> load1 >> load5;
    out << "Date " << date << "; machine: " << machineDescription() << "; load average at the end " << load1
        << " (1 min), " << load5 << " (5 min); command: `" << command << "`\n\n";
    out << "| run | last instance -> every result acknowledged by Orthanc | Orthanc stable age 60 s + the same "
           "processing |\n|---|---|---|\n";
    out << "| 1 study alone (" << b.slices << " slices) | " << fmt2(b.single.latency()) << " s | "
        << fmt1(60 + b.single.processing()) << " s |\n";
    out << "| burst of " << burst << ": p50 | " << fmt2(percentile(latencies, 50)) << " s | "
        << fmt1(percentile(anchors, 50)) << " s |\n";
    out << "| burst of " << burst << ": p95 | " << fmt2(percentile(latencies, 95)) << " s | "
        << fmt1(percentile(anchors, 95)) << " s |\n\n";
    out << "p95 / single study: " << fmt1(percentile(latencies, 95) / b.single.latency())
        << "x; Orthanc's pushes of the burst took " << fmt1(b.push_s) << " s; per study (in push order): ";
    for (size_t i = 0; i < latencies.size(); ++i) out << (i ? ", " : "") << fmt1(latencies[i]);
    out << " s\n";
    std::cout << out.str();
    if (!markdown.empty()) std::ofstream(markdown) << out.str();
    return 0;
  }

  std::vector<Run> runs;
  for (const auto& [name, files] : inputs)
    for (int r = 0; r < repeat; ++r) {
      std::cerr << "run " << r + 1 << "/" << repeat << ": " << name << "...\n";
      runs.push_back(runOne(name, files, extra_settings, node_log));
      const Run& x = runs.back();
      std::cerr << "  route job queued " << fmt2(x.route_queued_s) << " s, ran " << fmt2(x.route_start_s) << "-"
                << fmt2(x.route_end_s)
                << " s after the last instance, render started " << fmt2(x.complete_s + x.render_wait_s) << " s after it\n";
      std::cerr << "  complete " << fmt2(x.complete_s) << " s, render " << fmt2(x.render_s) << " s, send "
                << fmt2(x.send_s) << " s, 3D results in Orthanc " << fmt2(x.visible_s) << " s, every result " << fmt2(x.all_in_s) << " s, send job done " << fmt2(x.total_s)
                << " s (" << x.completion_reason << ")\n";
    }

  std::ostringstream table;
  std::ifstream loadavg("/proc/loadavg");
  std::string load1, load5;
  loadavg >> load1 >> load5;
  std::time_t now = std::time(nullptr);
  char date[32];
  std::strftime(date, sizeof date, "%Y-%m-%d %H:%M UTC", std::gmtime(&now));
  table << "Date " << date << "; machine: " << machineDescription() << "; load average at the end " << load1 << " (1 min), "
        << load5 << " (5 min); command: `" << command << "`\n\n";
  table << "| series | MB | push (Orthanc C-STORE) | last instance -> complete | complete -> render start | "
           "render + mesh + encode | send after the render | last instance -> send job done | 3D results (spins, key views, model) in Orthanc "
           "(100 ms poll) | **last instance -> every result in Orthanc (100 ms poll)** | Orthanc stable age 60 s + processing | "
           "MONAI IG 5 s timeout + processing |\n"
        << "|---|---|---|---|---|---|---|---|---|---|---|---|\n";
  for (const auto& x : runs) {
    double processing = x.render_wait_s + x.render_s + x.send_s;
    table << "| " << x.name << " | " << fmt1(x.mb) << " | " << fmt2(x.push_s) << " s | " << fmt2(x.complete_s)
          << " s | " << fmt2(x.render_wait_s) << " s | " << fmt2(x.render_s) << " s | " << fmt2(x.send_s)
          << " s | " << fmt2(x.total_s) << " s | " << fmt2(x.visible_s) << " s | **" << fmt2(x.all_in_s) << " s** | "
          << fmt1(60 + processing)
          << " s | " << fmt1(5 + processing) << " s |\n";
  }
  table << "\nThe node's own render timings:\n\n";
  for (const auto& x : runs) table << "- " << x.name << ": `" << x.render_log << "`\n";
  std::cout << table.str();
  if (!markdown.empty()) std::ofstream(markdown) << table.str();
  return 0;
}
