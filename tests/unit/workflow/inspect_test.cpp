// `volnode inspect`: the report of a folder (volumes from volume/, rules from rules/)
// on the real scans in ../shared/data and on a hostile file.
#include <gtest/gtest.h>

#include <cmath>
#include <thread>

#include "support/hostile_dicom.hpp"
#include "support/synthetic_series.hpp"
#include "unit/volume/volume_test_util.hpp"
#include "volnode/workflow/inspect.hpp"

namespace volnode {
namespace {

using test::sharedData;

const InspectReport& phantomStudyReport() {
  static const InspectReport report = [] {
    auto rules = RuleSet::defaults();
    return inspectDirectory(sharedData("ct-head-phantom-study"), &rules);
  }();
  return report;
}

TEST(Assembly, PhantomStudyYieldsOne1mmAndOne5mmVolume) {
  const auto& report = phantomStudyReport();
  ASSERT_EQ(report.series.size(), 4u) << toText(report);
  int renderable_1mm = 0, renderable_5mm = 0;
  for (const auto& s : report.series) {
    for (const auto& v : s.volumes) {
      if (v.candidate.decision != VolumeDecision::Renderable) continue;
      EXPECT_EQ(v.candidate.dimensions[0], 512);
      EXPECT_EQ(v.candidate.dimensions[1], 512);
      if (v.candidate.dimensions[2] == 140 && std::abs(v.candidate.spacing[2] - 1.0) < 0.01) ++renderable_1mm;
      if (v.candidate.dimensions[2] == 28 && std::abs(v.candidate.spacing[2] - 5.0) < 0.05) ++renderable_5mm;
      EXPECT_NEAR(v.candidate.spacing[0], 0.451171875, 1e-6);
      EXPECT_TRUE(v.candidate.corrections.empty());
      EXPECT_TRUE(v.candidate.uniform);
    }
  }
  EXPECT_EQ(renderable_1mm, 1) << toText(report);
  EXPECT_EQ(renderable_5mm, 1) << toText(report);
  EXPECT_EQ(report.skipped_files, 6u) << "5 DIRFILEs (DICOMDIR) and the LICENSE are not images";
}

TEST(Assembly, PhantomStudyRefusesLocalizerAndSecondaryCaptureWithReasons) {
  const auto& report = phantomStudyReport();
  int localizers = 0, captures = 0;
  for (const auto& s : report.series) {
    if (s.decision == VolumeDecision::Renderable) continue;
    ASSERT_FALSE(s.volumes.empty());
    for (const auto& v : s.volumes) {
      EXPECT_EQ(v.candidate.decision, VolumeDecision::Refused);
      EXPECT_TRUE(v.rule.empty());
    }
    if (s.reason == "localizer") ++localizers;
    if (s.reason == "secondary capture") ++captures;
  }
  EXPECT_EQ(localizers, 1) << toText(report);
  EXPECT_EQ(captures, 1) << toText(report);
}

TEST(Assembly, PhantomStudyJsonIsStable) {
  const std::string json = toJson(phantomStudyReport());
  for (const char* key : {"\"series\"", "\"SeriesInstanceUID\"", "\"Modality\"", "\"SeriesDescription\"",
                          "\"instances\"", "\"decision\"", "\"reason\"", "\"volumes\"", "\"dimensions\"",
                          "\"spacing\"", "\"origin\"", "\"direction\"", "\"tilt_deg\"", "\"uniform\"",
                          "\"corrections\"", "\"rule\""})
    EXPECT_NE(json.find(key), std::string::npos) << key;
  EXPECT_NE(json.find("\"rule\": \"ct-head\""), std::string::npos);
  EXPECT_NE(json.find("\"rule\": null"), std::string::npos);
}

TEST(GuardedRead, InspectSkipsADeeplyNestedFile) {
  test::TempDir dir;
  const auto series = test::fourSlices(dir.path());
  test::insertBeforePixelData(series.files[0], test::nestedSequences(20000));
  InspectReport report;
  std::thread reader([&] { report = inspectDirectory(dir.path(), nullptr); });
  reader.join();
  EXPECT_EQ(report.skipped_files, 1u);
  ASSERT_EQ(report.series.size(), 1u);
  EXPECT_EQ(report.series.front().instances, 3u);
}

}  // namespace
}  // namespace volnode
