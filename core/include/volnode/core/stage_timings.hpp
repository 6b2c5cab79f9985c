#pragma once
// Wall-clock time per stage, the one timing type of every step that reports where its
// time went (preprocessing, rendering, a render job): seconds, in the order the stages
// first ran, added up when a stage runs again.
#include <chrono>
#include <string>
#include <utility>
#include <vector>

namespace volnode {

struct StageTimings {
  std::vector<std::pair<std::string, double>> stages;
  void add(const std::string& stage, double seconds);
  double get(const std::string& stage) const;  // 0 when it never ran
  double total() const;
  std::string summary() const;  // "upload 0.120 s, first-render 0.800 s, ..."
};

// Seconds from `start` to now, on the steady clock.
double secondsSince(std::chrono::steady_clock::time_point start);

}  // namespace volnode
