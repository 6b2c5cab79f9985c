#include "volnode/workflow/reformat_outputs.hpp"

#include <fmt/format.h>

#include "volnode/core/error.hpp"
#include "volnode/core/logging.hpp"

namespace volnode {
namespace {

bool hasDerivedImageClass(const std::string& modality) { return modality == "CT" || modality == "MR"; }

// The window a technologist would set when the rule names none: soft tissue for
// CT reformats, a vessel window for CT MIP slabs; MR viewers window MR themselves.
std::optional<DerivedImageInfo::Window> windowFor(const Volume& volume, const RuleOutput& output) {
  const ReformatParams& p = output.reformat;
  if (p.window) return DerivedImageInfo::Window{p.window->first, p.window->second, p.window_name};
  if (volume.modality != "CT") return std::nullopt;
  if (p.mode == "mip") return DerivedImageInfo::Window{300, 800, "MIP"};
  return DerivedImageInfo::Window{40, 400, "SOFT TISSUE"};
}

// " oblique (tilt 20 deg, turn 0 deg)": the angles a technologist set, for the derivation description.
std::string obliqueAngles(const ReformatSpec& spec) {
  return fmt::format(" oblique (tilt {:g} deg, turn {:g} deg)", spec.tilt_deg, spec.turn_deg);
}

}  // namespace

ReformatSpec reformatSpecOf(const RuleOutput& output) {
  ReformatSpec spec;
  spec.plane = parseReformatPlane(output.reformat.plane);
  spec.mode = parseSlabMode(output.reformat.mode);
  spec.thickness_mm = output.reformat.thickness_mm;
  spec.spacing_mm = output.reformat.spacing_mm;
  spec.tilt_deg = output.reformat.tilt_deg;
  spec.turn_deg = output.reformat.turn_deg;
  return spec;
}

int reformatSliceCount(const Volume& volume, const RuleOutput& output) {
  auto log = moduleLogger("pipeline");
  if (!hasDerivedImageClass(volume.modality)) {
    log->info("{}: no reformats of {} volumes (CT and MR only)", output.key(), volume.modality);
    return 0;
  }
  if (volume.frame_of_reference_uid.empty()) {
    log->warn("{}: the series has no FrameOfReferenceUID; reformats could not be placed in it", output.key());
    return 0;
  }
  try {
    return int(reformatPlanes(volume, reformatSpecOf(output)).size());
  } catch (const Error& e) {
    log->warn("{}: no reformat: {}", output.key(), e.what());
    return 0;
  }
}

std::span<const SourceInstance> reformatSliceSources(const Volume& volume, const ReformatSpec& spec,
                                               const PlaneGeometry& plane, const OutputIdentity& identity,
                                               int limit) {
  std::span<const SourceInstance> all = identity.sourceInstances();
  std::span<const SourceInstance> listed = all;
  if (all.size() == size_t(volume.dimensions[2])) {
    const auto [first, last] = reformatSourceSlices(volume, spec, plane);
    listed = first > last ? all.subspan(0, 0) : all.subspan(size_t(first), size_t(last - first + 1));
  }
  return listed.size() > size_t(std::max(limit, 0)) ? all.subspan(0, 0) : listed;
}

std::string reformatSliceKey(const RuleOutput& output, int instance) {
  return output.key() + ":" + std::to_string(instance);
}

std::vector<EncodedObject> writeReformatSeries(const Volume& volume, const RuleOutput& output,
                                               const OutputIdentity& identity, const std::vector<ObjectPlan>& plans,
                                               const EquipmentInfo& equipment, const std::filesystem::path& out_dir,
                                               int max_source_references) {
  const ReformatSpec spec = reformatSpecOf(output);
  const int16_t fill = volume.modality == "CT" ? -1024 : 0;
  ReformatSlices slices(volume, spec, fill);
  if (slices.size() != plans.size())
    throw Error(Errc::Internal, output.key() + ": " + std::to_string(slices.size()) + " slices but " +
                                    std::to_string(plans.size()) + " planned");
  DerivedImageInfo info;
  info.kind = spec.mode == SlabMode::Maximum ? DerivedImageKind::MaximumSlab : DerivedImageKind::Reformat;
  info.derivation = std::string(reformatPlaneName(spec.plane)) + (isOblique(spec) ? obliqueAngles(spec) : "") + " " +
                    (spec.mode == SlabMode::Maximum ? "maximum intensity projection" : "reformat") + ", " +
                    output.reformatDescription();
  info.spacing_between_slices = spec.spacing_mm;
  info.window = windowFor(volume, output);
  info.equipment = equipment;
  // Each slice is written as it is resampled: one group of slices in memory at a time.
  std::vector<EncodedObject> written;
  written.reserve(slices.size());
  DerivedImageSeriesEncoder encoder(identity, info);
  for (const auto* group = &slices.next(); !group->empty(); group = &slices.next())
    for (const PlaneImage& image : *group)
      written.push_back(encoder.encode(plans[written.size()], image, out_dir,
                                       reformatSliceSources(volume, spec, image.geometry, identity, max_source_references)));
  return written;
}

}  // namespace volnode
