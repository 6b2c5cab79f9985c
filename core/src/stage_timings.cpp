#include "volnode/core/stage_timings.hpp"

#include <fmt/format.h>

namespace volnode {

void StageTimings::add(const std::string& stage, double seconds) {
  for (auto& [name, s] : stages)
    if (name == stage) {
      s += seconds;
      return;
    }
  stages.emplace_back(stage, seconds);
}

double StageTimings::get(const std::string& stage) const {
  for (auto& [name, s] : stages)
    if (name == stage) return s;
  return 0;
}

double StageTimings::total() const {
  double t = 0;
  for (auto& [name, s] : stages) t += s;
  return t;
}

std::string StageTimings::summary() const {
  std::string out;
  for (auto& [name, s] : stages) out += (out.empty() ? "" : ", ") + fmt::format("{} {:.3f} s", name, s);
  return out;
}

double secondsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace volnode
