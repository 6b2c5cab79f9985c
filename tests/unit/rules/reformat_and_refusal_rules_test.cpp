// Reformat outputs in rules, and the default rules that decline series a 3D render
// cannot help with, each with its reason.
#include <gtest/gtest.h>

#include "volnode/core/error.hpp"
#include "volnode/rules/routing_rules.hpp"

#include <utility>

namespace volnode {
namespace {

std::string reformatRulesError(const std::string& json) {
  try {
    RuleSet::parse(json, "rules.json");
  } catch (const Error& e) {
    return e.what();
  }
  ADD_FAILURE() << "no error for " << json;
  return {};
}

TEST(ReformatRules, ReformatOutputsAreReadWithDefaultsAndDescriptions) {
  const auto rules = RuleSet::parse(R"({"schema": 1, "rules": [
      {"name": "cta", "match": {"modality": ["CT"]},
       "outputs": [{"type": "reformat", "plane": "coronal"},
                   {"type": "reformat", "plane": "sagittal", "thickness_mm": 2, "spacing_mm": 1.5},
                   {"type": "reformat", "plane": "axial", "mode": "mip", "thickness_mm": 10, "spacing_mm": 5,
                    "window": [300, 700], "window_name": "ANGIO"},
                   {"type": "reformat", "plane": "coronal", "mode": "mip", "thickness_mm": 10,
                    "description": "Coronal MIP slab"}]}]})");
  const auto& outs = rules.rules()[0].outputs;
  ASSERT_EQ(outs.size(), 4u);
  EXPECT_EQ(outs[0].reformat.plane, "coronal");
  EXPECT_EQ(outs[0].reformat.mode, "average");
  EXPECT_EQ(outs[0].reformat.thickness_mm, 3);
  EXPECT_EQ(outs[0].reformat.spacing_mm, 3);
  EXPECT_EQ(outs[0].reformatDescription(), "COR 3mm");
  EXPECT_EQ(outs[1].reformatDescription(), "SAG 2mm");
  EXPECT_EQ(outs[2].reformatDescription(), "AX MIP 10mm ANGIO");
  EXPECT_EQ(outs[2].key(), "reformat:axial-mip-10-5-ANGIO");
  EXPECT_EQ(outs[3].reformatDescription(), "Coronal MIP slab");
  ASSERT_TRUE(outs[2].reformat.window);
  EXPECT_EQ(outs[2].reformat.window->first, 300);
  EXPECT_EQ(outs[2].reformat.window_name, "ANGIO");
  EXPECT_EQ(outs[0].key(), "reformat:coronal-average-3-3");
  EXPECT_EQ(outs[1].key(), "reformat:sagittal-average-2-1.5");
  EXPECT_NE(outs[0].key(), outs[3].key());
  EXPECT_TRUE(rules.rules()[0].presets().empty());
}

TEST(ReformatRules, ObliquePlanesAreABasePlaneAngledByTiltAndTurn) {
  const auto rules = RuleSet::parse(R"({"schema": 1, "rules": [
      {"name": "head", "match": {"modality": ["CT"]},
       "outputs": [{"type": "reformat", "plane": "coronal"},
                   {"type": "reformat", "plane": "coronal", "tilt_deg": 20},
                   {"type": "reformat", "plane": "axial", "mode": "mip", "thickness_mm": 10, "tilt_deg": -15,
                    "turn_deg": 7.5}]}]})");
  const auto& outs = rules.rules()[0].outputs;
  ASSERT_EQ(outs.size(), 3u);
  EXPECT_EQ(outs[0].reformat.tilt_deg, 0);
  EXPECT_EQ(outs[1].reformat.tilt_deg, 20);
  EXPECT_EQ(outs[1].reformat.turn_deg, 0);
  EXPECT_EQ(outs[1].reformatDescription(), "COR OBL 3mm");
  EXPECT_EQ(outs[1].key(), "reformat:coronal-average-3-3-tilt20");
  EXPECT_NE(outs[0].key(), outs[1].key());  // the straight and the oblique coronal are two series
  EXPECT_EQ(outs[2].reformatDescription(), "AX OBL MIP 10mm");
  EXPECT_EQ(outs[2].key(), "reformat:axial-mip-10-3-tilt-15-turn7.5");

  const std::string head = R"({"schema": 1, "rules": [{"name": "r", "match": {}, "outputs": [)";
  const std::string tail = "]}]}";
  EXPECT_NE(reformatRulesError(head + R"({"type": "reformat", "tilt_deg": 91})" + tail).find("outputs[0].tilt_deg"),
            std::string::npos);
  EXPECT_NE(reformatRulesError(head + R"({"type": "reformat", "turn_deg": "20"})" + tail).find("outputs[0].turn_deg"),
            std::string::npos);
  EXPECT_NE(reformatRulesError(head + R"({"type": "mip_spin", "preset": "ct-mip", "tilt_deg": 10})" + tail).find("reformat"),
            std::string::npos);
  EXPECT_NE(reformatRulesError(head + R"({"type": "reformat", "plane": "oblique"})" + tail).find("tilt_deg"), std::string::npos);
}

TEST(ReformatRules, BadReformatsAreRefusedSayingWhere) {
  const std::string head = R"({"schema": 1, "rules": [{"name": "r", "match": {}, "outputs": [)";
  const std::string tail = "]}]}";
  EXPECT_NE(reformatRulesError(head + R"({"type": "reformat", "plane": "oblique"})" + tail).find("outputs[0].plane"),
            std::string::npos);
  EXPECT_NE(reformatRulesError(head + R"({"type": "reformat", "mode": "minip"})" + tail).find("outputs[0].mode"), std::string::npos);
  EXPECT_NE(reformatRulesError(head + R"({"type": "reformat", "spacing_mm": 0})" + tail).find("spacing_mm"), std::string::npos);
  EXPECT_NE(reformatRulesError(head + R"({"type": "reformat", "window": [40]})" + tail).find("window"), std::string::npos);
  EXPECT_NE(reformatRulesError(head + R"({"type": "vr_spin", "preset": "ct-bone", "plane": "coronal"})" + tail)
                .find("belong to \"reformat\""),
            std::string::npos);
  EXPECT_NE(reformatRulesError(head + R"({"type": "reformat"}, {"type": "reformat", "plane": "coronal"})" + tail)
                .find("the same output twice"),
            std::string::npos);
}

// The rule the defaults pick for a series, and its reformats by description.
std::pair<std::string, std::vector<std::string>> defaultRuleOf(const SeriesAttributes& a) {
  const auto rule = RuleSet::defaults().match(a);
  if (!rule) return {"", {}};
  std::vector<std::string> reformats;
  for (const auto& o : rule->outputs)
    if (o.type == "reformat") reformats.push_back(o.reformatDescription());
  return {rule->name, reformats};
}

SeriesAttributes ctSeries(const std::string& description, const std::string& body_part = "") {
  SeriesAttributes ct;
  ct.modality = "CT";
  ct.series_description = description;
  ct.body_part_examined = body_part;
  ct.image_type = {"ORIGINAL", "PRIMARY", "AXIAL"};
  ct.slice_count = 300;
  return ct;
}

TEST(ProtocolRules, DefaultsPickRuleAndReformatWindowsByProtocol) {
  using Names = std::vector<std::string>;
  EXPECT_EQ(defaultRuleOf(ctSeries("CTA Aorta 1.0 Bv40", "CHEST")),
            (std::pair<std::string, Names>{"ct-angiography",
                                           {"COR MIP 20mm bone removed", "SAG MIP 20mm bone removed",
                                            "AX MIP 10mm bone removed", "AX MIP 10mm CTA", "COR 3mm CTA", "SAG 3mm CTA"}}));
  EXPECT_EQ(defaultRuleOf(ctSeries("Thorax 1.0 B70f", "CHEST")),
            (std::pair<std::string, Names>{
                "ct-chest", {"COR 3mm LUNG", "SAG 3mm LUNG", "AX MIP 10mm LUNG", "COR 3mm MEDIASTINUM"}}));
  EXPECT_EQ(defaultRuleOf(ctSeries("HRCT lungs")).first, "ct-chest-by-protocol");
  EXPECT_EQ(defaultRuleOf(ctSeries("Routine 5mm", "HEAD")),
            (std::pair<std::string, Names>{"ct-head", {"COR 3mm BRAIN", "SAG 3mm BRAIN", "COR 2mm BONE"}}));
  EXPECT_EQ(defaultRuleOf(ctSeries("Brain 1.0 H31s")).first, "ct-head-by-protocol");
  EXPECT_EQ(defaultRuleOf(ctSeries("Abdomen portal venous 3.0", "ABDOMEN")),
            (std::pair<std::string, Names>{"ct-bundle", {"COR 3mm", "SAG 3mm"}}));
  SeriesAttributes tof;
  tof.modality = "MR";
  tof.mr_acquisition_type = "3D";
  tof.series_description = "tof_3d_multi-slab";
  tof.slice_count = 160;
  EXPECT_EQ(defaultRuleOf(tof), (std::pair<std::string, Names>{"mr-angiography", {"AX MIP 10mm", "COR MIP 10mm"}}));
  // CT angiography renders with the vessel presets, chest and head with the bone bundle.
  EXPECT_EQ(RuleSet::defaults().match(ctSeries("CTA Aorta", "CHEST"))->presets(),
            (std::vector<std::string>{"ct-angio", "ct-angio-vessels", "ct-angio-mip"}));
  EXPECT_EQ(RuleSet::defaults().match(ctSeries("Thorax", "CHEST"))->presets(),
            (std::vector<std::string>{"ct-bone", "ct-mip"}));
}

// What the default rules say about a series with these attributes: the matched
// rule's refusal, or "" when it renders.
std::string refusalOf(const SeriesAttributes& a) {
  const auto rules = RuleSet::defaults();
  const RoutingRule* r = rules.firstMatch(a);
  if (r == nullptr) return "no rule";
  return r->render ? "" : r->refusal();
}

SeriesAttributes mr3d(const std::string& description, std::vector<std::string> image_type = {"ORIGINAL", "PRIMARY", "M"}) {
  SeriesAttributes a;
  a.modality = "MR";
  a.mr_acquisition_type = "3D";
  a.series_description = description;
  a.image_type = std::move(image_type);
  a.slice_count = 40;
  return a;
}

TEST(RefusalRules, DiffusionPerfusionAslAndDerivedMapsAreDeclinedWithAReason) {
  // A 40-slice 3D pCASL series: was rendered as "mr-head" before.
  EXPECT_NE(refusalOf(mr3d("pCASL 3D")).find("arterial spin labelling"), std::string::npos);
  SeriesAttributes asl = mr3d("tgse_pcasl_PLD1800");
  asl.protocol_name = "ASL";
  EXPECT_NE(refusalOf(asl).find("perfusion"), std::string::npos);
  EXPECT_NE(refusalOf(mr3d("rCBV")).find("perfusion"), std::string::npos);
  // Diffusion, by description or by image type.
  EXPECT_NE(refusalOf(mr3d("ep2d_diff_b1000")).find("diffusion"), std::string::npos);
  EXPECT_NE(refusalOf(mr3d("DWI b=1000")).find("diffusion"), std::string::npos);
  EXPECT_NE(refusalOf(mr3d("ADC map")).find("diffusion"), std::string::npos);
  EXPECT_NE(refusalOf(mr3d("anything", {"DERIVED", "PRIMARY", "DIFFUSION", "ADC"})).find("diffusion"),
            std::string::npos);
  // Phase images, derived maps, our own reformats.
  EXPECT_NE(refusalOf(mr3d("swi", {"ORIGINAL", "PRIMARY", "P", "ND"})).find("phase"), std::string::npos);
  EXPECT_NE(refusalOf(mr3d("T1 map")).find("derived map"), std::string::npos);
  SeriesAttributes reformat;
  reformat.modality = "CT";
  reformat.image_type = {"DERIVED", "SECONDARY", "REFORMATTED", "AVERAGE"};
  reformat.slice_count = 120;
  EXPECT_NE(refusalOf(reformat).find("already a reformat"), std::string::npos);
  // Dose screens and localizers, with the rule named.
  SeriesAttributes dose;
  dose.modality = "CT";
  dose.series_description = "Dose Report";
  dose.slice_count = 1;
  EXPECT_NE(refusalOf(dose).find("(rule "), std::string::npos);
  SeriesAttributes scout;
  scout.modality = "CT";
  scout.image_type = {"ORIGINAL", "PRIMARY", "LOCALIZER"};
  scout.slice_count = 3;
  EXPECT_EQ(refusalOf(scout), "not rendered: localizer (scout) image (rule never-localizers)");
}

TEST(RefusalRules, OrdinaryClinicalSeriesStillRender) {
  EXPECT_EQ(refusalOf(mr3d("t1_mprage_sag_p2_iso")), "");
  EXPECT_EQ(refusalOf(mr3d("T1 3D TFE post contrast")), "");
  for (const char* description : {"CTA arterial phase 1.0", "Thorax 1.0 B70f", "Head 5mm", "Abdomen portal venous phase"}) {
    SeriesAttributes ct;
    ct.modality = "CT";
    ct.series_description = description;
    ct.image_type = {"ORIGINAL", "PRIMARY", "AXIAL"};
    ct.slice_count = 200;
    EXPECT_EQ(refusalOf(ct), "") << description;
  }
}

TEST(ProtocolRules, ContrastKernelAndSliceThicknessAreMatched) {
  const auto rules = RuleSet::parse(R"({"schema": 1, "rules": [
      {"name": "cta", "match": {"modality": ["CT"], "contrast": true, "max_slice_thickness_mm": 1.5},
       "outputs": [{"type": "vr_spin", "preset": "ct-angio"}]},
      {"name": "lung-kernel", "match": {"kernel": "^B[6-7]|lung"}, "outputs": [{"type": "vr_spin", "preset": "ct-lung"}]},
      {"name": "plain", "match": {"contrast": false}, "outputs": [{"type": "vr_spin", "preset": "ct-bone"}]}]})");
  SeriesAttributes a;
  a.modality = "CT";
  a.contrast_bolus_agent = "IOMEPROL";
  a.slice_thickness_mm = 1.0;
  EXPECT_EQ(rules.firstMatch(a)->name, "cta");
  a.slice_thickness_mm = 5.0;  // too thick for the angiography rule
  EXPECT_EQ(rules.firstMatch(a), nullptr);
  a.slice_thickness_mm = 0;  // unknown thickness never matches a thickness bound
  EXPECT_EQ(rules.firstMatch(a), nullptr);
  a.convolution_kernel = "B70f";
  EXPECT_EQ(rules.firstMatch(a)->name, "lung-kernel");
  a.convolution_kernel = "B30f";
  a.contrast_bolus_agent.clear();
  EXPECT_EQ(rules.firstMatch(a)->name, "plain");
  EXPECT_NE(reformatRulesError(R"({"schema": 1, "rules": [{"name": "x", "match": {"contrast": "yes"}, "render": false}]})")
                .find("match.contrast"),
            std::string::npos);
}

TEST(RefusalRules, SeriesTextMatchesDescriptionOrProtocol) {
  const auto rules = RuleSet::parse(R"({"schema": 1, "rules": [
      {"name": "no-asl", "match": {"series_text": "asl"}, "render": false, "reason": "ASL"}]})");
  SeriesAttributes a;
  a.protocol_name = "ASL 3D";
  EXPECT_NE(rules.firstMatch(a), nullptr);
  a.protocol_name.clear();
  a.series_description = "pcasl_asl";
  EXPECT_NE(rules.firstMatch(a), nullptr);
  a.series_description = "T1";
  EXPECT_EQ(rules.firstMatch(a), nullptr);
  EXPECT_EQ(rules.rules()[0].refusal(), "not rendered: ASL (rule no-asl)");
}

}  // namespace
}  // namespace volnode
