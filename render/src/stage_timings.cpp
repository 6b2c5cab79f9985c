// Per-stage wall-clock seconds of a renderer (StageTimings in render.hpp).
#include <fmt/format.h>

#include "volnode/render/render.hpp"

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

}  // namespace volnode
