#pragma once
// The volume with the bone removed (CT angiography, volume/bone_removal.hpp), for
// the outputs of a rule that ask for it: presets with "volume": "bone-removed" and
// reformats with "bone_removed": true. A render job makes it once, from its prepared
// volume, on its own thread while the outputs with bone render.
#include <filesystem>
#include <future>
#include <memory>
#include <string>

#include "volnode/rules/routing_rules.hpp"
#include "volnode/volume/bone_removal.hpp"

namespace volnode {

// Whether an output uses the bone-removed volume (loads the presets it names).
bool usesBoneRemovedVolume(const RuleOutput& output, const std::filesystem::path& presets_dir);
bool usesBoneRemovedVolume(const RoutingRule& rule, const std::filesystem::path& presets_dir);

// Parameters for a series: its body region from BodyPartExamined and its descriptions.
BoneRemovalParams boneRemovalParamsFor(const std::string& body_part, const std::string& descriptions);

struct BoneRemovedVolume {
  std::shared_future<std::shared_ptr<const Volume>> volume;  // get() rethrows a failure
  std::shared_ptr<double> seconds = std::make_shared<double>(0);  // set when done
  std::shared_ptr<std::string> summary = std::make_shared<std::string>();

  bool valid() const { return volume.valid(); }
};

// Starts bone removal of a CT volume on its own thread.
BoneRemovedVolume startBoneRemoval(std::shared_ptr<const Volume> prepared, const BoneRemovalParams& params);

}  // namespace volnode
