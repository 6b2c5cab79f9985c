// An operator cancels a render while its worker runs it: the series says
// `canceled` (not "queued, will be retried": no job is queued), the job list
// agrees, the worker's late result changes nothing, and the series can be
// rendered again on demand.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "support/node_api.hpp"
#include "support/node_process.hpp"
#include "support/process.hpp"
#include "support/synthetic_series.hpp"

using namespace volnode::test;
using json = nlohmann::json;
using namespace std::chrono_literals;

namespace {

constexpr char kCancelToken[] = "cancel-test-console-token";

json seriesJson(const NodeProcess& node, const WrittenSeries& s) {
  auto body = apiJson(node, "/api/studies/" + s.study_instance_uid);
  if (body.is_object())
    for (const auto& series : body.value("series", json::array()))
      if (series.value("SeriesInstanceUID", "") == s.series_instance_uid) return series;
  return json();
}

std::vector<json> jobsOfSeries(const NodeProcess& node, const WrittenSeries& s) {
  std::vector<json> out;
  auto body = apiJson(node, "/api/jobs?series=" + s.series_instance_uid);
  if (body.is_object())
    for (const auto& job : body["jobs"]) out.push_back(job);
  return out;
}

}  // namespace

TEST(CancelRender, ARunningRenderCanceledLeavesTheSeriesCanceledAndItRendersAgainOnDemand) {
  TempDir dir("volnode-it-cancel");
  // A render of a second or more, so that the cancel lands while it runs.
  NodeProcess node(dir / "node", {std::string("console.token=") + kCancelToken, "render.size=256",
                                  "render.spin_frames=36", "completion.quiet_s=1",
                                  "completion.release_grace_s=0.5"});
  SyntheticSeries s;
  s.rows = s.cols = 128;
  s.slices = 64;
  s.slice_spacing = 2.0;
  s.origin = {-64, -64, -64};
  s.value = OrientationPhantom{}.function();
  auto series = writeSyntheticSeries(s, dir / "series");
  ASSERT_NO_FATAL_FAILURE(pushFolder(node, dir / "series"));

  int64_t render_id = 0;
  ASSERT_TRUE(waitFor(
      [&] {
        for (const auto& job : jobsOfSeries(node, series))
          if (job.value("kind", "") == "render" && job.value("state", "") == "running") render_id = job["id"];
        return render_id != 0;
      },
      60s, 20ms))
      << node.log();
  auto canceled = node.post("/api/jobs/" + std::to_string(render_id) + "/cancel", "", kCancelToken);
  ASSERT_EQ(canceled.status, 200) << canceled.body;

  auto state = seriesJson(node, series);
  EXPECT_EQ(state.value("state", ""), "canceled") << state.dump();
  // The worker finishes or notices later; neither changes what the operator decided.
  std::this_thread::sleep_for(3s);
  EXPECT_EQ(seriesJson(node, series).value("state", ""), "canceled");
  for (const auto& job : jobsOfSeries(node, series)) {
    const std::string job_state = job.value("state", "");
    EXPECT_TRUE(job_state == "succeeded" || job_state == "canceled") << job.dump();  // the route job; the render
    EXPECT_NE(job.value("kind", ""), "send") << "a canceled render sends nothing";
  }

  // Rendered again on demand: a new route job, then a render that completes.
  auto again = node.post("/api/series/" + series.series_instance_uid + "/render", "", kCancelToken);
  ASSERT_EQ(again.status, 202) << again.body;
  ASSERT_TRUE(waitFor([&] { return seriesJson(node, series).value("state", "") == "done"; }, 120s)) << node.log();
  int renders = 0, succeeded = 0;
  for (const auto& job : jobsOfSeries(node, series))
    if (job.value("kind", "") == "render") {
      ++renders;
      succeeded += job.value("state", "") == "succeeded";
    }
  EXPECT_EQ(renders, 2);
  EXPECT_EQ(succeeded, 1);
}
