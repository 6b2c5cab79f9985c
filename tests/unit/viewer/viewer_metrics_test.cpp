// The viewer pool's counts for /metrics: answers by quality with cumulative
// latency buckets, volume cache hits and misses, failures by status.
#include <gtest/gtest.h>

#include "volnode/viewer/viewer_metrics.hpp"

using namespace volnode::viewer;

namespace {

ViewerReply answered(const std::string& source) {
  ViewerReply reply;
  reply.headers["X-Volume-Source"] = source;
  return reply;
}

}  // namespace

TEST(ViewerMetrics, CountsAnswersByQualityWithCumulativeLatencyBuckets) {
  ViewerMetrics m;
  const ViewerRequest draft{"view3d", "1.2", {{"quality", "draft"}}};
  const ViewerRequest full{"view3d", "1.2", {}};
  const ViewerRequest slice{"slice", "1.2", {{"plane", "axial"}}};
  m.record(draft, answered("memory"), 0.030);
  m.record(draft, answered("memory"), 0.090);
  m.record(full, answered("disk"), 1.5);
  m.record(slice, answered("assembled"), 0.010);

  const auto& d = m.answered.at("draft");
  EXPECT_EQ(d.count, 2);
  EXPECT_DOUBLE_EQ(d.sum_s, 0.12);
  ASSERT_EQ(LatencyHistogram::kBoundsS[1], 0.05);
  EXPECT_EQ(d.cumulative[0], 0);  // <= 25 ms
  EXPECT_EQ(d.cumulative[1], 1);  // <= 50 ms
  EXPECT_EQ(d.cumulative[3], 2);  // <= 100 ms
  EXPECT_EQ(d.cumulative.back(), 2);
  EXPECT_EQ(m.answered.at("full").cumulative[6], 0);  // <= 0.8 s
  EXPECT_EQ(m.answered.at("full").cumulative[7], 1);  // <= 2 s
  EXPECT_EQ(m.answered.at("slice").count, 1);
  EXPECT_EQ(m.volume_source.at("memory"), 2);
  EXPECT_EQ(m.volume_source.at("disk"), 1);
  EXPECT_EQ(m.volume_source.at("assembled"), 1);
  EXPECT_TRUE(m.failed.empty());
}

TEST(ViewerMetrics, FailuresAreCountedByStatusAndNotAsFrames) {
  ViewerMetrics m;
  ViewerReply busy;
  busy.status = 503;
  ViewerReply bad;
  bad.status = 400;
  m.record({"view3d", "1.2", {{"quality", "draft"}}}, busy, 2.0);
  m.record({"view3d", "1.2", {{"quality", "draft"}}}, busy, 2.0);
  m.record({"slice", "1.2", {}}, bad, 0.001);
  EXPECT_EQ(m.failed.at(503), 2);
  EXPECT_EQ(m.failed.at(400), 1);
  EXPECT_TRUE(m.answered.empty());
  EXPECT_TRUE(m.volume_source.empty());
  EXPECT_EQ(qualityOf({"view3d", "1.2", {{"quality", "full"}}}), "full");
  EXPECT_EQ(qualityOf({"slice", "1.2", {{"quality", "draft"}}}), "slice");
}
