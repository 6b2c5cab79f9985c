// Routing rules: default rules, loader errors, matching.
#include <gtest/gtest.h>

#include <fstream>

#include "volnode/core/error.hpp"
#include "volnode/rules/routing_rules.hpp"

namespace volnode {
namespace {

std::string routingRulesError(const std::string& json, const std::string& source = "rules.json") {
  try {
    RuleSet::parse(json, source);
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), Errc::InvalidConfig);
    return e.what();
  }
  ADD_FAILURE() << "no error for " << json;
  return {};
}

TEST(RoutingRules, DefaultRulesSkipSecondaryCaptureReportsAndShortCt) {
  const auto rules = RuleSet::defaults();
  SeriesAttributes sc;
  sc.modality = "CT";
  sc.sop_class_uid = "1.2.840.10008.5.1.4.1.1.7";
  sc.slice_count = 50;
  EXPECT_FALSE(rules.match(sc));
  SeriesAttributes dose;
  dose.modality = "SR";
  dose.sop_class_uid = "1.2.840.10008.5.1.4.1.1.88.67";
  EXPECT_FALSE(rules.match(dose));
  SeriesAttributes short_ct;
  short_ct.modality = "CT";
  short_ct.slice_count = 19;
  EXPECT_FALSE(rules.match(short_ct));
}

TEST(RoutingRules, TheReasonNothingMatchesNamesTheRuleOnlyTheSliceCountKeptOut) {
  const auto rules = RuleSet::parse(R"({"schema": 1, "rules": [
      {"name": "mr-never", "render": false, "match": {"modality": ["MR"], "max_slices": 5}},
      {"name": "ct-thin", "match": {"modality": ["CT"], "series_description": "thin", "min_slices": 100},
       "outputs": [{"type": "vr_spin", "preset": "ct-bone"}]},
      {"name": "ct-any", "match": {"modality": ["CT"], "min_slices": 20, "max_slices": 2000},
       "outputs": [{"type": "vr_spin", "preset": "ct-bone"}]}]})");
  SeriesAttributes short_ct;
  short_ct.modality = "CT";
  short_ct.series_description = "Abdomen 5mm";
  short_ct.slice_count = 12;
  ASSERT_EQ(rules.firstMatch(short_ct), nullptr);
  EXPECT_EQ(rules.noMatchReason(short_ct),
            "not rendered: no routing rule matches (rule ct-any needs at least 20 slices; the stack has 12)");
  short_ct.slice_count = 2500;
  EXPECT_EQ(rules.noMatchReason(short_ct),
            "not rendered: no routing rule matches (rule ct-any needs at most 2000 slices; the stack has 2500)");
  // Kept out by more than the slice count (the modality), or only by a rule that never renders: no rule named.
  SeriesAttributes pet = short_ct;
  pet.modality = "PT";
  pet.slice_count = 12;
  EXPECT_EQ(rules.noMatchReason(pet), "not rendered: no routing rule matches");
  SeriesAttributes mr;
  mr.modality = "MR";
  mr.slice_count = 12;
  EXPECT_EQ(rules.noMatchReason(mr), "not rendered: no routing rule matches");
}

TEST(RoutingRules, ShippedRulesDirectoryLoads) {
  const auto rules = RuleSet::loadDirectory(std::filesystem::path(VOLNODE_SOURCE_DIR) / "presets/rules");
  EXPECT_GE(rules.rules().size(), 6u);
  EXPECT_EQ(rules.rules().front().source.find("default.json") != std::string::npos, true);
}

TEST(RoutingRules, MatchesRegexAeTitleAndBodyPart) {
  const auto rules = RuleSet::parse(R"({"schema": 1, "rules": [
      {"name": "angio", "match": {"modality": ["CT"], "series_description": "angio|cta",
                                  "calling_ae": ["CT_SCANNER_1"], "body_part": ["chest"]},
       "outputs": [{"type": "vr_spin", "preset": "ct-angio"}], "destinations": ["pacs", "viewer"]}]})");
  SeriesAttributes a;
  a.modality = "CT";
  a.series_description = "Thorax CTA 1.0";
  a.calling_ae_title = "CT_SCANNER_1";
  a.body_part_examined = "CHEST";
  a.slice_count = 10;
  auto r = rules.match(a);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->destinations, (std::vector<std::string>{"pacs", "viewer"}));
  EXPECT_EQ(r->mesh_threshold_hu, 250);  // default
  a.calling_ae_title = "OTHER";
  EXPECT_FALSE(rules.match(a));
}

TEST(RoutingRules, BadJsonGivesAClearErrorNamingTheFile) {
  const auto msg = routingRulesError("{\"schema\": 1, \"rules\": [", "site.json");
  EXPECT_NE(msg.find("site.json"), std::string::npos) << msg;
  EXPECT_NE(msg.find("not valid JSON"), std::string::npos) << msg;
}

TEST(RoutingRules, LoaderErrorsSayWhatIsWrongAndWhere) {
  EXPECT_NE(routingRulesError(R"({"rules": []})").find("missing \"schema\""), std::string::npos);
  EXPECT_NE(routingRulesError(R"({"schema": 2, "rules": []})").find("unsupported schema 2"), std::string::npos);
  const auto preset = routingRulesError(R"({"schema": 1, "rules": [{"name": "x", "match": {},
      "outputs": [{"type": "vr_spin", "preset": "ct-boen"}]}]})");
  EXPECT_NE(preset.find("rules[0] (x).outputs[0].preset"), std::string::npos) << preset;
  EXPECT_NE(preset.find("unknown preset \"ct-boen\""), std::string::npos) << preset;
  const auto key = routingRulesError(R"({"schema": 1, "rules": [{"name": "x", "match": {"modalty": ["CT"]}, "render": false}]})");
  EXPECT_NE(key.find("unknown key \"modalty\""), std::string::npos) << key;
  const auto re = routingRulesError(R"({"schema": 1, "rules": [{"name": "x", "match": {"series_description": "(["}, "render": false}]})");
  EXPECT_NE(re.find("invalid regular expression"), std::string::npos) << re;
  const auto dup = routingRulesError(R"({"schema": 1, "rules": [{"name": "x", "match": {}, "render": false},
                                                      {"name": "x", "match": {}, "render": false}]})");
  EXPECT_NE(dup.find("duplicate rule name"), std::string::npos) << dup;
  const auto pre = routingRulesError(R"({"schema": 1, "rules": [{"name": "x", "match": {}, "outputs": ["mesh"],
                                                      "preprocess": {"smoothing": "gauss"}}]})");
  EXPECT_NE(pre.find("unknown smoothing \"gauss\""), std::string::npos) << pre;
}

TEST(RoutingRules, MissingFileIsAnIoError) {
  try {
    RuleSet::loadFile("/nonexistent/rules.json");
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), Errc::Io);
    EXPECT_NE(std::string(e.what()).find("/nonexistent/rules.json"), std::string::npos);
  }
}

TEST(RoutingRules, PreprocessOptionsAreRead) {
  const auto rules = RuleSet::parse(R"({"schema": 1, "rules": [{"name": "x", "match": {}, "outputs": ["mesh"],
      "preprocess": {"isotropic": false, "max_voxels": 1000000, "smoothing": "median", "crop_body": true,
                     "clamp": [-1000, 2000]}}]})");
  const auto& p = rules.rules()[0].preprocess;
  EXPECT_FALSE(p.isotropic);
  EXPECT_EQ(p.max_voxels, 1000000u);
  EXPECT_EQ(p.smoothing, Smoothing::Median);
  EXPECT_TRUE(p.crop_body);
  ASSERT_TRUE(p.clamp);
  EXPECT_EQ(p.clamp->first, -1000);
}

}  // namespace
}  // namespace volnode
