#pragma once
// The "reformat" outputs of a routing rule: which planes each gives for a volume
// (planned with the job's other outputs, one instance per slice) and the writing of
// one reformat series as CT/MR images in the source's study and Frame of Reference.
#include <filesystem>
#include <span>
#include <string>
#include <vector>

#include "volnode/core/config.hpp"
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

// The source images one slice lists: those of the volume slices its slab reads when the
// volume has one source image per slice (identity's in stack order, as assembly sorts
// them; else, as for a multi-frame source, all of them); none when they are more than
// `limit`.
std::span<const SourceInstance> reformatSliceSources(const Volume& volume, const ReformatSpec& spec,
                                                     const PlaneGeometry& plane, const OutputIdentity& identity,
                                                     int limit);

// Resamples the volume and writes one object per plan (plans[i] is instance i + 1,
// planned for reformatSliceCount() slices). Each slice lists the source images its
// slab reads (an axial slab: a few; a coronal or sagittal slice of an axial stack:
// all), or none when they are more than max_source_references: a PACS stores and
// parses each listed image in every slice (1,500 items make a 0.5 MB header), and the
// series still names its source series. Throws Error(Internal) when the plans do not
// match the slices (the volume changed since planning).
std::vector<EncodedObject> writeReformatSeries(const Volume& volume, const RuleOutput& output,
                                               const OutputIdentity& identity, const std::vector<ObjectPlan>& plans,
                                               const EquipmentInfo& equipment, const std::filesystem::path& out_dir,
                                               int max_source_references = OutputsConfig{}.reformat_source_references);

}  // namespace volnode
