// bench_cluster_throughput: studies rendered per hour by one `volnode serve` that
// renders itself (render.workers = W) against the same node with render.workers = 0
// and `volnode worker` processes doing the rendering (W worker processes in all), on
// this machine and one index. Each round pushes S synthetic CT studies at once
// (storescu, one association per study folder) and times from the first push until
// every render job has succeeded; studies per hour = S / time. Per core: the same W
// worker processes render in both set-ups, so the ratio of the two is the cost of
// the cluster machinery (registry heartbeats, lease renewals, a second process).
//   bench_cluster_throughput [--studies S] [--workers W] [--rounds R] [--backend sqlite|postgresql]
//                            [--slices N] [--size PX] [--frames F]
// Rounds alternate the set-ups (single, split, single, split, ...), so a machine
// shared with other work loads both alike. Studies are pushed 4 associations at a time.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <memory>
#include <set>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "support/node_process.hpp"
#include "support/postgres_server.hpp"
#include "support/process.hpp"
#include "support/synthetic_series.hpp"
#include "support/worker_process.hpp"
#include "../common/iso_time.hpp"

using namespace volnode::test;
using Clock = std::chrono::steady_clock;

namespace {

struct Options {
  int studies = 4, workers = 2, rounds = 2, slices = 120, size = 256, frames = 36;
  std::string backend = "sqlite";
};

std::vector<std::filesystem::path> writeStudies(const std::filesystem::path& dir, int count, int slices) {
  std::vector<std::filesystem::path> folders;
  for (int i = 0; i < count; ++i) {
    SyntheticSeries s;
    s.rows = s.cols = 256;
    s.slices = slices;
    s.slice_spacing = 1.0;
    s.origin = {-128, -128, -60};
    s.patient_id = "SCALE" + std::to_string(i);
    s.series_description = "scale phantom";
    s.value = OrientationPhantom{}.function();
    folders.push_back(dir / ("study-" + std::to_string(i)));
    writeSyntheticSeries(s, folders.back());
  }
  return folders;
}

// Series rendered, once no route or render job is left to run (a series completed early
// and routed again when more of it arrived would otherwise count before its last render).
int seriesRendered(const NodeProcess& node) {
  auto response = node.get("/api/jobs?limit=1000");
  if (response.status != 200) return 0;
  auto body = nlohmann::json::parse(response.body, nullptr, false);
  if (!body.is_object()) return 0;
  std::set<std::string> rendered;
  for (const auto& j : body["jobs"]) {
    if (j["kind"] != "route" && j["kind"] != "render") continue;
    if (j["state"] == "queued" || j["state"] == "running" || j["state"] == "retry") return 0;
    if (j["kind"] == "render" && j["state"] == "succeeded") rendered.insert(j.value("SeriesInstanceUID", ""));
  }
  return static_cast<int>(rendered.size());
}

// Where a round's time went, from the node's job records: the mean wait of route and
// render jobs from queued to claimed, and the mean render.
std::string jobTimes(const NodeProcess& node) {
  auto body = nlohmann::json::parse(node.get("/api/jobs?limit=1000").body, nullptr, false);
  double wait[2] = {0, 0}, run = 0;
  int count[2] = {0, 0}, renders = 0;
  for (const auto& j : body["jobs"]) {
    const int k = j["kind"] == "route" ? 0 : j["kind"] == "render" ? 1 : -1;
    if (k < 0) continue;
    const double created = volnode::bench::isoSeconds(j["created_at"]);
    const double started = volnode::bench::isoSeconds(j["started_at"]);
    const double finished = volnode::bench::isoSeconds(j["finished_at"]);
    if (started == 0 || finished == 0) continue;
    wait[k] += started - created;
    ++count[k];
    if (k == 1) run += finished - started, ++renders;
  }
  char text[160];
  std::snprintf(text, sizeof text, "route wait %.2f s, render wait %.2f s, render %.1f s (means)",
                count[0] ? wait[0] / count[0] : 0.0, count[1] ? wait[1] / count[1] : 0.0, renders ? run / renders : 0.0);
  return text;
}

// One round: a fresh node (and workers), the studies pushed, seconds until all are rendered.
double round(const Options& o, bool split, const std::vector<std::filesystem::path>& studies,
             const std::filesystem::path& dir, PostgresServer* postgres) {
  std::vector<std::string> settings{"render.size=" + std::to_string(o.size),
                                    "render.spin_frames=" + std::to_string(o.frames)};
  if (postgres) {
    settings.push_back("index.backend=postgresql");
    settings.push_back("index.url=" + postgres->freshSchemaUrl());
  }
  auto node_settings = settings;
  node_settings.push_back("render.workers=" + std::to_string(split ? 0 : o.workers));
  NodeProcess node(dir / "node", node_settings);
  std::unique_ptr<WorkerProcess> worker;
  if (split) {
    auto worker_settings = settings;
    worker_settings.push_back("render.workers=" + std::to_string(o.workers));
    worker = std::make_unique<WorkerProcess>(dir / "worker", dir / "node" / "var", worker_settings);
    std::this_thread::sleep_for(std::chrono::seconds(3));  // its Xvfb and worker processes up, as the node's are
  }
  const auto started = Clock::now();
  // At most 4 associations at once: the node refuses beyond dicom.max_associations (8).
  std::atomic<size_t> next{0};
  std::atomic<int> failed{0};
  std::vector<std::thread> pushes;
  for (size_t p = 0; p < std::min<size_t>(4, studies.size()); ++p)
    pushes.emplace_back([&] {
      for (size_t i; (i = next++) < studies.size();) {
        auto argv = node.scu("storescu", {"+sd", "+r"});
        argv.push_back(studies[i].string());
        if (run(argv).exit_code != 0) ++failed;
      }
    });
  for (auto& t : pushes) t.join();
  if (failed > 0) {
    std::fprintf(stderr, "%d push(es) failed; the node's warnings and errors:\n", failed.load());
    std::ifstream log(dir / "node" / "var" / "volnode.log");
    for (std::string line; std::getline(log, line);)
      if (line.find(" warn") != std::string::npos || line.find(" error") != std::string::npos)
        std::fprintf(stderr, "%s\n", line.c_str());
    return -1;
  }
  while (seriesRendered(node) < static_cast<int>(studies.size())) {
    if (std::chrono::duration<double>(Clock::now() - started).count() > 1800) {
      std::fprintf(stderr, "gave up after 30 min; node log:\n%s\n", node.log().c_str());
      return -1;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  const double seconds = std::chrono::duration<double>(Clock::now() - started).count();
  std::printf("  %s\n", jobTimes(node).c_str());
  if (worker) worker->stop();
  node.stop();
  return seconds;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string key = argv[i], value = argv[i + 1];
    if (key == "--studies") o.studies = std::stoi(value);
    else if (key == "--workers") o.workers = std::stoi(value);
    else if (key == "--rounds") o.rounds = std::stoi(value);
    else if (key == "--slices") o.slices = std::stoi(value);
    else if (key == "--size") o.size = std::stoi(value);
    else if (key == "--frames") o.frames = std::stoi(value);
    else if (key == "--backend") o.backend = value;
    else {
      std::fprintf(stderr, "unknown option %s\n", key.c_str());
      return 2;
    }
  }
  TempDir dir("volnode-bench-scale");
  const auto studies = writeStudies(dir / "studies", o.studies, o.slices);
  std::unique_ptr<PostgresServer> postgres;
  if (o.backend == "postgresql") postgres = std::make_unique<PostgresServer>();
  std::printf("%s; %d studies of 256x256x%d per round, %d worker processes, %d px x %d frames, index %s\n",
              machineDescription().c_str(), o.studies, o.slices, o.workers, o.size, o.frames, o.backend.c_str());
  std::vector<double> single, split;
  for (int r = 0; r < o.rounds; ++r)
    for (bool is_split : {false, true}) {
      TempDir round_dir("volnode-bench-scale-round");
      const double s = round(o, is_split, studies, round_dir.path(), postgres.get());
      if (s < 0) return 1;
      (is_split ? split : single).push_back(s);
      double load[1] = {0};
      getloadavg(load, 1);
      std::printf("round %d %-28s %7.1f s  %7.1f studies/h  (load %.1f)\n", r + 1,
                  is_split ? "serve + volnode worker:" : "serve rendering itself:", s, 3600.0 * o.studies / s, load[0]);
      std::fflush(stdout);
    }
  auto best = [](const std::vector<double>& v) { return *std::min_element(v.begin(), v.end()); };
  std::printf("best: single node %.1f studies/h, serve + worker %.1f studies/h: %.1f %% per core\n",
              3600.0 * o.studies / best(single), 3600.0 * o.studies / best(split), 100.0 * best(single) / best(split));
  return 0;
}
