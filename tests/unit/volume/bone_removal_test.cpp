// Bone removal (volume/bone_removal.hpp) on a synthetic CT angiogram with analytic
// truth, and on the real CT series in ../shared/data (no bone truth there: what is
// checked is how much non-bone tissue is lost).
#include <gtest/gtest.h>

#include <cstdio>
#include <map>

#include "support/cta_phantom.hpp"
#include "volnode/core/error.hpp"
#include "volnode/volume/bone_removal.hpp"
#include "volume_test_util.hpp"

namespace volnode {
namespace {

using test::CtaTruth;

struct Tally {
  size_t total = 0, removed = 0;
  double removedFraction() const { return total ? double(removed) / double(total) : 0; }
  double keptFraction() const { return total ? 1.0 - removedFraction() : 0; }
};

std::map<CtaTruth, Tally> tallyByTruth(const test::CtaPhantom& phantom, const BoneRemoval& removal) {
  std::map<CtaTruth, Tally> tally;
  for (size_t n = 0; n < phantom.truth.size(); ++n) {
    auto& t = tally[phantom.truth[n]];
    ++t.total;
    if (removal.mask[n] != BoneRemoval::kKept) ++t.removed;
  }
  return tally;
}

const test::CtaPhantom& phantom() {
  static const test::CtaPhantom p = test::makeCtaPhantom();
  return p;
}

TEST(BoneRemoval, PhantomLosesItsBonesTableAndWireAndKeepsVesselsPlaqueAndStent) {
  const auto& p = phantom();
  const BoneRemoval removal = removeBone(p.volume, BoneRemovalParams::forRegion(BodyRegion::ChestAorta), 2);
  ASSERT_EQ(removal.mask.size(), p.volume.voxelCount());
  auto tally = tallyByTruth(p, removal);
  ASSERT_GT(tally[CtaTruth::Bone].total, 50000u);
  ASSERT_GT(tally[CtaTruth::Plaque].total, 40u);
  ASSERT_GT(tally[CtaTruth::Stent].total, 100u);
  ASSERT_GT(tally[CtaTruth::Wire].total, 50u);
  std::printf("phantom: bone removed %.4f, wire %.4f, table %.4f, lumen kept %.4f, plaque kept %.4f, stent kept %.4f, "
              "tissue lost %.4f; %s; %s\n",
              tally[CtaTruth::Bone].removedFraction(), tally[CtaTruth::Wire].removedFraction(),
              tally[CtaTruth::Table].removedFraction(), tally[CtaTruth::Lumen].keptFraction(),
              tally[CtaTruth::Plaque].keptFraction(), tally[CtaTruth::Stent].keptFraction(),
              tally[CtaTruth::Tissue].removedFraction(), removal.summary().c_str(), removal.timings.summary().c_str());
  EXPECT_GE(tally[CtaTruth::Bone].removedFraction(), 0.95) << removal.summary();
  EXPECT_GE(tally[CtaTruth::Wire].removedFraction(), 0.95) << removal.summary();
  EXPECT_GE(tally[CtaTruth::Table].removedFraction(), 0.95) << removal.summary();
  const size_t vessel_total =
      tally[CtaTruth::Lumen].total + tally[CtaTruth::Plaque].total + tally[CtaTruth::Stent].total;
  const size_t vessel_removed =
      tally[CtaTruth::Lumen].removed + tally[CtaTruth::Plaque].removed + tally[CtaTruth::Stent].removed;
  EXPECT_GE(1.0 - double(vessel_removed) / double(vessel_total), 0.95) << removal.summary();
  EXPECT_GE(tally[CtaTruth::Lumen].keptFraction(), 0.95);
  EXPECT_GE(tally[CtaTruth::Plaque].keptFraction(), 0.95);
  EXPECT_GE(tally[CtaTruth::Stent].keptFraction(), 0.95);
  EXPECT_LE(tally[CtaTruth::Tissue].removedFraction(), 0.01);
  // The volume: removed bone reads removed_hu, outside the body air, the rest as it was.
  const auto params = BoneRemovalParams::forRegion(BodyRegion::ChestAorta);
  for (size_t n = 0; n < removal.mask.size(); ++n) {
    const int16_t expected = removal.mask[n] == BoneRemoval::kBone          ? params.removed_hu
                             : removal.mask[n] == BoneRemoval::kOutsideBody ? params.outside_hu
                                                                            : p.volume.voxels[n];
    ASSERT_EQ(removal.volume.voxels[n], expected) << "voxel " << n;
  }
  EXPECT_EQ(removal.volume.frame_of_reference_uid, p.volume.frame_of_reference_uid);
  EXPECT_EQ(removal.volume.origin, p.volume.origin);
  EXPECT_EQ(removal.volume.spacing, p.volume.spacing);
}

// Each vessel on its own: the one lying on the vertebra, the one touching its side,
// the one crossing the rib, the stented one.
TEST(BoneRemoval, EveryVesselTouchingBoneKeepsItsLumen) {
  const auto& p = phantom();
  const BoneRemoval removal = removeBone(p.volume, BoneRemovalParams::forRegion(BodyRegion::ChestAorta), 2);
  struct Vessel {
    const char* name;
    double x, y;  // centre for vessels along z
    double radius;
  };
  const Vessel along_z[] = {{"aorta on the vertebra", 0, 15, 9}, {"artery at the vertebra's side", 20, 40, 4},
                            {"stented artery", -35, -20, 5}};
  for (const auto& vessel : along_z) {
    Tally t;
    for (size_t n = 0; n < p.truth.size(); ++n) {
      if (p.truth[n] != CtaTruth::Lumen) continue;
      const int i = int(n % 200), j = int(n / 200 % 190), k = int(n / (200 * 190));
      const auto c = p.volume.physicalPoint(i, j, k);
      if (std::hypot(c[0] - vessel.x, c[1] - vessel.y) > vessel.radius) continue;
      ++t.total;
      if (removal.mask[n] != BoneRemoval::kKept) ++t.removed;
    }
    ASSERT_GT(t.total, 1000u) << vessel.name;
    EXPECT_GE(t.keptFraction(), 0.95) << vessel.name;
  }
  Tally over_rib;
  for (size_t n = 0; n < p.truth.size(); ++n) {
    const int i = int(n % 200), j = int(n / 200 % 190), k = int(n / (200 * 190));
    const auto c = p.volume.physicalPoint(i, j, k);
    if (p.truth[n] != CtaTruth::Lumen || std::hypot(c[0] + 40, c[2] - 68) > 3 || c[1] > -30) continue;
    ++over_rib.total;
    if (removal.mask[n] != BoneRemoval::kKept) ++over_rib.removed;
  }
  ASSERT_GT(over_rib.total, 200u);
  EXPECT_GE(over_rib.keptFraction(), 0.95);
}

TEST(BoneRemoval, RegionsFollowBodyPartAndDescriptions) {
  EXPECT_EQ(bodyRegionFor("", "CTA COW 0.6"), BodyRegion::HeadNeck);
  EXPECT_EQ(bodyRegionFor("NECK", "CTA 1.0"), BodyRegion::HeadNeck);
  EXPECT_EQ(bodyRegionFor("", "CTA Aorta runoff"), BodyRegion::Runoff);
  EXPECT_EQ(bodyRegionFor("ABDOMEN", "CTA"), BodyRegion::AbdomenPelvis);
  EXPECT_EQ(bodyRegionFor("CHEST", "CTA Aorta 1.0"), BodyRegion::ChestAorta);
  EXPECT_EQ(bodyRegionFor("", ""), BodyRegion::ChestAorta);
  EXPECT_STREQ(bodyRegionName(BodyRegion::Runoff), "run-off");
  EXPECT_GT(BoneRemovalParams::forRegion(BodyRegion::HeadNeck).dense_hu,
            BoneRemovalParams::forRegion(BodyRegion::ChestAorta).dense_hu);
}

TEST(BoneRemoval, RefusesNonCtAndEmptyVolumes) {
  Volume mr;
  mr.modality = "MR";
  mr.dimensions = {2, 2, 2};
  mr.voxels.assign(8, 0);
  try {
    removeBone(mr, {});
    ADD_FAILURE() << "MR accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), Errc::InvalidArgument);
    EXPECT_NE(std::string(e.what()).find("CT"), std::string::npos);
  }
  Volume empty;
  empty.modality = "CT";
  EXPECT_THROW(removeBone(empty, {}), Error);
}

// Real CT: the fraction of non-bone tissue (inside the body, -200 .. 150 HU) that bone
// removal takes must stay under 1 % (docs/bone-removal.md).
double tissueLost(const Volume& v, const BoneRemoval& removal) {
  size_t tissue = 0, lost = 0;
  for (size_t n = 0; n < v.voxels.size(); ++n) {
    if (removal.mask[n] == BoneRemoval::kOutsideBody || v.voxels[n] < -200 || v.voxels[n] > 150) continue;
    ++tissue;
    if (removal.mask[n] == BoneRemoval::kBone) ++lost;
  }
  const double fraction = tissue ? double(lost) / double(tissue) : 1.0;
  std::printf("%dx%dx%d: non-bone tissue lost %.5f (%zu of %zu voxels); %s; %s\n", v.dimensions[0], v.dimensions[1],
              v.dimensions[2], fraction, lost, tissue, removal.summary().c_str(), removal.timings.summary().c_str());
  return fraction;
}

TEST(BoneRemovalRealData, HeadCtLosesLittleNonBoneTissueAndMostOfTheSkull) {
  const auto& assembly = test::cachedAssembly("ct-head-phantom-study/S2020");
  ASSERT_FALSE(assembly.renderable().empty());
  const Volume& v = *assembly.renderable()[0]->volume;
  const auto params = BoneRemovalParams::forRegion(BodyRegion::HeadNeck);
  const BoneRemoval removal = removeBone(v, params, 2);
  EXPECT_LE(tissueLost(v, removal), 0.01) << removal.summary();
  size_t skull = 0, removed = 0;  // the skull: dense bone inside the body
  for (size_t n = 0; n < v.voxels.size(); ++n)
    if (v.voxels[n] >= params.dense_hu && removal.mask[n] != BoneRemoval::kOutsideBody) {
      ++skull;
      removed += removal.mask[n] == BoneRemoval::kBone;
    }
  std::printf("skull (>= dense_hu inside the body) removed: %zu of %zu\n", removed, skull);
  ASSERT_GT(skull, 10000u);
  EXPECT_GE(double(removed) / double(skull), 0.95) << removal.summary();
}

TEST(BoneRemovalRealData, ChestCtLosesLittleNonBoneTissue) {
  const auto& assembly = test::cachedAssembly("ct-chest-transfer-syntaxes/implicit_le");
  ASSERT_FALSE(assembly.renderable().empty());
  const Volume& v = *assembly.renderable()[0]->volume;
  const BoneRemoval removal = removeBone(v, BoneRemovalParams::forRegion(BodyRegion::ChestAorta), 2);
  EXPECT_LE(tissueLost(v, removal), 0.01) << removal.summary();
  EXPECT_GT(removal.bone_voxels, 10000u) << removal.summary();
}

}  // namespace
}  // namespace volnode
