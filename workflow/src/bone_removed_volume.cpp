#include "volnode/workflow/bone_removed_volume.hpp"

#include <algorithm>
#include <chrono>

#include "volnode/core/stage_timings.hpp"
#include "volnode/render/presets.hpp"

namespace volnode {

bool usesBoneRemovedVolume(const RuleOutput& output, const std::filesystem::path& presets_dir) {
  if (output.type == "reformat") return output.reformat.bone_removed;
  return !output.preset.empty() && output.type != "mesh" && loadPreset(presets_dir, output.preset).bone_removed;
}

bool usesBoneRemovedVolume(const RoutingRule& rule, const std::filesystem::path& presets_dir) {
  return std::any_of(rule.outputs.begin(), rule.outputs.end(),
                     [&](const RuleOutput& o) { return usesBoneRemovedVolume(o, presets_dir); });
}

BoneRemovalParams boneRemovalParamsFor(const std::string& body_part, const std::string& descriptions) {
  return BoneRemovalParams::forRegion(bodyRegionFor(body_part, descriptions));
}

BoneRemovedVolume startBoneRemoval(std::shared_ptr<const Volume> prepared, const BoneRemovalParams& params) {
  BoneRemovedVolume out;
  out.volume = std::async(std::launch::async,
                          [prepared, params, seconds = out.seconds, summary = out.summary] {
                            const auto start = std::chrono::steady_clock::now();
                            BoneRemoval removal = removeBone(*prepared, params);
                            *seconds = secondsSince(start);
                            *summary = std::string(bodyRegionName(params.region)) + ": " + removal.summary();
                            return std::shared_ptr<const Volume>(
                                std::make_shared<Volume>(std::move(removal.volume)));
                          })
                   .share();
  return out;
}

}  // namespace volnode
