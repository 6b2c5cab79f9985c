// Start on release, publish on completion (completion.speculative_start): a real node,
// storescu pushing a small synthetic CT, storescp as the destination "pacs". The
// release grace is long (6 s) so that what happens within it does not depend on the
// machine's speed; the assertions compare the node's own timestamps, never a clock.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <set>
#include <thread>

#include "support/node_api.hpp"
#include "support/node_process.hpp"
#include "support/process.hpp"
#include "support/storescp_process.hpp"
#include "support/synthetic_series.hpp"

using namespace volnode::test;
using json = nlohmann::json;
using namespace std::chrono_literals;

namespace {

std::vector<std::string> settings(const StorescpProcess& pacs) {
  std::vector<std::string> settings{"completion.quiet_s=60", "completion.release_grace_s=6", "render.size=128",
                                    "render.spin_frames=8", "outputs.reformats=false"};
  for (auto& s : pacs.destinationSettings()) settings.push_back(s);
  return settings;
}

// 40 slices the default CT rule renders (spins, key views, model), in a second or two.
WrittenSeries speculativeSeries(const std::filesystem::path& dir) {
  SyntheticSeries s;
  s.rows = s.cols = 128;
  s.slices = 40;
  s.slice_spacing = 3.0;
  s.origin = {-64, -64, -60};
  s.value = OrientationPhantom{}.function();
  return writeSyntheticSeries(s, dir);
}

int push(const NodeProcess& node, const std::vector<std::filesystem::path>& files) {
  auto argv = node.scu("storescu");
  for (const auto& f : files) argv.push_back(f.string());
  return run(argv).exit_code;
}

std::vector<json> jobsOf(const NodeProcess& node, const std::string& series_uid, const std::string& kind) {
  std::vector<json> out;
  auto body = apiJson(node, "/api/jobs?series=" + series_uid);
  if (body.is_object())
    for (const auto& job : body["jobs"])
      if (job.value("kind", "") == kind) out.insert(out.begin(), job);  // oldest first
  return out;
}

// When the job's event whose message contains `text` happened ("" when none did).
std::string eventAt(const NodeProcess& node, int64_t job_id, const std::string& text) {
  auto job = apiJson(node, "/api/jobs/" + std::to_string(job_id));
  if (job.is_object())
    for (const auto& e : job["events"])
      if (e.value("message", "").find(text) != std::string::npos) return e.value("at", "");
  return "";
}

// The objects a render job wrote (each is sent once).
size_t writtenOutputs(const NodeProcess& node, int64_t job_id) {
  size_t n = 0;
  const auto job = apiJson(node, "/api/jobs/" + std::to_string(job_id));
  for (const auto& o : job["outputs"]) n += o.value("written", false);
  return n;
}

// One send job, for `render`, has delivered each of its results once, and nothing else
// (a canceled render's results) reached the PACS.
void expectOnlyThisRenderSentOnce(const NodeProcess& node, const StorescpProcess& pacs, const std::string& series_uid,
                                  const json& render) {
  ASSERT_TRUE(waitFor(
      [&] {
        auto sends = jobsOf(node, series_uid, "send");
        return sends.size() == 1 && sends[0]["state"] == "succeeded";
      },
      30s))
      << node.log();
  EXPECT_EQ(jobsOf(node, series_uid, "send")[0]["payload"].value("render_job", int64_t{0}),
            render["id"].get<int64_t>());
  EXPECT_EQ(pacs.files(), writtenOutputs(node, render["id"])) << "each once, none of the canceled render";
}

}  // namespace

TEST(SpeculativeStart, RenderStartsWithinTheReleaseGraceAndItsResultsAreSentOnlyOnceTheSeriesIsComplete) {
  TempDir dir("volnode-it-speculative");
  StorescpProcess pacs(dir / "pacs");
  NodeProcess node(dir / "node", settings(pacs));
  auto series = speculativeSeries(dir / "series");
  ASSERT_EQ(push(node, series.files), 0);

  ASSERT_TRUE(waitFor([&] { return seriesDone(node, series.series_instance_uid); }, 40s)) << node.log();
  auto renders = jobsOf(node, series.series_instance_uid, "render");
  ASSERT_EQ(renders.size(), 1u) << node.log();
  const auto& render = renders[0];
  EXPECT_EQ(render.value("state", ""), "succeeded");
  const std::string confirmed = eventAt(node, render["id"], "speculative start confirmed");
  ASSERT_FALSE(confirmed.empty()) << apiJson(node, "/api/jobs/" + std::to_string(render["id"].get<int64_t>())).dump(2);
  // Started before completion was decided at the grace's end...
  EXPECT_LT(render.value("started_at", ""), confirmed) << render.dump(2);
  auto transitions = apiJson(node, "/api/series/" + series.series_instance_uid)["transitions"];
  std::vector<std::string> completes;
  for (const auto& t : transitions)
    if (t["state"] == "complete") completes.push_back(t["reason"]);
  ASSERT_EQ(completes.size(), 1u) << transitions.dump(2);
  EXPECT_NE(completes[0].find("results held until complete"), std::string::npos) << completes[0];
  // ... and nothing was queued for sending before it.
  auto sends = jobsOf(node, series.series_instance_uid, "send");
  ASSERT_EQ(sends.size(), 1u) << node.log();
  EXPECT_GE(sends[0].value("created_at", ""), confirmed) << sends[0].dump(2);
  ASSERT_TRUE(waitFor([&] { return jobsOf(node, series.series_instance_uid, "send")[0]["state"] == "succeeded"; }, 30s))
      << node.log();
  const size_t outputs = writtenOutputs(node, render["id"]);
  EXPECT_GT(outputs, 0u);
  EXPECT_EQ(pacs.files(), outputs) << "each result once";
}

TEST(SpeculativeStart, AnInstanceArrivingWithinTheGraceCancelsTheSpeculativeRenderAndTheFinalRenderIncludesIt) {
  TempDir dir("volnode-it-speculative-late");
  StorescpProcess pacs(dir / "pacs");
  NodeProcess node(dir / "node", settings(pacs));
  auto series = speculativeSeries(dir / "series");
  const std::vector<std::filesystem::path> first(series.files.begin(), series.files.end() - 1);
  ASSERT_EQ(push(node, first), 0);
  // The render of 39 slices starts on the release, well within the 6 s grace.
  ASSERT_TRUE(waitFor([&] { return !jobsOf(node, series.series_instance_uid, "render").empty(); }, 20s, 50ms))
      << node.log();
  ASSERT_EQ(push(node, {series.files.back()}), 0);  // the last slice, late

  ASSERT_TRUE(waitFor([&] { return seriesDone(node, series.series_instance_uid); }, 40s)) << node.log();
  auto renders = jobsOf(node, series.series_instance_uid, "render");
  ASSERT_EQ(renders.size(), 2u) << node.log();
  EXPECT_EQ(renders[0].value("state", ""), "canceled") << renders[0].dump(2);
  EXPECT_FALSE(eventAt(node, renders[0]["id"], "speculative start withdrawn").empty());
  EXPECT_EQ(renders[1].value("state", ""), "succeeded") << renders[1].dump(2);
  // The late slice made the series receiving again; the final render began after it,
  // so it assembled all 40.
  auto state = apiJson(node, "/api/series/" + series.series_instance_uid);
  EXPECT_EQ(state.value("instances", 0), 40);
  std::string reopened;
  for (const auto& t : state["transitions"])
    if (t["state"] == "receiving" && t.value("reason", "").find("late instance") != std::string::npos)
      reopened = t.value("at", "");
  ASSERT_FALSE(reopened.empty()) << state.dump(2);
  EXPECT_LT(renders[0].value("created_at", ""), reopened) << "the first render was speculative";
  EXPECT_GT(renders[1].value("started_at", ""), reopened) << state.dump(2);

  // Only the final render's results leave, each once.
  expectOnlyThisRenderSentOnce(node, pacs, series.series_instance_uid, renders[1]);
}

TEST(SpeculativeStart, ANodeKilledDuringASpeculativeRenderReceivesTheSeriesAgainAndSendsOnlyTheFinalRender) {
  TempDir dir("volnode-it-speculative-kill");
  StorescpProcess pacs(dir / "pacs");
  auto overrides = settings(pacs);
  overrides.push_back("completion.release_grace_s=8");  // the kill lands well within it
  overrides.push_back("completion.quiet_s=8");          // after the restart: complete by the quiet period
  NodeProcess node(dir / "node", overrides);
  auto series = speculativeSeries(dir / "series");
  ASSERT_EQ(push(node, series.files), 0);
  ASSERT_TRUE(waitFor([&] { return !jobsOf(node, series.series_instance_uid, "render").empty(); }, 20s, 50ms))
      << node.log();
  node.kill9();  // before the grace confirmed the series: its speculative work is unconfirmed
  node.start();
  ASSERT_TRUE(node.waitUntilReady()) << node.log();

  ASSERT_TRUE(waitFor([&] { return seriesDone(node, series.series_instance_uid); }, 40s)) << node.log();
  auto renders = jobsOf(node, series.series_instance_uid, "render");
  ASSERT_EQ(renders.size(), 2u) << node.log();
  EXPECT_EQ(renders[0].value("state", ""), "canceled") << renders[0].dump(2);
  EXPECT_FALSE(eventAt(node, renders[0]["id"], "start-up repair").empty());
  EXPECT_EQ(renders[1].value("state", ""), "succeeded") << renders[1].dump(2);
  expectOnlyThisRenderSentOnce(node, pacs, series.series_instance_uid, renders[1]);
}
