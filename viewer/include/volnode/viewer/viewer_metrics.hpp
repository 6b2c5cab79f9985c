#pragma once
// What the viewer pool answered, counted for the node's /metrics: frames by
// quality (draft, full, slice) with a latency histogram each (from the request
// reaching the pool to the worker's whole reply, waiting for a worker included),
// where each answer found its volume (the worker's warm LRU: memory; else disk or
// assembled), and the 503 refusals. Plain C++.
#include <array>
#include <cstdint>
#include <map>
#include <string>

#include "volnode/viewer/viewer_protocol.hpp"

namespace volnode::viewer {

struct LatencyHistogram {
  // Upper bounds (s) around the viewer's goals: draft 80 ms, full 400 ms, cold 2 s.
  static constexpr std::array<double, 10> kBoundsS{0.025, 0.05, 0.08, 0.1, 0.2, 0.4, 0.8, 2, 5, 30};
  std::array<int64_t, kBoundsS.size()> cumulative{};  // answers at most each bound
  int64_t count = 0;
  double sum_s = 0;
  void add(double seconds);
};

struct ViewerMetrics {
  std::map<std::string, LatencyHistogram> answered;  // 200 answers by quality: draft, full, slice
  std::map<std::string, int64_t> volume_source;      // memory (warm hit), disk, assembled (misses)
  std::map<int, int64_t> failed;                     // other answers by HTTP status (400, 404, 503, ...)

  // One answer of the pool; `seconds` from asking to the reply.
  void record(const ViewerRequest& request, const ViewerReply& reply, double seconds);
};

// draft | full for view3d (by its quality parameter), slice for slices.
std::string qualityOf(const ViewerRequest& request);

}  // namespace volnode::viewer
