// Routing rules matched against the volumes of real series (the attributes a rule
// sees come from the assembly, see attributesFor in inspect.hpp).
#include <gtest/gtest.h>

#include "unit/volume/volume_test_util.hpp"
#include "volnode/rules/routing_rules.hpp"
#include "volnode/volume/assembly.hpp"
#include "volnode/workflow/inspect.hpp"

namespace volnode {
namespace {

using test::filesIn;
using test::sharedData;

TEST(RoutingRules, DefaultRulesPickTheHeadCtRuleForThe140SliceBrainSeries) {
  const auto rules = RuleSet::defaults();
  const auto a = scanSeries(filesIn(sharedData("ct-head-phantom-study/S2020")));
  ASSERT_EQ(a.renderable().size(), 1u);
  const auto rule = rules.match(attributesFor(a.info, *a.renderable()[0]));
  ASSERT_TRUE(rule);
  EXPECT_EQ(rule->name, "ct-head");  // BodyPartExamined BRAIN
  EXPECT_EQ(rule->presets(), (std::vector<std::string>{"ct-bone", "ct-mip"}));
  std::vector<std::string> types;
  for (const auto& o : rule->outputs) types.push_back(o.type);
  EXPECT_EQ(types,
            (std::vector<std::string>{"vr_spin", "mip_spin", "key_views", "mesh", "reformat", "reformat", "reformat"}));
  EXPECT_EQ(rule->destinations, (std::vector<std::string>{"pacs"}));
  EXPECT_EQ(rule->mesh_threshold_hu, 250);
  EXPECT_TRUE(rule->preprocess.isotropic);
}

TEST(RoutingRules, DefaultRulesRenderNothingForTheLocalizer) {
  const auto rules = RuleSet::defaults();
  const auto a = scanSeries(filesIn(sharedData("ct-head-phantom-study/S1000")));
  SeriesAttributes attrs;
  attrs.modality = a.info.modality;
  attrs.image_type = a.info.image_type;
  attrs.sop_class_uid = a.info.sop_class_uid;
  attrs.slice_count = 1;
  EXPECT_FALSE(rules.match(attrs));
  ASSERT_NE(rules.firstMatch(attrs), nullptr);
  EXPECT_EQ(rules.firstMatch(attrs)->name, "never-localizers");
  // Even a long "localizer" series never renders.
  attrs.slice_count = 200;
  EXPECT_FALSE(rules.match(attrs));
}

TEST(RoutingRules, DefaultRulesPickMrBundleFor3dMr) {
  const auto rules = RuleSet::defaults();
  const auto a = scanSeries(filesIn(sharedData("mr-brain-sagittal-mprage")));
  ASSERT_EQ(a.renderable().size(), 1u);
  const auto rule = rules.match(attributesFor(a.info, *a.renderable()[0]));
  ASSERT_TRUE(rule);
  EXPECT_EQ(rule->name, "mr-3d-bundle");
  EXPECT_EQ(rule->presets(), (std::vector<std::string>{"mr-head", "mr-mip"}));
}

// Every real volume series of the shared data, with the rule the defaults give it.
TEST(RoutingRules, RealSeriesGetTheRuleOfTheirProtocol) {
  const auto rules = RuleSet::defaults();
  const std::pair<const char*, const char*> expected[] = {
      {"ct-head-phantom-study/S2020", "ct-head"},
      {"ct-head-phantom-study/S2010", "ct-head"},
      {"ct-head-gantry-tilt", "ct-head"},
      {"ct-chest-transfer-syntaxes/implicit_le", "ct-chest"},
      {"ct-chest-transfer-syntaxes/rle", "ct-chest"},
      {"mr-brain-sagittal-mprage", "mr-3d-bundle"},
  };
  for (const auto& [folder, rule_name] : expected) {
    const auto a = scanSeries(filesIn(sharedData(folder)));
    ASSERT_FALSE(a.renderable().empty()) << folder;
    const auto rule = rules.match(attributesFor(a.info, *a.renderable()[0]));
    ASSERT_TRUE(rule) << folder;
    EXPECT_EQ(rule->name, rule_name) << folder;
  }
}

// Kernel, slice thickness and contrast come from the real headers.
TEST(RoutingRules, KernelAndSliceThicknessOfARealChestCtAreMatched) {
  const auto rules = RuleSet::parse(R"({"schema": 1, "rules": [
      {"name": "thick-b40-plain", "match": {"kernel": "^B40", "min_slice_thickness_mm": 5, "contrast": false},
       "outputs": [{"type": "vr_spin", "preset": "ct-lung"}]}]})");
  const auto a = scanSeries(filesIn(sharedData("ct-chest-transfer-syntaxes/implicit_le")));
  ASSERT_FALSE(a.renderable().empty());
  EXPECT_EQ(a.info.convolution_kernel, "B40f");
  const auto attributes = attributesFor(a.info, *a.renderable()[0]);
  EXPECT_DOUBLE_EQ(attributes.slice_thickness_mm, 8.0);
  ASSERT_NE(rules.firstMatch(attributes), nullptr);
}

}  // namespace
}  // namespace volnode
