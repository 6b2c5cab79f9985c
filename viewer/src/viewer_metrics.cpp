#include "volnode/viewer/viewer_metrics.hpp"

namespace volnode::viewer {

void LatencyHistogram::add(double seconds) {
  for (size_t n = 0; n < kBoundsS.size(); ++n)
    if (seconds <= kBoundsS[n]) ++cumulative[n];
  ++count;
  sum_s += seconds;
}

std::string qualityOf(const ViewerRequest& request) {
  if (request.kind == "slice") return "slice";
  auto it = request.params.find("quality");
  return it != request.params.end() && it->second == "draft" ? "draft" : "full";
}

void ViewerMetrics::record(const ViewerRequest& request, const ViewerReply& reply, double seconds) {
  if (reply.status != 200) {
    ++failed[reply.status];
    return;
  }
  answered[qualityOf(request)].add(seconds);
  auto source = reply.headers.find("X-Volume-Source");
  if (source != reply.headers.end()) ++volume_source[source->second];
}

}  // namespace volnode::viewer
