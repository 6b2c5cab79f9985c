// bench_console: how fast does the console answer GET /api/studies while the node
// is busy? A real `volnode serve` first holds --studies small studies (one
// instance each) so the list query has rows to page through; then it renders one
// series (128 slices, 256x256) while a 300-instance 512x512 series arrives over
// DICOM. A client asks GET /api/studies (limit 100) back to back during that load
// and the 50/95/99th percentiles are reported, next to an idle baseline.
//   bench_console [--studies N] [--slices N] [--markdown FILE] [--series DIR]
// Goal (issue "The service console"): p95 < 100 ms.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <ctime>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <sstream>
#include <thread>

#include <httplib.h>

#include "support/node_process.hpp"
#include "support/process.hpp"
#include "support/synthetic_series.hpp"

using namespace volnode::test;
using Clock = std::chrono::steady_clock;

namespace {

struct Stats {
  size_t n = 0;
  double p50 = 0, p95 = 0, p99 = 0, max = 0;
};

Stats stats(std::vector<double> ms) {
  Stats s;
  if (ms.empty()) return s;
  std::sort(ms.begin(), ms.end());
  auto at = [&](double q) { return ms[std::min(ms.size() - 1, static_cast<size_t>(q * (ms.size() - 1) + 0.5))]; };
  s.n = ms.size();
  s.p50 = at(0.50);
  s.p95 = at(0.95);
  s.p99 = at(0.99);
  s.max = ms.back();
  return s;
}

// GET /api/studies back to back until `stop`; latencies in ms.
std::vector<double> hammer(int port, const std::atomic<bool>& stop, size_t max_requests = 1000000) {
  httplib::Client client("127.0.0.1", port);
  client.set_keep_alive(false);
  std::vector<double> ms;
  while (!stop && ms.size() < max_requests) {
    auto begin = Clock::now();
    auto r = client.Get("/api/studies?limit=100");
    double elapsed = std::chrono::duration<double, std::milli>(Clock::now() - begin).count();
    if (!r || r->status != 200) {
      std::cerr << "GET /api/studies failed\n";
      continue;
    }
    ms.push_back(elapsed);
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return ms;
}

}  // namespace

int main(int argc, char** argv) {
  int studies = 500, slices = 300;
  std::string markdown, series_dir;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string flag = argv[i];
    if (flag == "--studies") studies = std::stoi(argv[i + 1]);
    else if (flag == "--slices") slices = std::stoi(argv[i + 1]);
    else if (flag == "--markdown") markdown = argv[i + 1];
    else if (flag == "--series") series_dir = argv[i + 1];
  }
  std::string command;
  for (int i = 0; i < argc; ++i) command += (i ? " " : "") + std::string(i ? argv[i] : "bench_console");

  TempDir work("volnode-bench-console");
  // The many small studies, one instance each.
  std::vector<std::string> small_files;
  for (int k = 0; k < studies; ++k) {
    SyntheticSeries s;
    s.rows = s.cols = 16;
    s.slices = 1;
    s.patient_id = "BENCH" + std::to_string(k);
    s.file_prefix = "S" + std::to_string(k) + "_";
    for (auto& f : writeSyntheticSeries(s, work / "small").files) small_files.push_back(f.string());
  }
  // The series to render, and the 300-instance series received during the render.
  SyntheticSeries render;
  render.rows = render.cols = 256;
  render.row_spacing = render.col_spacing = 1.2;
  render.slices = 128;
  render.origin = {-153, -153, 0};
  render.value = OrientationPhantom{{0, 0, 64}, {120, 90, 60}}.function();
  auto render_files = writeSyntheticSeries(render, work / "render").files;
  std::filesystem::path big_dir = series_dir.empty() ? work / "big" : std::filesystem::path(series_dir);
  if (!std::filesystem::exists(big_dir)) {
    SyntheticSeries big;
    big.rows = big.cols = 512;
    big.row_spacing = big.col_spacing = 0.7;
    big.slices = slices;
    big.origin = {-179, -179, 0};
    big.value = OrientationPhantom{{0, 0, 150}, {150, 110, 200}}.function();
    writeSyntheticSeries(big, big_dir);
  }

  NodeProcess node(work / "node", {"completion.quiet_s=2"});
  auto send = [&](std::vector<std::string> files) {
    std::vector<std::string> argv = node.scu("storescu");
    argv.insert(argv.end(), files.begin(), files.end());
    auto r = run(argv, std::chrono::seconds(600));
    if (r.exit_code != 0) std::cerr << "storescu: " << r.output << "\n";
  };
  send(small_files);
  std::cerr << "held " << studies << " small studies\n";

  // Idle baseline.
  std::atomic<bool> stop{false};
  auto idle = stats(hammer(node.consolePort(), stop, 300));

  // Load: render one series while the 300-instance series arrives.
  std::vector<std::string> files;
  for (const auto& f : render_files) files.push_back(f.string());
  send(files);
  auto running = [&] {
    auto r = node.get("/api/jobs?kind=render&state=running");
    return r.body.find("\"id\"") != std::string::npos;
  };
  auto deadline = Clock::now() + std::chrono::seconds(60);
  while (!running() && Clock::now() < deadline) std::this_thread::sleep_for(std::chrono::milliseconds(200));
  std::cerr << "render running; sending " << slices << " instances\n";
  std::vector<std::string> big_files;
  for (const auto& e : std::filesystem::directory_iterator(big_dir)) big_files.push_back(e.path().string());
  std::sort(big_files.begin(), big_files.end());

  std::vector<double> loaded_ms;
  std::thread client([&] { loaded_ms = hammer(node.consolePort(), stop); });
  auto begin = Clock::now();
  send(big_files);
  double send_s = std::chrono::duration<double>(Clock::now() - begin).count();
  bool render_overlapped = running();
  // Keep measuring until the render finished (bounded), so the whole load is covered.
  deadline = Clock::now() + std::chrono::seconds(300);
  while (running() && Clock::now() < deadline) std::this_thread::sleep_for(std::chrono::milliseconds(200));
  double load_s = std::chrono::duration<double>(Clock::now() - begin).count();
  stop = true;
  client.join();
  auto loaded = stats(loaded_ms);

  char date[32];
  std::time_t now = std::time(nullptr);
  std::strftime(date, sizeof date, "%Y-%m-%d %H:%M UTC", std::gmtime(&now));
  std::ostringstream table;
  table << std::fixed << std::setprecision(1);
  table << "### " << date << "\n\n"
        << "Machine: " << machineDescription() << ". Command: `" << command << "`.\n"
        << "Index: " << studies + 2 << " studies. Load: render of a 256x256x128 series running while " << slices
        << " instances (512x512) arrived in " << send_s << " s" << (render_overlapped ? " (render still running at the end)" : "")
        << "; measured for " << load_s << " s.\n\n"
        << "| GET /api/studies?limit=100 | requests | p50 ms | p95 ms | p99 ms | max ms |\n"
        << "|---|---|---|---|---|---|\n"
        << "| idle | " << idle.n << " | " << idle.p50 << " | " << idle.p95 << " | " << idle.p99 << " | " << idle.max << " |\n"
        << "| receiving + rendering | " << loaded.n << " | " << loaded.p50 << " | " << loaded.p95 << " | " << loaded.p99
        << " | " << loaded.max << " |\n\n"
        << "Goal p95 < 100 ms: " << (loaded.p95 < 100 ? "met" : "NOT met") << ".\n";
  std::cout << table.str();
  if (!markdown.empty()) std::ofstream(markdown, std::ios::app) << "\n" << table.str();
  return loaded.p95 < 100 ? 0 : 1;
}
