// bench_reconcile: what the start-up reconciliation of index and store costs on a
// large store.
//
// Builds a store of N indexed instances (real synthetic CT slices, kept through
// InstanceStore like the listener does), then times reconcileStore():
//   - everything indexed: the walk of the folders and the comparison of names;
//   - U instances whose index rows are missing (as after a lost end of the
//     write-ahead log): those files are parsed and indexed.
// Each case runs `--repeat` times; the median counts. The page cache is warm (the
// store was just written); a cold start adds the reading of one directory block
// per shard folder.
//   bench_reconcile [--instances N] [--unknown U] [--repeat R] [--dir DIR]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>

#include <dcmtk/oflog/oflog.h>

#include "support/process.hpp"
#include "support/synthetic_series.hpp"
#include "volnode/core/logging.hpp"
#include "volnode/storage/reconciliation.hpp"

using namespace volnode;
using namespace volnode::test;
using Clock = std::chrono::steady_clock;

namespace {

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

// Writes `count` instances into the store: kept (indexed) or only written into slots.
void addInstances(InstanceStore& store, const std::filesystem::path& scratch, int count, bool index_them,
                  int& series_counter) {
  constexpr int kPerSeries = 200;
  for (int done = 0; done < count;) {
    SyntheticSeries s;
    s.rows = s.cols = 16;
    s.slices = std::min(kPerSeries, count - done);
    s.series_description = "bench " + std::to_string(series_counter++);
    auto dir = scratch / ("series-" + std::to_string(series_counter));
    auto written = writeSyntheticSeries(s, dir);
    for (const auto& file : written.files) {
      auto slot = store.reserve();
      std::filesystem::copy_file(file, slot.path, std::filesystem::copy_options::overwrite_existing);
      if (index_them) store.keep(slot, "", "", std::nullopt);
    }
    std::filesystem::remove_all(dir);
    done += s.slices;
  }
}

}  // namespace

int main(int argc, char** argv) {
  int instances = 20000, unknown = 200, repeat = 5;
  std::string keep_dir;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string flag = argv[i];
    if (flag == "--instances") instances = std::stoi(argv[i + 1]);
    else if (flag == "--unknown") unknown = std::stoi(argv[i + 1]);
    else if (flag == "--repeat") repeat = std::stoi(argv[i + 1]);
    else if (flag == "--dir") keep_dir = argv[i + 1];
  }
  OFLog::configure(OFLogger::FATAL_LOG_LEVEL);
  LogConfig quiet;
  quiet.level = "error";
  quiet.file = "";
  initLogging(quiet);

  TempDir work("volnode-bench-reconcile");
  const std::filesystem::path root = keep_dir.empty() ? work.path() : std::filesystem::path(keep_dir);
  std::filesystem::create_directories(root);
  Index index(root / "index.sqlite", IndexSync::Normal);
  StorageConfig config;
  config.min_free_mb = 0;
  int series_counter = 0;
  {
    FileStore files(root / "store", false, index);
    InstanceStore store(config, index, files);
    std::cerr << "writing " << instances << " indexed instances...\n";
    addInstances(store, root / "scratch", instances, true, series_counter);
  }

  std::vector<double> all_known, walk_only;
  for (int r = 0; r < repeat; ++r) {
    FileStore files(root / "store", false, index);
    InstanceStore store(config, index, files);
    auto begin = Clock::now();
    auto listing = files.list();
    walk_only.push_back(std::chrono::duration<double>(Clock::now() - begin).count());
    auto report = reconcileStore(index, files, store);
    all_known.push_back(report.seconds);
    if (report.indexed != 0) std::cerr << "unexpected: " << report.summary() << "\n";
  }

  std::vector<double> with_unknown;
  int64_t indexed_per_run = 0;
  for (int r = 0; r < repeat; ++r) {
    FileStore files(root / "store", false, index);
    InstanceStore store(config, index, files);
    addInstances(store, root / "scratch", unknown, false, series_counter);  // written, never indexed
    FileStore restarted(root / "store", false, index);
    InstanceStore restarted_store(config, index, restarted);
    auto report = reconcileStore(index, restarted, restarted_store);
    with_unknown.push_back(report.seconds);
    indexed_per_run = report.indexed;
  }

  char text[512];
  std::snprintf(text, sizeof text,
                "| %d indexed, all known | %.3f s (folder walk alone %.3f s) |\n"
                "| + %lld files the index does not hold | %.3f s |\n",
                instances, median(all_known), median(walk_only), static_cast<long long>(indexed_per_run),
                median(with_unknown));
  std::cout << "Store: " << instances << " instances of 16x16 CT in " << series_counter << " series; median of "
            << repeat << " runs; machine: " << machineDescription() << "\n\n"
            << "| case | reconcileStore() |\n|---|---|\n"
            << text;
  return 0;
}
