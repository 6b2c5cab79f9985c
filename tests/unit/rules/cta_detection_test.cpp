// CT angiography is recognised from the series description or protocol, or from a
// contrast agent in a study described as an angiogram; explain() says which held.
#include <gtest/gtest.h>

#include <algorithm>

#include "volnode/rules/routing_rules.hpp"

namespace volnode {
namespace {

SeriesAttributes ct(const std::string& series_description, const std::string& study_description = "",
                    const std::string& contrast = "") {
  SeriesAttributes a;
  a.modality = "CT";
  a.series_description = series_description;
  a.study_description = study_description;
  a.contrast_bolus_agent = contrast;
  a.image_type = {"ORIGINAL", "PRIMARY", "AXIAL"};
  a.slice_count = 300;
  return a;
}

std::string ruleOf(const SeriesAttributes& a) {
  const auto rule = RuleSet::defaults().match(a);
  return rule ? rule->name : "";
}

TEST(CtaDetection, SeriesDescriptionsAndProtocolsOfAngiogramsAreRecognised) {
  for (const char* description :
       {"CTA Aorta 1.0 Bv40", "CTA_HEAD_NECK", "Angio Thorax 0.75", "Arterial phase 1.0", "Runoff 1.5 B30f",
        "Run-off legs", "COW 0.6 H20s", "Circle of Willis", "Aorta TAVI planning", "EVAR follow-up",
        "Carotids 0.75", "CCTA 0.6 Bv36", "CTPA 1mm", "Dissection protocol"})
    EXPECT_EQ(ruleOf(ct(description)), "ct-angiography") << description;
  SeriesAttributes by_protocol = ct("1.0 mm Axial");
  by_protocol.protocol_name = "CTA Runoff";
  EXPECT_EQ(ruleOf(by_protocol), "ct-angiography");
  // Not angiograms: the other CT rules decide.
  for (const char* description : {"Abdomen portal venous 3.0", "Thorax 1.0 B70f", "Cowden follow-up", "Routine 5mm"})
    EXPECT_NE(ruleOf(ct(description)), "ct-angiography") << description;
}

TEST(CtaDetection, ContrastInAStudyDescribedAsAnAngiogramIsOne) {
  EXPECT_EQ(ruleOf(ct("1.0 mm Axial", "CT ANGIO HEAD NECK", "OMNIPAQUE 350")), "ct-angiography-by-study");
  EXPECT_EQ(ruleOf(ct("0.75 Bv40", "CTA aortic arch", "Iomeron 400")), "ct-angiography-by-study");
  // The same study's series without a contrast agent (e.g. the unenhanced scan) is not.
  EXPECT_EQ(ruleOf(ct("1.0 mm Axial", "CT ANGIO HEAD NECK")), "ct-bundle");
  // A contrast agent alone (a venous-phase abdomen) is not an angiogram.
  EXPECT_EQ(ruleOf(ct("Abdomen 3.0", "CT ABDOMEN WITH CONTRAST", "OMNIPAQUE 350")), "ct-bundle");
}

TEST(CtaDetection, ExplainSaysWhichConditionsHeldWithTheirValues) {
  const auto rules = RuleSet::defaults();
  const auto by_series = ct("CTA Aorta 1.0 Bv40");
  const RoutingRule* rule = rules.firstMatch(by_series);
  ASSERT_NE(rule, nullptr);
  EXPECT_EQ(rule->explain(by_series),
            (std::vector<std::string>{"Modality CT", "series description \"CTA Aorta 1.0 Bv40\" contains \"CTA\"",
                                      "300 slices"}));
  const auto by_study = ct("1.0 mm Axial", "CT ANGIO HEAD NECK", "OMNIPAQUE 350");
  rule = rules.firstMatch(by_study);
  ASSERT_NE(rule, nullptr);
  EXPECT_EQ(rule->explain(by_study),
            (std::vector<std::string>{"Modality CT", "study description \"CT ANGIO HEAD NECK\" contains \"ANGIO\"",
                                      "ContrastBolusAgent \"OMNIPAQUE 350\"", "300 slices"}));
  // A rule that does not match explains nothing.
  EXPECT_TRUE(rule->explain(ct("Thorax")).empty());
}

TEST(CtaDetection, BoneRemovedReformatsAreReadKeyedAndDescribed) {
  const auto rules = RuleSet::parse(R"({"schema": 1, "rules": [{"name": "cta", "match": {"modality": ["CT"]},
      "outputs": [{"type": "reformat", "plane": "coronal", "mode": "mip", "thickness_mm": 20, "spacing_mm": 10,
                   "bone_removed": true},
                  {"type": "reformat", "plane": "coronal", "mode": "mip", "thickness_mm": 20, "spacing_mm": 10}]}]})");
  const auto& outputs = rules.rules()[0].outputs;
  ASSERT_EQ(outputs.size(), 2u);
  EXPECT_TRUE(outputs[0].reformat.bone_removed);
  EXPECT_FALSE(outputs[1].reformat.bone_removed);
  EXPECT_EQ(outputs[0].reformatDescription(), "COR MIP 20mm bone removed");
  EXPECT_EQ(outputs[1].reformatDescription(), "COR MIP 20mm");
  EXPECT_NE(outputs[0].key(), outputs[1].key());
  try {
    RuleSet::parse(R"({"schema": 1, "rules": [{"name": "cta", "match": {},
        "outputs": [{"type": "vr_spin", "preset": "ct-angio", "bone_removed": true}]}]})");
    ADD_FAILURE() << "bone_removed accepted on a spin";
  } catch (const std::exception& e) {
    EXPECT_NE(std::string(e.what()).find("bone_removed"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace volnode
