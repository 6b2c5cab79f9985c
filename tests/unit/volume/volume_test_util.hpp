#pragma once
// Helpers shared by the volume tests: shared data paths, temp dirs, cached assemblies.
#include <algorithm>
#include <atomic>
#include <filesystem>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include <unistd.h>

#include "support/synthetic_series.hpp"
#include "volnode/volume/assembly.hpp"

namespace volnode::test {

inline std::filesystem::path sharedData(const std::string& rel = {}) {
  return std::filesystem::path(VOLNODE_SHARED_DATA) / rel;
}

inline std::vector<std::filesystem::path> filesIn(const std::filesystem::path& dir, bool recursive = false) {
  std::vector<std::filesystem::path> out;
  if (recursive) {
    for (const auto& e : std::filesystem::recursive_directory_iterator(dir))
      if (e.is_regular_file()) out.push_back(e.path());
  } else {
    for (const auto& e : std::filesystem::directory_iterator(dir))
      if (e.is_regular_file()) out.push_back(e.path());
  }
  std::sort(out.begin(), out.end());
  return out;
}

class TempDir {
 public:
  TempDir() {
    static std::atomic<int> counter{0};
    path_ = std::filesystem::temp_directory_path() /
            ("volnode-volume-test-" + std::to_string(::getpid()) + "-" + std::to_string(counter++));
    std::filesystem::remove_all(path_);
    std::filesystem::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

// Decoded assemblies of shared-data folders, decoded once per test binary.
inline const SeriesAssembly& cachedAssembly(const std::string& rel) {
  static std::mutex mu;
  static std::map<std::string, SeriesAssembly> cache;
  std::lock_guard<std::mutex> lock(mu);
  auto it = cache.find(rel);
  if (it == cache.end()) it = cache.emplace(rel, assembleSeries(filesIn(sharedData(rel)))).first;
  return it->second;
}

inline bool hasCorrection(const VolumeCandidate& v, const std::string& prefix) {
  return std::any_of(v.corrections.begin(), v.corrections.end(),
                     [&](const std::string& c) { return c.rfind(prefix, 0) == 0; });
}

// Four 16x16 slices 2 mm apart: the smallest series that assembles.
inline WrittenSeries fourSlices(const std::filesystem::path& dir) {
  SyntheticSeries s;
  s.rows = s.cols = 16;
  s.slices = 4;
  s.slice_spacing = 2.0;
  return writeSyntheticSeries(s, dir);
}

}  // namespace volnode::test
