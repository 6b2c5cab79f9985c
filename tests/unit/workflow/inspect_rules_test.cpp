// `volnode inspect --json` says which rule, presets and reformats each volume would
// get, or why it would not be rendered (a stack too short for any rule: which rule it missed).
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "support/process.hpp"
#include "support/synthetic_series.hpp"
#include "volnode/workflow/inspect.hpp"

namespace volnode {
namespace {

// One 40-slice 3D-looking MR series per description, in its own folder under root.
void writeMrSeries(const std::filesystem::path& dir, const std::string& description) {
  test::SyntheticSeries s;
  s.modality = "MR";
  s.rows = s.cols = 32;
  s.slices = 40;
  s.series_description = description;
  test::writeSyntheticSeries(s, dir);
}

nlohmann::json volumeOf(const nlohmann::json& report, const std::string& description) {
  for (const auto& s : report["series"])
    if (s["SeriesDescription"] == description) return s["volumes"][0];
  ADD_FAILURE() << "no series " << description << " in " << report.dump(2);
  return {};
}

TEST(InspectRules, JsonSaysWhyAslAndDiffusionAreDeclinedAndWhatACtGets) {
  test::TempDir dir("volnode-inspect-rules");
  writeMrSeries(dir / "asl", "pCASL 3D PLD 1800");
  writeMrSeries(dir / "dwi", "ep2d_diff_b1000");
  test::SyntheticSeries ct;
  ct.slices = 30;
  ct.series_description = "Thorax 1.0";
  ct.body_part = "CHEST";
  test::writeSyntheticSeries(ct, dir / "ct");
  test::SyntheticSeries short_ct;  // e.g. what arrived of a push that stopped midway
  short_ct.slices = 12;
  short_ct.series_description = "Abdomen 1.0";
  test::writeSyntheticSeries(short_ct, dir / "short-ct");

  const RuleSet rules = RuleSet::defaults();
  const auto report = nlohmann::json::parse(toJson(inspectDirectory(dir.path(), &rules)));

  const auto asl = volumeOf(report, "pCASL 3D PLD 1800");
  EXPECT_TRUE(asl["rule"].is_null());
  EXPECT_EQ(asl["matched_rule"], "never-perfusion-asl");
  EXPECT_NE(asl["why"].get<std::string>().find("arterial spin labelling"), std::string::npos) << asl.dump();

  const auto dwi = volumeOf(report, "ep2d_diff_b1000");
  EXPECT_EQ(dwi["matched_rule"], "never-diffusion");
  EXPECT_NE(dwi["why"].get<std::string>().find("diffusion"), std::string::npos) << dwi.dump();

  const auto too_short = volumeOf(report, "Abdomen 1.0");
  EXPECT_TRUE(too_short["rule"].is_null());
  EXPECT_NE(too_short["why"].get<std::string>().find("no routing rule matches (rule "), std::string::npos)
      << too_short.dump();
  EXPECT_NE(too_short["why"].get<std::string>().find(" needs at least 20 slices; the stack has 12)"), std::string::npos)
      << too_short.dump();

  const auto chest = volumeOf(report, "Thorax 1.0");
  EXPECT_EQ(chest["rule"], "ct-chest");
  EXPECT_EQ(chest["why"], "rule ct-chest: Modality CT, BodyPartExamined CHEST, 30 slices");
  EXPECT_EQ(chest["because"], (nlohmann::json{"Modality CT", "BodyPartExamined CHEST", "30 slices"}));
  EXPECT_EQ(chest["presets"], (nlohmann::json{"ct-bone", "ct-mip"}));
  const auto& outputs = chest["outputs"];
  EXPECT_NE(std::find(outputs.begin(), outputs.end(), "COR 3mm LUNG"), outputs.end()) << outputs.dump();
  EXPECT_NE(std::find(outputs.begin(), outputs.end(), "AX MIP 10mm LUNG"), outputs.end()) << outputs.dump();
}

// A CT angiogram is recognised from its series description, or from its contrast
// agent in a study described as an angiogram; the report says which.
TEST(InspectRules, JsonSaysWhyASeriesIsACtAngiogram) {
  test::TempDir dir("volnode-inspect-cta");
  test::SyntheticSeries by_series;
  by_series.slices = 24;
  by_series.series_description = "CTA Aorta 1.0 Bv40";
  by_series.body_part = "CHEST";
  test::writeSyntheticSeries(by_series, dir / "by-series");
  test::SyntheticSeries by_study;
  by_study.slices = 24;
  by_study.series_description = "1.0 mm Axial";
  by_study.body_part = "NECK";
  by_study.study_description = "CT ANGIO HEAD NECK COW";
  by_study.contrast_bolus_agent = "OMNIPAQUE 350";
  test::writeSyntheticSeries(by_study, dir / "by-study");
  test::SyntheticSeries plain = by_study;  // same study, no contrast agent: not an angiogram
  plain.series_description = "1.0 mm Axial non contrast";
  plain.contrast_bolus_agent.clear();
  test::writeSyntheticSeries(plain, dir / "plain");

  const RuleSet rules = RuleSet::defaults();
  const auto report = nlohmann::json::parse(toJson(inspectDirectory(dir.path(), &rules)));
  const auto aorta = volumeOf(report, "CTA Aorta 1.0 Bv40");
  EXPECT_EQ(aorta["rule"], "ct-angiography");
  EXPECT_NE(std::find(aorta["because"].begin(), aorta["because"].end(),
                      "series description \"CTA Aorta 1.0 Bv40\" contains \"CTA\""),
            aorta["because"].end())
      << aorta.dump();
  const auto neck = volumeOf(report, "1.0 mm Axial");
  EXPECT_EQ(neck["rule"], "ct-angiography-by-study");
  EXPECT_NE(neck["why"].get<std::string>().find("ContrastBolusAgent \"OMNIPAQUE 350\""), std::string::npos)
      << neck.dump();
  EXPECT_NE(neck["why"].get<std::string>().find("study description \"CT ANGIO HEAD NECK COW\" contains \"ANGIO\""),
            std::string::npos)
      << neck.dump();
  EXPECT_EQ(volumeOf(report, "1.0 mm Axial non contrast")["rule"], "ct-bundle");
}

}  // namespace
}  // namespace volnode
