// One Enhanced CT object holding a whole series assembles to the same volume as the
// series written one slice per file: the same geometry and, voxel for voxel, the same
// values, whether its frames are read straight from the file (native little endian)
// or through the decoder (big endian; JPEG-LS and RLE, one fragment per frame, as DCMTK's
// own command-line encoders write them).
#include <gtest/gtest.h>

#include "support/process.hpp"
#include "support/synthetic_series.hpp"
#include "volnode/volume/assembly.hpp"

namespace volnode {
namespace {

using test::SyntheticSeries;
using test::SyntheticTransferSyntax;
using test::TempDir;

SyntheticSeries phantomSeries() {
  SyntheticSeries s;
  s.rows = 56;
  s.cols = 64;
  s.row_spacing = 0.9;
  s.col_spacing = 0.8;
  s.slices = 40;
  s.slice_spacing = 1.25;
  s.origin = {-25, -25, -24};
  s.rescale_intercept = -1024;
  s.signed_pixels = false;
  test::OrientationPhantom phantom;
  phantom.radii = {22, 20, 22};
  phantom.marker_radius = 4;
  s.value = phantom.function();
  return s;
}

const Volume& onlyVolume(const SeriesAssembly& a) {
  EXPECT_EQ(a.renderable().size(), 1u) << a.reason;
  return *a.renderable().at(0)->volume;
}

TEST(MultiFrameAssembly, EnhancedCtObjectEqualsTheSameSeriesAsSingleFrames) {
  TempDir dir;
  const SyntheticSeries s = phantomSeries();
  const auto singles = test::writeSyntheticSeries(s, dir / "singles");
  const SeriesAssembly from_singles = assembleSeries(singles.files);
  const Volume& reference = onlyVolume(from_singles);
  ASSERT_EQ(reference.dimensions, (std::array<int, 3>{64, 56, 40}));

  for (auto syntax : {SyntheticTransferSyntax::ExplicitLittle, SyntheticTransferSyntax::ImplicitLittle,
                      SyntheticTransferSyntax::ExplicitBig}) {
    SCOPED_TRACE(int(syntax));
    SyntheticSeries enhanced = s;
    enhanced.transfer_syntax = syntax;
    const auto written = test::writeSyntheticEnhancedCt(enhanced, dir / ("enhanced" + std::to_string(int(syntax))) /
                                                                      "ct.dcm");
    const SeriesAssembly a = assembleSeries(written.files);
    const Volume& v = onlyVolume(a);
    EXPECT_EQ(v.dimensions, reference.dimensions);
    for (int i = 0; i < 3; ++i) {
      EXPECT_NEAR(v.origin[i], reference.origin[i], 1e-6);
      EXPECT_NEAR(v.spacing[i], reference.spacing[i], 1e-6);
    }
    for (int i = 0; i < 9; ++i) EXPECT_NEAR(v.direction[i], reference.direction[i], 1e-9);
    EXPECT_TRUE(v.voxels == reference.voxels);
  }
}

TEST(MultiFrameAssembly, CompressedEnhancedCtObjectEqualsTheSameSeriesAsSingleFrames) {
  TempDir dir;
  const SyntheticSeries s = phantomSeries();
  const Volume reference = onlyVolume(assembleSeries(test::writeSyntheticSeries(s, dir / "singles").files));
  const auto enhanced = test::writeSyntheticEnhancedCt(s, dir / "enhanced.dcm");
  for (const char* encoder : {"dcmcjpls", "dcmcrle"}) {
    SCOPED_TRACE(encoder);
    const auto compressed = dir / encoder / "ct.dcm";
    std::filesystem::create_directories(compressed.parent_path());
    const auto encoded = test::run({encoder, enhanced.files[0].string(), compressed.string()});
    ASSERT_EQ(encoded.exit_code, 0) << encoded.output;
    const SeriesAssembly a = assembleSeries({compressed});
    const Volume& v = onlyVolume(a);
    EXPECT_EQ(v.dimensions, reference.dimensions);
    for (int i = 0; i < 3; ++i) EXPECT_NEAR(v.origin[i], reference.origin[i], 1e-6);
    EXPECT_TRUE(v.voxels == reference.voxels);
  }
}

TEST(MultiFrameAssembly, AnObjectCutInsideItsFramesIsRefusedWithTheReason) {
  // The frames that are not there are never read from beyond the end of the file: the
  // guarded reader refuses the object, and the series' reason says which and why.
  TempDir dir;
  SyntheticSeries s = phantomSeries();
  const auto written = test::writeSyntheticEnhancedCt(s, dir / "ct.dcm");
  AssemblyOptions options;
  options.load_voxels = false;
  const SeriesAssembly plan = assembleSeries(written.files, options);
  ASSERT_EQ(plan.renderable().size(), 1u) << plan.reason;
  std::filesystem::resize_file(written.files[0], std::filesystem::file_size(written.files[0]) - 64 * 56 * 2 * 3);
  const SeriesAssembly a = assembleSeries(written.files);
  EXPECT_TRUE(a.renderable().empty());
  EXPECT_NE(a.reason.find("ct.dcm"), std::string::npos) << a.reason;
  EXPECT_NE(a.reason.find("(7FE0,0010) claims"), std::string::npos) << a.reason;
}

}  // namespace
}  // namespace volnode
