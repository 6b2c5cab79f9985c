// A render worker decodes the series it sees arriving while it has nothing else to
// do, and the render job assembles from those slices: a real node, storescu pushing
// a synthetic CT. The release grace (6 s, no speculative start) leaves the idle worker
// time to decode every slice before the series is complete, whatever the machine.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <thread>

#include "support/node_api.hpp"
#include "support/node_process.hpp"
#include "support/process.hpp"
#include "support/synthetic_series.hpp"

using namespace volnode::test;
using json = nlohmann::json;
using namespace std::chrono_literals;

namespace {

}  // namespace

TEST(DecodeAhead, TheIdleWorkerDecodesTheArrivingSeriesAndItsRenderAssemblesFromIt) {
  TempDir dir("volnode-it-decode-ahead");
  NodeProcess node(dir / "node", {"completion.quiet_s=60", "completion.release_grace_s=6",
                                  "completion.speculative_start=false", "render.size=128", "render.spin_frames=8",
                                  "outputs.reformats=false"});
  SyntheticSeries s;
  s.rows = s.cols = 128;
  s.slices = 40;
  s.slice_spacing = 3.0;
  s.origin = {-64, -64, -60};
  s.instance_order = InstanceOrder::Shuffled;  // sent out of stack order
  s.value = OrientationPhantom{}.function();
  const auto series = writeSyntheticSeries(s, dir / "series");
  auto argv = node.scu("storescu");
  for (const auto& f : series.files) argv.push_back(f.string());
  ASSERT_EQ(run(argv).exit_code, 0);

  ASSERT_TRUE(waitFor([&] { return seriesDone(node, series.series_instance_uid); }, 60s)) << node.log();
  EXPECT_NE(node.log().find(series.series_instance_uid + ": 40 of 40 files decoded while it arrived"),
            std::string::npos)
      << node.log();
  // The volume is the whole series, as assembly alone gives it (exactness: unit tests).
  const auto render = apiJson(node, "/api/series/" + series.series_instance_uid);
  EXPECT_EQ(render.value("instances", 0), 40) << render.dump();
}
