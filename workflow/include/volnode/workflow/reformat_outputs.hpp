#pragma once
// The "reformat" outputs of a routing rule: which planes each gives for a volume
// (planned with the job's other outputs, one instance per slice) and the writing of
// one reformat series as CT/MR images in the source's study and Frame of Reference.
#include <filesystem>
#include <string>
#include <vector>

#include "volnode/encode/derived_image.hpp"
#include "volnode/rules/routing_rules.hpp"
#include "volnode/volume/reformat.hpp"

namespace volnode {

ReformatSpec reformatSpecOf(const RuleOutput& output);

// Slices the output gives for this volume; 0 (logged) when the modality has no
// derived image class (only CT and MR are reformatted), the volume has no Frame of
// Reference, or the spec cannot be met (e.g. too many slices): the job's other
// outputs are made all the same.
int reformatSliceCount(const Volume& volume, const RuleOutput& output);

// Job output keys of the slices: "<output key>:<instance number>", 1-based.
std::string reformatSliceKey(const RuleOutput& output, int instance);

// Resamples the volume and writes one object per plan (plans[i] is instance i + 1,
// planned for reformatSliceCount() slices). Throws Error(Internal) when the plans do
// not match the slices (the volume changed since planning).
std::vector<EncodedObject> writeReformatSeries(const Volume& volume, const RuleOutput& output,
                                               const OutputIdentity& identity, const std::vector<ObjectPlan>& plans,
                                               const EquipmentInfo& equipment, const std::filesystem::path& out_dir);

}  // namespace volnode
