// bench_ingest: how fast does volnode take in a CT series, next to the anchors?
//
// Generates a 512x512x300 CT series (about 157 MB), then sends it with plain
// storescu, on one association and on 4 in parallel, to:
//   volnode (fsync on, as shipped: index_sync full; and with index_sync normal),
//   DCMTK storescp with and without TCP_NODELAY,
//   and Orthanc with its default SQLite configuration.
// Each case runs `--repeat` times on a fresh store; the median wall time counts.
// The receiver's peak resident memory (VmHWM) is reported beside its time.
//   bench_ingest [--slices N] [--repeat N] [--markdown FILE] [--series DIR] [--only NAME] [--multiframe]
// --series keeps the generated series in DIR (and reuses it when present);
// --only runs the receivers whose name starts with NAME;
// --multiframe sends the same volume as one Enhanced CT object of N frames (one association).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <memory>
#include <sstream>
#include <thread>

#include "support/node_process.hpp"
#include "support/orthanc_process.hpp"
#include "support/process.hpp"
#include "support/synthetic_series.hpp"

using namespace volnode::test;
using Clock = std::chrono::steady_clock;

namespace {

struct Target {
  std::string name;
  // Starts the receiver in `dir`; returns {port, called AE, process id}. The returned object keeps it alive.
  std::function<std::shared_ptr<void>(const std::filesystem::path& dir, int& port, std::string& aet, pid_t& pid)>
      start;
  bool client_nodelay = true;  // TCP_NODELAY=1 in storescu's environment
};

double sendAll(const std::vector<std::filesystem::path>& files, int port, const std::string& aet, int associations,
               bool client_nodelay) {
  std::vector<std::vector<std::string>> commands(associations);
  for (int a = 0; a < associations; ++a) {
    commands[a] = {"env", client_nodelay ? "TCP_NODELAY=1" : "-uTCP_NODELAY", "storescu", "-aec", aet, "127.0.0.1",
                   std::to_string(port)};
  }
  for (size_t i = 0; i < files.size(); ++i) commands[i % associations].push_back(files[i].string());
  auto begin = Clock::now();
  std::vector<std::unique_ptr<ChildProcess>> senders;
  TempDir logs("volnode-bench-log");
  for (int a = 0; a < associations; ++a)
    senders.push_back(std::make_unique<ChildProcess>(commands[a], logs / ("storescu" + std::to_string(a) + ".log")));
  for (auto& s : senders) {
    int rc = s->wait(std::chrono::seconds(600));
    if (rc != 0) std::cerr << "warning: a storescu exited with " << rc << "\n";
  }
  return std::chrono::duration<double>(Clock::now() - begin).count();
}

// Peak resident memory of a running process, in MB (VmHWM), 0 when unknown.
double peakMb(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("VmHWM:", 0) == 0) return std::stod(line.substr(6)) / 1024.0;
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  int slices = 300, repeat = 3;
  std::string markdown, series_dir, only;
  bool multiframe = false;
  for (int i = 1; i < argc; ++i)
    if (std::string(argv[i]) == "--multiframe") multiframe = true;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string flag = argv[i];
    if (flag == "--multiframe") {
      --i;
      continue;
    }
    if (flag == "--slices") slices = std::stoi(argv[i + 1]);
    else if (flag == "--repeat") repeat = std::stoi(argv[i + 1]);
    else if (flag == "--markdown") markdown = argv[i + 1];
    else if (flag == "--series") series_dir = argv[i + 1];
    else if (flag == "--only") only = argv[i + 1];
  }

  TempDir work("volnode-bench-ingest");
  SyntheticSeries series;
  series.rows = series.cols = 512;
  series.row_spacing = series.col_spacing = 0.7;
  series.slices = slices;
  series.origin = {-179, -179, 0};
  series.value = OrientationPhantom{{0, 0, 150}, {150, 110, 200}}.function();
  std::filesystem::path series_path = series_dir.empty() ? work / "series" : std::filesystem::path(series_dir);
  std::vector<std::filesystem::path> files;
  if (std::filesystem::exists(series_path))
    for (const auto& entry : std::filesystem::directory_iterator(series_path)) files.push_back(entry.path());
  if (files.empty()) {
    std::cerr << "generating " << slices << " slices of 512x512" << (multiframe ? " as one object" : "") << "...\n";
    files = multiframe ? writeSyntheticEnhancedCt(series, series_path / "enhanced-ct.dcm").files
                       : writeSyntheticSeries(series, series_path).files;
  }
  std::sort(files.begin(), files.end());
  if (!multiframe) slices = static_cast<int>(files.size());
  uint64_t bytes = 0;
  for (const auto& f : files) bytes += std::filesystem::file_size(f);

  // volnode as shipped (every index commit flushed), and with storage.index_sync=normal
  // (the log flushed at checkpoints only): the price of the durability contract.
  auto volnode = [](const std::string& index_sync) {
    return [index_sync](const std::filesystem::path& dir, int& port, std::string& aet, pid_t& pid) {
      auto node = std::make_shared<NodeProcess>(
          dir, std::vector<std::string>{"log.level=warn", "storage.index_sync=" + index_sync});
      port = node->dicomPort();
      aet = "VOLNODE";
      pid = node->pid();
      return std::static_pointer_cast<void>(node);
    };
  };
  std::vector<Target> targets{
      {"volnode (fsync on, index_sync full)", volnode("full")},
      {"volnode (fsync on, index_sync normal)", volnode("normal")},
      {"storescp, TCP_NODELAY=1",
       [](const std::filesystem::path& dir, int& port, std::string& aet, pid_t& pid) {
         port = freePort();
         aet = "STORESCP";
         std::filesystem::create_directories(dir / "out");
         auto p = std::make_shared<ChildProcess>(
             std::vector<std::string>{"env", "TCP_NODELAY=1", "storescp", "-od", (dir / "out").string(),
                                      std::to_string(port)},
             dir / "storescp.log");
         pid = p->pid();
         waitForPort(port, std::chrono::seconds(10));
         return std::static_pointer_cast<void>(p);
       }},
      {"storescp, default",
       [](const std::filesystem::path& dir, int& port, std::string& aet, pid_t& pid) {
         port = freePort();
         aet = "STORESCP";
         std::filesystem::create_directories(dir / "out");
         auto p = std::make_shared<ChildProcess>(
             std::vector<std::string>{"env", "-uTCP_NODELAY", "storescp", "-od", (dir / "out").string(),
                                      std::to_string(port)},
             dir / "storescp.log");
         pid = p->pid();
         waitForPort(port, std::chrono::seconds(10));
         return std::static_pointer_cast<void>(p);
       },
       false},
      {"Orthanc 1.10 (default SQLite)",
       [](const std::filesystem::path& dir, int& port, std::string& aet, pid_t& pid) {
         auto orthanc = std::make_shared<OrthancProcess>(dir);
         port = orthanc->dicomPort();
         aet = orthanc->aet();
         pid = orthanc->pid();
         return std::static_pointer_cast<void>(orthanc);
       }},
  };

  std::map<std::pair<std::string, int>, double> seconds, peak_mb;
  const std::vector<int> association_counts = multiframe ? std::vector<int>{1} : std::vector<int>{1, 4};
  if (!only.empty())
    targets.erase(std::remove_if(targets.begin(), targets.end(),
                                 [&](const Target& t) { return t.name.rfind(only, 0) != 0; }),
                  targets.end());
  for (const auto& target : targets) {
    for (int associations : association_counts) {
      std::vector<double> runs, peaks;
      for (int r = 0; r < repeat; ++r) {
        auto dir = work / ("run-" + std::to_string(r));
        std::filesystem::remove_all(dir);
        std::filesystem::create_directories(dir);
        int port = 0;
        std::string aet;
        pid_t pid = -1;
        auto receiver = target.start(dir, port, aet, pid);
        runs.push_back(sendAll(files, port, aet, associations, target.client_nodelay));
        peaks.push_back(peakMb(pid));
        receiver.reset();
        std::filesystem::remove_all(dir);
      }
      std::sort(runs.begin(), runs.end());
      seconds[{target.name, associations}] = runs[runs.size() / 2];
      peak_mb[{target.name, associations}] = *std::max_element(peaks.begin(), peaks.end());
      std::cerr << target.name << ", " << associations << " association(s): " << runs[runs.size() / 2] << " s\n";
    }
  }

  std::ostringstream table;
  table << (multiframe ? "One Enhanced CT object of " : "Series: ") << slices << (multiframe ? " frames" : "")
        << " x 512x512 CT, " << bytes / 1e6 << " MB; median of " << repeat
        << " runs (peak memory: the largest); machine: " << machineDescription() << "\n\n";
  table << "| receiver | associations | seconds | instances/s | MB/s | peak memory (MB) | volnode speed-up |\n";
  table << "|---|---|---|---|---|---|---|\n";
  for (int associations : association_counts)
    for (const auto& target : targets) {
      double s = seconds[{target.name, associations}];
      double ratio = s / seconds[{targets[0].name, associations}];
      char row[256];
      std::snprintf(row, sizeof row, "| %s | %d | %.2f | %.1f | %.1f | %.0f | %s |\n", target.name.c_str(),
                    associations, s, files.size() / s, bytes / 1e6 / s, peak_mb[{target.name, associations}],
                    target.name == targets[0].name ? "1.00x (itself)" : (std::to_string(ratio).substr(0, 4) + "x").c_str());
      table << row;
    }
  std::cout << table.str();
  if (!markdown.empty()) std::ofstream(markdown) << table.str();
  return 0;
}
