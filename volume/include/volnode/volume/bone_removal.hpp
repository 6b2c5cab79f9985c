#pragma once
// Bone removal for CT angiography without learned weights: every step is a
// threshold, a connected component, a morphological operation or a hole fill that
// can be explained (docs/bone-removal.md):
//
//   1. dense     voxels >= dense_hu: cortex, calcium, metal (stents, wires, table rails)
//   2. closing   of the dense voxels by closing_mm, sealing thin gaps in the cortex
//   3. marrow    holes of the closed cortex in each axial slice (up to max_marrow_hole_mm2,
//                mean >= marrow_min_hu): the marrow inside a bone's cortex
//   4. vessels   6-connected components of contrast-like voxels (contrast_low_hu .. dense_hu)
//                outside the closed cortex with at least vessel_min_mm3 outside every
//                marrow hole and farther than vessel_clearance_mm from the cortex: a lumen
//                runs on away from the bone, marrow does not (it seeps a voxel or two past
//                a thin end plate at most). Their voxels are never marrow (a stent's
//                lumen, a vessel in a bony canal).
//   5. plaque    dense components of at most max_plaque_mm3 whose surface touches vessel
//                voxels for at least plaque_vessel_contact of its area are calcified plaque
//                or a stent and stay with the vessel; every other dense component is bone
//                (also sternal wires, which lie in bone or soft tissue, not in a lumen)
//   6. contact   where the closing bridged cortex and contrast, the contrast-like voxels
//                next to a vessel go back to the vessel (the vessel is preferred)
//   7. rim       the bone grows by rim_mm into voxels >= rim_min_hu (partial-volume edges
//                that would outline every bone in a MIP), except into vessels thicker
//                than two voxels (the opening of the vessel voxels), so a vessel lying on
//                a bone keeps its wall
//   8. table     everything outside the body (the largest component above body_above_hu,
//                holes filled per slice) is removed too: table, cushions, cables
//
// Passes over the voxels run on all cores; components are found on runs along rows.
#include <cstdint>
#include <string>
#include <vector>

#include "volnode/core/stage_timings.hpp"
#include "volnode/volume/volume.hpp"

namespace volnode {

enum class BodyRegion { HeadNeck, ChestAorta, AbdomenPelvis, Runoff };

const char* bodyRegionName(BodyRegion region) noexcept;  // "head-neck", "chest-aorta", ...
// The region of a CT angiogram from BodyPartExamined and its descriptions (series,
// protocol, study), e.g. "COW", "carotid" -> head-neck, "runoff" -> run-off; chest-aorta
// when nothing says otherwise.
BodyRegion bodyRegionFor(const std::string& body_part, const std::string& descriptions);

struct BoneRemovalParams {
  BodyRegion region = BodyRegion::ChestAorta;
  double dense_hu = 600;              // cortex, calcium, metal: at or above
  double contrast_low_hu = 180;       // contrast-filled lumen from here (to dense_hu)
  double marrow_min_hu = 120;         // a hole is marrow when its mean is at least this
  double max_marrow_hole_mm2 = 2500;  // larger holes are not marrow (the brain inside the skull)
  double closing_mm = 1.0;
  double vessel_min_mm3 = 40;
  double vessel_clearance_mm = 2;  // only a component's voxels this far from cortex count
  double max_plaque_mm3 = 3000;
  double plaque_vessel_contact = 0.35;
  double rim_mm = 1.0;
  double rim_min_hu = 150;
  double body_above_hu = -500;
  int16_t removed_hu = -100;  // what a removed bone voxel becomes (below every vessel preset)
  int16_t outside_hu = -1024;  // what a voxel outside the body becomes

  static BoneRemovalParams forRegion(BodyRegion region);
};

struct BoneRemoval {
  enum : uint8_t { kKept = 0, kBone = 1, kOutsideBody = 2 };
  Volume volume;              // the input with bone and everything outside the body removed
  std::vector<uint8_t> mask;  // per voxel of the input: kKept, kBone or kOutsideBody
  size_t bone_voxels = 0, outside_voxels = 0;
  size_t kept_dense_voxels = 0;  // plaque and stents kept with their vessel
  size_t vessel_voxels = 0;      // contrast-like voxels in vessel components
  StageTimings timings;          // "dense", "closing", "marrow", "vessels", "plaque", "rim", "body", "apply"

  std::string summary() const;  // "bone 4.1 % of voxels, 120 mm3 plaque/stent kept, ..."
};

// Throws Error(InvalidArgument) for an empty or non-CT volume. threads 0: all cores.
BoneRemoval removeBone(const Volume& ct, const BoneRemovalParams& params, unsigned threads = 0);

}  // namespace volnode
