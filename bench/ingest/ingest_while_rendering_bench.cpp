// bench_ingest_while_rendering: does rendering slow receiving down?
//
// One node (as shipped: fsync on, default rules, render.workers=1). Each round
// pushes series A with storescu and times it while the node does nothing else
// ("alone"), waits until A's render job runs in the worker process, then pushes
// series B (same size, other UIDs) and times it while A renders ("while
// rendering"). The two are taken on the same node in the same round, so the
// ratio is what to read; the goal is at most 1.25x.
//   bench_ingest_while_rendering [--slices N] [--repeat N] [--series DIR] [--markdown FILE]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>
#include <thread>

#include <nlohmann/json.hpp>

#include "support/node_process.hpp"
#include "support/process.hpp"
#include "support/synthetic_series.hpp"

using namespace volnode::test;
using Clock = std::chrono::steady_clock;

namespace {

std::vector<std::filesystem::path> seriesFiles(const std::filesystem::path& dir, int slices) {
  std::vector<std::filesystem::path> files;
  if (std::filesystem::exists(dir))
    for (const auto& entry : std::filesystem::directory_iterator(dir)) files.push_back(entry.path());
  if (files.empty()) {
    SyntheticSeries s;
    s.rows = s.cols = 512;
    s.row_spacing = s.col_spacing = 0.7;
    s.slices = slices;
    s.origin = {-179, -179, 0};
    s.value = OrientationPhantom{{0, 0, 150}, {150, 110, 200}}.function();
    std::cerr << "generating " << slices << " slices of 512x512 in " << dir << "...\n";
    files = writeSyntheticSeries(s, dir).files;  // UIDs generated: every series is new
  }
  std::sort(files.begin(), files.end());
  return files;
}

double push(const NodeProcess& node, const std::vector<std::filesystem::path>& files) {
  std::vector<std::string> argv{"env", "TCP_NODELAY=1", "storescu", "-aec", "VOLNODE", "127.0.0.1",
                                std::to_string(node.dicomPort())};
  for (const auto& f : files) argv.push_back(f.string());
  auto begin = Clock::now();
  auto result = run(argv);
  if (result.exit_code != 0) std::cerr << "warning: storescu exited with " << result.exit_code << "\n";
  return std::chrono::duration<double>(Clock::now() - begin).count();
}

// True once a render job runs in a worker process.
bool rendering(const NodeProcess& node) {
  auto response = node.get("/api/jobs?kind=render&state=running");
  auto body = nlohmann::json::parse(response.body, nullptr, false);
  return body.is_object() && !body.value("jobs", nlohmann::json::array()).empty();
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  int slices = 300, repeat = 3;
  std::string markdown, series_dir;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string flag = argv[i];
    if (flag == "--slices") slices = std::stoi(argv[i + 1]);
    else if (flag == "--repeat") repeat = std::stoi(argv[i + 1]);
    else if (flag == "--markdown") markdown = argv[i + 1];
    else if (flag == "--series") series_dir = argv[i + 1];
  }
  TempDir work("volnode-bench-ingest-render");
  std::filesystem::path base = series_dir.empty() ? work.path() : std::filesystem::path(series_dir);

  std::vector<double> alone, while_rendering, ratios;
  for (int r = 0; r < repeat; ++r) {
    // Fresh series each round (a series already held would be a duplicate, not a new receive).
    auto a = seriesFiles(base / ("a-" + std::to_string(r)), slices);
    auto b = seriesFiles(base / ("b-" + std::to_string(r)), slices);
    auto dir = work / ("node-" + std::to_string(r));
    NodeProcess node(dir, {"log.level=warn", "completion.quiet_s=2", "completion.release_grace_s=0.5"});
    double t_alone = push(node, a);
    auto deadline = Clock::now() + std::chrono::seconds(120);
    while (!rendering(node) && Clock::now() < deadline) std::this_thread::sleep_for(std::chrono::milliseconds(20));
    if (!rendering(node)) {
      std::cerr << "round " << r << ": the render of series A never started; skipped\n";
      continue;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(500));  // past assembly, into the heavy part
    double t_rendering = push(node, b);
    bool still = rendering(node);
    alone.push_back(t_alone);
    while_rendering.push_back(t_rendering);
    ratios.push_back(t_rendering / t_alone);
    std::cerr << "round " << r << ": alone " << t_alone << " s, while rendering " << t_rendering << " s ("
              << t_rendering / t_alone << "x)" << (still ? "" : "; the render ended before the push did") << "\n";
    node.kill9();  // a clean stop is not under test
  }
  if (ratios.empty()) return 1;
  std::ostringstream table;
  table << "Series: " << slices << " x 512x512 CT per push; " << ratios.size()
        << " rounds, medians; machine: " << machineDescription() << "\n\n";
  table << "| receiving | seconds | ratio to alone |\n|---|---|---|\n";
  char row[256];
  std::snprintf(row, sizeof row, "| alone | %.2f | 1.00x |\n", median(alone));
  table << row;
  std::snprintf(row, sizeof row, "| while the worker renders the series before | %.2f | %.2fx (median of per-round ratios) |\n",
                median(while_rendering), median(ratios));
  table << row;
  std::cout << table.str();
  if (!markdown.empty()) std::ofstream(markdown) << table.str();
  return 0;
}
