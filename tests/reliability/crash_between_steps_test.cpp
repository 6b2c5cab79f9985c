// A crash between any two steps of a series' way through the node, as kill -9 or
// a power cut would cause it: the process dies at a fault point (core/fault_point.hpp)
// right before or right after a transaction, in the node (completion, sending) or
// in a worker (routing, rendering). After the restart (of the node, or of the
// worker by the node) the series ends delivered to a real Orthanc exactly once:
// every planned result there once, none twice, none missing.
#include <gtest/gtest.h>

#include <cstdlib>
#include <set>

#include "reliability_support.hpp"
#include "support/node_api.hpp"
#include "support/synthetic_series.hpp"

using namespace volnode::test;
using namespace volnode::test::reliability;

namespace {


struct Point {
  const char* name;
  bool in_node;  // the node itself dies (else one of its workers)
};

const Point kPoints[] = {
    {"series-completed", true},   // after: series complete + route job committed
    {"route-decided", false},     // before: route job succeeded + render job + series queued
    {"route-succeeded", false},   // after that
    {"render-written", false},    // before: render succeeded + series done + send jobs
    {"render-succeeded", false},  // after that
    {"send-recorded", true},      // after the deliveries were recorded, before the send job succeeded
};

class FaultEnvironment {
 public:
  FaultEnvironment(const std::string& point, const std::filesystem::path& marker) {
    ::setenv("VOLNODE_FAULT_POINT", point.c_str(), 1);
    ::setenv("VOLNODE_FAULT_MARKER", marker.c_str(), 1);
  }
  ~FaultEnvironment() {
    ::unsetenv("VOLNODE_FAULT_POINT");
    ::unsetenv("VOLNODE_FAULT_MARKER");
  }
};

}  // namespace

TEST(CrashBetweenSteps, EverySeriesEndsDeliveredExactlyOnce) {
  TempDir dir("volnode-rel-crash-steps");
  OrthancProcess orthanc(dir / "orthanc");
  const std::vector<std::string> settings{"render.spin_frames=8",
                                          "outputs.reformats=false",  // counts the four 3D results
                                          "render.size=128",
                                          "completion.quiet_s=1",
                                          "completion.release_grace_s=0.5",
                                          "sending.retry_initial_s=1",
                                          "sending.retry_max_s=2",
                                          "destinations.pacs.aet=" + orthanc.aet(),
                                          "destinations.pacs.host=127.0.0.1",
                                          "destinations.pacs.port=" + std::to_string(orthanc.dicomPort())};
  for (const auto& point : kPoints) {
    SCOPED_TRACE(point.name);
    const auto here = dir / point.name;
    const auto marker = here / "fault-fired";
    std::filesystem::create_directories(here);
    SyntheticSeries s;
    s.rows = s.cols = 64;
    s.slices = 40;
    s.slice_spacing = 2.0;
    s.origin = {-32, -32, -40};
    s.patient_id = std::string("CRASH-") + point.name;
    s.value = OrientationPhantom{}.function();
    auto series = writeSyntheticSeries(s, here / "series");

    std::unique_ptr<NodeProcess> node;
    {
      FaultEnvironment fault(point.name, marker);  // inherited by the node and its workers
      node = std::make_unique<NodeProcess>(here / "node", settings);
    }
    ASSERT_NO_FATAL_FAILURE(pushFolder(*node, here / "series"));

    ASSERT_TRUE(waitFor([&] { return std::filesystem::exists(marker); }, 90s)) << "the fault never fired\n"
                                                                                  << node->log();
    if (point.in_node) {
      ASSERT_TRUE(waitFor([&] { return !node->running(); }, 10s)) << "the node did not die at the fault";
      node->start();  // without the fault variables now
      ASSERT_TRUE(node->waitUntilReady()) << node->log();
    }

    std::vector<std::string> in_orthanc;
    bool delivered = waitFor(
        [&] {
          in_orthanc = orthancSopUids(orthanc, series.study_instance_uid);
          for (const auto& job : nodeJobs(*node, "send"))
            if (job.value("SeriesInstanceUID", "") == series.series_instance_uid &&
                job.value("state", "") == "succeeded")
              return in_orthanc.size() >= kResultsPerCtSeries;
          return false;
        },
        120s, 250ms);
    ASSERT_TRUE(delivered) << "not delivered after the crash; Orthanc holds " << in_orthanc.size() << "\n"
                           << node->log();
    std::this_thread::sleep_for(1s);  // a duplicate send would arrive now
    in_orthanc = orthancSopUids(orthanc, series.study_instance_uid);
    std::set<std::string> distinct(in_orthanc.begin(), in_orthanc.end());
    EXPECT_EQ(in_orthanc.size(), kResultsPerCtSeries) << "Orthanc holds duplicates or misses results";
    EXPECT_EQ(distinct.size(), kResultsPerCtSeries);
    int renders = 0, sends = 0;
    for (const auto& job : nodeJobs(*node, "render"))
      renders += job.value("SeriesInstanceUID", "") == series.series_instance_uid;
    for (const auto& job : nodeJobs(*node, "send"))
      sends += job.value("SeriesInstanceUID", "") == series.series_instance_uid;
    EXPECT_EQ(renders, 1) << "the series was routed twice";
    EXPECT_EQ(sends, 1) << "the results were queued for sending twice";
    node->kill9();
  }
}
