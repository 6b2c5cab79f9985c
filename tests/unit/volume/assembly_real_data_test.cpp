// Volume assembly on the real scans in ../shared/data (see its README.md).
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>

#include "volnode/volume/assembly.hpp"
#include "volume_test_util.hpp"

namespace volnode {
namespace {

using test::cachedAssembly;
using test::filesIn;
using test::hasCorrection;
using test::sharedData;

TEST(Assembly, PhantomThinSeriesDecodesToHounsfieldUnits) {
  const auto& a = cachedAssembly("ct-head-phantom-study/S2020");
  ASSERT_EQ(a.decision, VolumeDecision::Renderable) << a.reason;
  ASSERT_EQ(a.renderable().size(), 1u);
  const auto& v = *a.renderable()[0]->volume;
  ASSERT_EQ(v.voxelCount(), size_t(512) * 512 * 140);
  // Sorted by position along +z (head end last), origin at the lowest slice.
  EXPECT_NEAR(v.direction[8], 1.0, 1e-6);
  EXPECT_NEAR(v.spacing[2], 1.0, 0.01);
  const auto [mn, mx] = std::minmax_element(v.voxels.begin(), v.voxels.end());
  EXPECT_GE(*mn, -1100);  // air
  EXPECT_GT(*mx, 1000);   // bone
  // The corner of the field of view is air.
  EXPECT_LT(v.at(2, 2, 70), -900);
}

TEST(Assembly, GantryTiltIsResampledAndRecorded) {
  const auto& a = cachedAssembly("ct-head-gantry-tilt");
  ASSERT_EQ(a.decision, VolumeDecision::Renderable) << a.reason;
  ASSERT_EQ(a.volumes.size(), 1u);
  const auto& c = a.volumes[0];
  EXPECT_NEAR(c.tilt_deg, 18.5, 0.1);
  EXPECT_FALSE(c.uniform);
  EXPECT_TRUE(hasCorrection(c, "gantry tilt 18.5 deg resampled"));
  EXPECT_TRUE(hasCorrection(c, "non-uniform spacing resampled"));
  // Resampled at the median spacing (4 mm) over the whole extent.
  EXPECT_NEAR(c.spacing[2], 4.0, 0.05);
  EXPECT_GT(c.dimensions[1], 512);  // the sheared stack needs more rows
  ASSERT_TRUE(c.volume);
  const auto& v = *c.volume;
  EXPECT_EQ(v.corrections, c.corrections);
  // Physical values: padding (-1500 stored) is masked to air, the head is there.
  const auto [mn, mx] = std::minmax_element(v.voxels.begin(), v.voxels.end());
  EXPECT_GE(*mn, -1100);
  EXPECT_GT(*mx, 500);
}

TEST(Assembly, SagittalMprageHasSagittalDirectionMatrix) {
  const auto a = scanSeries(filesIn(sharedData("mr-brain-sagittal-mprage")));
  ASSERT_EQ(a.decision, VolumeDecision::Renderable) << a.reason;
  ASSERT_EQ(a.volumes.size(), 1u);
  const auto& c = a.volumes[0];
  EXPECT_EQ(c.dimensions, (std::array<int, 3>{256, 256, 192}));
  // Slice normal (third column) is essentially patient left-right.
  EXPECT_GT(std::abs(c.direction[0 * 3 + 2]), 0.9);
  EXPECT_NEAR(c.spacing[2], 0.9, 0.01);
  EXPECT_TRUE(c.corrections.empty());
  EXPECT_EQ(a.info.mr_acquisition_type, "3D");
}

TEST(Assembly, SlicesAtOnePositionAreNotAVolume) {
  const auto a = scanSeries(filesIn(sharedData("edge-cases/notavolume/001")));
  EXPECT_EQ(a.decision, VolumeDecision::Refused);
  ASSERT_EQ(a.volumes.size(), 1u);
  EXPECT_EQ(a.volumes[0].reason, "not a volume (4 slices at one position)");
  EXPECT_EQ(a.reason, "not a volume (4 slices at one position)");
}

TEST(Assembly, MixedOrientationsAreSplitAndShortStacksRefused) {
  const auto a = scanSeries(filesIn(sharedData("edge-cases/sliceorientation/001")));
  EXPECT_EQ(a.decision, VolumeDecision::Refused);
  ASSERT_EQ(a.volumes.size(), 2u);
  for (const auto& v : a.volumes) {
    EXPECT_EQ(v.reason, "too few slices (2)");
    EXPECT_NE(v.label.find("orientation"), std::string::npos) << v.label;
  }
}

TEST(Assembly, TwoFileSeriesIsTooFewSlices) {
  const auto a = scanSeries(filesIn(sharedData("edge-cases/slicecount/001")));
  EXPECT_EQ(a.decision, VolumeDecision::Refused);
  EXPECT_EQ(a.reason, "too few slices (2)");
}

TEST(Assembly, MissingSliceIsResampledToUniformSpacing) {
  const auto a = scanSeries(filesIn(sharedData("edge-cases/sliceincrement/001")));
  ASSERT_EQ(a.decision, VolumeDecision::Renderable) << a.reason;
  EXPECT_FALSE(a.volumes[0].uniform);
  EXPECT_TRUE(hasCorrection(a.volumes[0], "non-uniform spacing resampled"));
}

TEST(Assembly, SmallTiltedStackIsCorrected) {
  const auto a = scanSeries(filesIn(sharedData("edge-cases/gantrytilting/001")));
  ASSERT_EQ(a.decision, VolumeDecision::Renderable) << a.reason;
  EXPECT_NEAR(a.volumes[0].tilt_deg, 14, 0.6);
  EXPECT_TRUE(hasCorrection(a.volumes[0], "gantry tilt"));
}

TEST(Assembly, EveryTransferSyntaxDecodesToIdenticalVoxels) {
  const auto& reference = cachedAssembly("ct-chest-transfer-syntaxes/implicit_le");
  ASSERT_EQ(reference.renderable().size(), 1u) << reference.reason;
  const Volume& ref = *reference.renderable()[0]->volume;
  EXPECT_EQ(ref.dimensions, (std::array<int, 3>{512, 512, 30}));
  const auto [mn, mx] = std::minmax_element(ref.voxels.begin(), ref.voxels.end());
  EXPECT_GE(*mn, -1024);  // HU after rescale
  EXPECT_GT(*mx, 300);
  for (const char* syntax : {"explicit_be", "rle", "jpeg_lossless_sv1", "jpegls_lossless", "j2k_lossless"}) {
    SCOPED_TRACE(syntax);
    const auto a = assembleSeries(filesIn(sharedData(std::string("ct-chest-transfer-syntaxes/") + syntax)));
    ASSERT_EQ(a.renderable().size(), 1u) << a.reason;
    const Volume& v = *a.renderable()[0]->volume;
    EXPECT_EQ(v.dimensions, ref.dimensions);
    EXPECT_EQ(v.origin, ref.origin);
    EXPECT_TRUE(v.voxels == ref.voxels);
  }
}

TEST(Assembly, EnhancedPhilipsMrAssemblesFromFunctionalGroups) {
  const auto a = assembleSeries(filesIn(sharedData("edge-cases/enhanced-mr/Philips")));
  ASSERT_EQ(a.decision, VolumeDecision::Renderable) << a.reason;
  // 64 frames: two stacks (magnitude and field map) of 32 positions, 4 mm apart.
  ASSERT_EQ(a.renderable().size(), 2u) << a.reason;
  for (const auto* c : a.renderable()) {
    EXPECT_EQ(c->dimensions, (std::array<int, 3>{64, 64, 32}));
    EXPECT_NEAR(c->spacing[0], 4.0, 1e-6);
    EXPECT_NEAR(c->spacing[2], 4.0, 0.01);
    EXPECT_FALSE(c->label.empty());
    ASSERT_TRUE(c->volume);
  }
  // Rescale from the per-frame Pixel Value Transformation: the two stacks differ in slope.
  EXPECT_NE(a.renderable()[0]->volume->voxels, a.renderable()[1]->volume->voxels);
}

TEST(Assembly, EnhancedSiemensMrSplitsRepeatedPositionsIntoVolumes) {
  const auto a = scanSeries(filesIn(sharedData("edge-cases/enhanced-mr/Siemens/XA10")));
  ASSERT_EQ(a.decision, VolumeDecision::Renderable) << a.reason;
  // 4 files x 6 frames at the same 6 positions: 4 volumes of 6 slices.
  ASSERT_EQ(a.renderable().size(), 4u) << a.reason;
  for (const auto* c : a.renderable()) {
    EXPECT_EQ(c->dimensions[2], 6);
    EXPECT_NEAR(c->spacing[2], 2.4, 0.01);
    EXPECT_NEAR(c->spacing[0], 3.375, 1e-6);
  }
}

TEST(Assembly, MalformedFilesGiveRefusalsNotExceptions) {
  test::TempDir dir;
  // Not DICOM at all.
  { std::ofstream(dir.path() / "notes.txt") << "hello"; }
  // A DICOM file cut in the middle of its pixel data.
  const auto src = sharedData("edge-cases/notavolume/001/001.dcm");
  {
    std::ifstream in(src, std::ios::binary);
    std::string bytes((std::istreambuf_iterator<char>(in)), {});
    std::ofstream(dir.path() / "cut.dcm", std::ios::binary) << bytes.substr(0, bytes.size() / 2);
  }
  SeriesAssembly a;
  ASSERT_NO_THROW(a = assembleSeries(filesIn(dir.path())));
  EXPECT_EQ(a.decision, VolumeDecision::Refused);
  EXPECT_EQ(a.skipped_files + a.instances, 2u);
  EXPECT_FALSE(a.reason.empty());
}

}  // namespace
}  // namespace volnode
