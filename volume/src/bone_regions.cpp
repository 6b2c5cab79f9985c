// Bone removal parameters per body region (bone_removal.hpp; reasons in docs/bone-removal.md).
#include <regex>

#include "volnode/volume/bone_removal.hpp"

namespace volnode {

const char* bodyRegionName(BodyRegion region) noexcept {
  switch (region) {
    case BodyRegion::HeadNeck: return "head-neck";
    case BodyRegion::ChestAorta: return "chest-aorta";
    case BodyRegion::AbdomenPelvis: return "abdomen-pelvis";
    case BodyRegion::Runoff: return "run-off";
  }
  return "chest-aorta";
}

BodyRegion bodyRegionFor(const std::string& body_part, const std::string& descriptions) {
  const std::string text = body_part + " " + descriptions;
  auto says = [&](const char* pattern) {
    return std::regex_search(text, std::regex(pattern, std::regex::ECMAScript | std::regex::icase));
  };
  // A run-off usually names the aorta and the pelvis too: the legs decide.
  if (says("run-?off|run off|\\bleg|lower extrem|extremit|femor|poplit|tibia|\\bfoot|\\bfeet|\\bknee")) return BodyRegion::Runoff;
  if (says("head|brain|neck|carotid|\\bcow\\b|willis|intracran|cerebr|skull|vertebral art|\\bcircle")) return BodyRegion::HeadNeck;
  if (says("abdom|pelvi|renal|mesenter|iliac|\\bevar\\b|\\baaa\\b|kidney|liver|\\babd")) return BodyRegion::AbdomenPelvis;
  return BodyRegion::ChestAorta;
}

BoneRemovalParams BoneRemovalParams::forRegion(BodyRegion region) {
  BoneRemovalParams p;
  p.region = region;
  switch (region) {
    case BodyRegion::HeadNeck:
      // The skull is thick and dense; carotid and intracranial contrast can reach 600 HU
      // at peak enhancement. Small arteries (vessel_min), small marrow spaces (diploe,
      // cervical vertebrae), small plaques and stents.
      p.dense_hu = 700;
      p.max_marrow_hole_mm2 = 800;
      p.vessel_min_mm3 = 20;
      p.max_plaque_mm3 = 1500;
      break;
    case BodyRegion::ChestAorta:
      p.dense_hu = 600;
      p.max_marrow_hole_mm2 = 2500;  // vertebral bodies up to 50 mm across
      p.vessel_min_mm3 = 40;
      p.max_plaque_mm3 = 4000;  // a calcified aortic arch, a thoracic stent segment
      break;
    case BodyRegion::AbdomenPelvis:
      p.dense_hu = 600;
      p.max_marrow_hole_mm2 = 4000;  // femoral heads, iliac bones, sacrum
      p.vessel_min_mm3 = 40;
      p.max_plaque_mm3 = 6000;  // stent grafts (EVAR) and heavily calcified iliacs
      break;
    case BodyRegion::Runoff:
      p.dense_hu = 600;
      p.max_marrow_hole_mm2 = 3000;  // femoral condyles, tibial plateau
      p.vessel_min_mm3 = 20;         // tibial and pedal arteries
      p.max_plaque_mm3 = 3000;
      break;
  }
  return p;
}

}  // namespace volnode
