#pragma once
// Helpers shared by the volume tests: files of a folder, cached assemblies.
#include <algorithm>
#include <filesystem>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include <unistd.h>

#include "support/process.hpp"
#include "support/synthetic_series.hpp"
#include "volnode/volume/assembly.hpp"

namespace volnode::test {

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
