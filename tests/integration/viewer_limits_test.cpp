// viewer.max_sessions through a real node: with one viewer worker and no wait for
// a free one (viewer.wait_s = 0), frames asked for at the same time beyond the
// first are answered 503 with Retry-After (and JSON naming the limit), never queued
// without bound; the refusals are counted in /metrics and the viewer keeps
// answering afterwards. Loopback only, bounded rounds.
#include <gtest/gtest.h>

#include <httplib.h>
#include <nlohmann/json.hpp>

#include <atomic>
#include <mutex>
#include <thread>

#include "support/node_api.hpp"
#include "support/node_process.hpp"
#include "support/process.hpp"
#include "support/synthetic_series.hpp"

using namespace volnode::test;
using namespace std::chrono_literals;

namespace {

// The value of one unlabelled sample of the Prometheus text, -1 when absent.
double metric(const std::string& text, const std::string& name) {
  const std::string key = "\n" + name + " ";
  const size_t at = text.find(key);
  return at == std::string::npos ? -1 : std::stod(text.substr(at + key.size()));
}

TEST(InteractiveViewLimits, BeyondMaxSessionsTheAnswerIs503WithRetryAfter) {
  TempDir dir("volnode-it-viewer-limits");
  // Not opened ahead after its render: that would hold the one worker when the rounds begin.
  NodeProcess node(dir / "node", {"viewer.max_sessions=1", "viewer.wait_s=0", "viewer.prepare_after_render=false",
                                  "render.size=128", "completion.quiet_s=1", "completion.release_grace_s=0.5"});
  SyntheticSeries s;
  s.rows = s.cols = 128;
  s.slices = 90;
  s.value = OrientationPhantom{}.function();
  const auto series = writeSyntheticSeries(s, dir / "series");
  ASSERT_NO_FATAL_FAILURE(pushFolder(node, dir / "series"));
  const std::string uid = series.series_instance_uid;
  // The batch render keeps the prepared volume the viewer reads.
  const auto deadline = std::chrono::steady_clock::now() + 180s;
  while (node.get("/api/series/" + uid + "/results").status != 200) {
    ASSERT_LT(std::chrono::steady_clock::now(), deadline) << node.log();
    std::this_thread::sleep_for(200ms);
  }

  // Rounds of four frames asked for at once: one worker renders one of them.
  constexpr int kAtOnce = 4;
  std::atomic<int> ok{0}, refused{0}, other{0};
  std::vector<std::string> refusal_bodies, retry_afters;
  std::mutex seen;
  for (int round = 0; round < 5 && refused == 0; ++round) {
    std::vector<std::thread> viewers;
    for (int v = 0; v < kAtOnce; ++v)
      viewers.emplace_back([&, v] {
        httplib::Client client("127.0.0.1", node.consolePort());
        client.set_read_timeout(120);
        auto r = client.Get("/api/series/" + uid + "/view3d?size=512&azimuth=" + std::to_string(37 * v + round));
        if (r && r->status == 200) {
          ++ok;
        } else if (r && r->status == 503) {
          ++refused;
          std::lock_guard lock(seen);
          refusal_bodies.push_back(r->body);
          retry_afters.push_back(r->get_header_value("Retry-After"));
        } else {
          ++other;
        }
      });
    for (auto& t : viewers) t.join();
  }
  EXPECT_EQ(other, 0);
  EXPECT_GE(ok, 1) << "the one worker renders";
  ASSERT_GE(refused, 1) << "four frames at once with one worker and no wait";
  for (size_t n = 0; n < refusal_bodies.size(); ++n) {
    ASSERT_FALSE(retry_afters[n].empty());
    EXPECT_GE(std::stoi(retry_afters[n]), 1);
    auto body = nlohmann::json::parse(refusal_bodies[n]);
    EXPECT_EQ(body.value("status", 0), 503);
    EXPECT_NE(body.value("error", "").find("viewer.max_sessions"), std::string::npos) << body.dump();
  }

  // Counted, and the viewer still answers once the burst is over.
  const auto metrics = node.get("/metrics");
  ASSERT_EQ(metrics.status, 200);
  EXPECT_EQ(metric(metrics.body, "volnode_viewer_sessions_max"), 1);
  EXPECT_EQ(metric(metrics.body, "volnode_viewer_refused_total"), refused.load());
  EXPECT_NE(metrics.body.find("volnode_viewer_errors_total{status=\"503\"} " + std::to_string(refused.load()) + "\n"),
            std::string::npos);
  EXPECT_NE(metrics.body.find("volnode_viewer_frames_total{quality=\"full\"} " + std::to_string(ok.load()) + "\n"),
            std::string::npos)
      << metrics.body.substr(metrics.body.find("volnode_viewer"));
  EXPECT_EQ(node.get("/api/series/" + uid + "/view3d?size=128").status, 200);
  EXPECT_EQ(node.stop(), 0);
}

}  // namespace
