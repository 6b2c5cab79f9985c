// ReformatSlices: the slices of reformatVolume() a group at a time, in order, with
// the same geometry and the same pixels, for aligned, tilted and oblique planes.
#include <gtest/gtest.h>

#include <cmath>

#include "volnode/core/error.hpp"
#include "volnode/volume/reformat.hpp"

namespace volnode::test {
namespace {

// A 70 x 60 x 40 volume of varied values (so that any misplaced sample shows), with
// the given direction (columns: the index axes in LPS).
Volume variedVolume(const std::array<double, 9>& direction) {
  Volume v;
  v.modality = "CT";
  v.dimensions = {70, 60, 40};
  v.spacing = {0.8, 0.8, 1.25};
  v.origin = {-28, -24, -25};
  v.direction = direction;
  v.voxels.resize(v.voxelCount());
  for (size_t i = 0; i < v.voxels.size(); ++i) v.voxels[i] = int16_t(int((i * 7919) % 2400) - 1000);
  return v;
}

void expectSameSlices(const Volume& volume, const ReformatSpec& spec, const std::string& what) {
  const auto whole = reformatVolume(volume, spec, -1024, 2);
  ReformatSlices slices(volume, spec, -1024);
  ASSERT_EQ(slices.size(), whole.size()) << what;
  size_t index = 0, groups = 0;
  for (const auto* group = &slices.next(); !group->empty(); group = &slices.next()) {
    ++groups;
    for (const PlaneImage& image : *group) {
      ASSERT_LT(index, whole.size()) << what;
      const PlaneImage& expected = whole[index++];
      EXPECT_EQ(image.geometry.position, expected.geometry.position) << what << " slice " << index;
      EXPECT_EQ(image.geometry.rows, expected.geometry.rows) << what;
      EXPECT_EQ(image.geometry.columns, expected.geometry.columns) << what;
      EXPECT_TRUE(image.pixels == expected.pixels) << what << " slice " << index;
    }
  }
  EXPECT_EQ(index, whole.size()) << what;
  EXPECT_GT(groups, 1u) << what;
  EXPECT_TRUE(slices.next().empty()) << what << ": nothing after the last slice";
}

TEST(ReformatSlices, GivesTheSlicesOfReformatVolumeInOrder) {
  const std::array<double, 9> axial{1, 0, 0, 0, 1, 0, 0, 0, 1};
  const double c = std::cos(20 * M_PI / 180), s = std::sin(20 * M_PI / 180);
  const std::array<double, 9> tilted{1, 0, 0, 0, c, s, 0, -s, c};  // gantry tilt about the left-right axis
  struct Case {
    const char* name;
    std::array<double, 9> direction;
    ReformatPlane plane;
    SlabMode mode;
    double thickness, tilt;
  } cases[] = {{"coronal average", axial, ReformatPlane::Coronal, SlabMode::Average, 3, 0},
               {"sagittal average", axial, ReformatPlane::Sagittal, SlabMode::Average, 3, 0},
               {"axial MIP", axial, ReformatPlane::Axial, SlabMode::Maximum, 10, 0},
               {"coronal of a tilted source", tilted, ReformatPlane::Coronal, SlabMode::Average, 2, 0},
               {"oblique coronal", axial, ReformatPlane::Coronal, SlabMode::Average, 3, 15}};
  for (const auto& k : cases) {
    const Volume volume = variedVolume(k.direction);
    ReformatSpec spec;
    spec.plane = k.plane;
    spec.mode = k.mode;
    spec.thickness_mm = k.thickness;
    spec.spacing_mm = 2;
    spec.tilt_deg = k.tilt;
    expectSameSlices(volume, spec, k.name);
  }
}

TEST(ReformatSlices, BadSpecIsRefusedLikeReformatPlanes) {
  const Volume volume = variedVolume({1, 0, 0, 0, 1, 0, 0, 0, 1});
  ReformatSpec spec;
  spec.spacing_mm = 0;
  EXPECT_THROW(ReformatSlices(volume, spec, -1024), Error);
}

}  // namespace
}  // namespace volnode::test
