// The bone-removed MIP slabs of a CT angiogram: written with the reformat writer from
// the bone-removed volume, each slab in the source's Frame of Reference with the planes
// the source volume gives (IPP, IOP, PixelSpacing exact), "bone removed" in the
// description, the CTA window, dciodvfy clean; the aorta stays bright where the
// geometry says it is, the vertebra beside it does not.
#include <gtest/gtest.h>

#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcfilefo.h>

#include "support/cta_phantom.hpp"
#include "unit/encode/encode_test_support.hpp"
#include "volnode/volume/assembly.hpp"
#include "volnode/volume/bone_removal.hpp"
#include "volnode/workflow/bone_removed_volume.hpp"
#include "volnode/workflow/reformat_outputs.hpp"

namespace volnode {
namespace {

struct Slab {
  std::array<double, 3> position{}, row{}, column{};
  double row_spacing = 0, column_spacing = 0;
  int rows = 0, columns = 0;
  std::vector<int16_t> pixels;
  std::string frame_of_reference, description, image_type, window_center, window_width;
  double valueAt(const std::array<double, 3>& lps) const {  // nearest pixel to a point in the slab
    double d[3] = {lps[0] - position[0], lps[1] - position[1], lps[2] - position[2]};
    const double c = (d[0] * row[0] + d[1] * row[1] + d[2] * row[2]) / column_spacing;
    const double r = (d[0] * column[0] + d[1] * column[1] + d[2] * column[2]) / row_spacing;
    const int ci = int(std::lround(c)), ri = int(std::lround(r));
    if (ci < 0 || ri < 0 || ci >= columns || ri >= rows || pixels.size() != size_t(rows) * columns) return -9999;
    return pixels[size_t(ri) * columns + ci];
  }
};

Slab readSlab(const std::filesystem::path& file) {
  DcmFileFormat f;
  EXPECT_TRUE(f.loadFile(file.c_str()).good()) << file;
  DcmDataset* d = f.getDataset();
  Slab s;
  for (int i = 0; i < 3; ++i) {
    d->findAndGetFloat64(DCM_ImagePositionPatient, s.position[size_t(i)], i);
    d->findAndGetFloat64(DCM_ImageOrientationPatient, s.row[size_t(i)], i);
    d->findAndGetFloat64(DCM_ImageOrientationPatient, s.column[size_t(i)], i + 3);
  }
  d->findAndGetFloat64(DCM_PixelSpacing, s.row_spacing, 0);
  d->findAndGetFloat64(DCM_PixelSpacing, s.column_spacing, 1);
  Uint16 rows = 0, columns = 0;
  d->findAndGetUint16(DCM_Rows, rows);
  d->findAndGetUint16(DCM_Columns, columns);
  s.rows = rows;
  s.columns = columns;
  const Uint16* pixels = nullptr;  // OW: the signed values' bits
  unsigned long count = 0;
  Float64 slope = 1, intercept = 0;
  d->findAndGetFloat64(DCM_RescaleSlope, slope);
  d->findAndGetFloat64(DCM_RescaleIntercept, intercept);
  Uint16 representation = 0;
  d->findAndGetUint16(DCM_PixelRepresentation, representation);
  if (d->findAndGetUint16Array(DCM_PixelData, pixels, &count).good())
    for (unsigned long n = 0; n < count; ++n) {
      const double stored = representation ? double(int16_t(pixels[n])) : double(pixels[n]);
      s.pixels.push_back(int16_t(std::lround(stored * slope + intercept)));
    }
  EXPECT_EQ(s.pixels.size(), size_t(s.rows) * size_t(s.columns)) << file;
  OFString text;
  d->findAndGetOFString(DCM_FrameOfReferenceUID, text);
  s.frame_of_reference = text.c_str();
  d->findAndGetOFString(DCM_SeriesDescription, text);
  s.description = text.c_str();
  d->findAndGetOFStringArray(DCM_ImageType, text);
  s.image_type = text.c_str();
  d->findAndGetOFString(DCM_WindowCenter, text);
  s.window_center = text.c_str();
  d->findAndGetOFString(DCM_WindowWidth, text);
  s.window_width = text.c_str();
  return s;
}

TEST(BoneRemovedReformats, CoronalMipSlabsAreGeometryExactAndShowTheAortaNotTheSpine) {
  test::TempDir dir("volnode-bone-removed-slabs");
  test::SyntheticSeries s;
  s.rows = 190;
  s.cols = 200;
  s.row_spacing = s.col_spacing = 0.8;
  s.slices = 90;
  s.slice_spacing = 1.0;
  s.origin = {-80, -70, 0.5};
  s.series_description = "CTA Aorta 1.0";
  s.body_part = "CHEST";
  s.value = [](const test::Vec3& p) { return test::ctaPhantomAt(p[0], p[1], p[2]).hu; };
  const auto source = test::writeSyntheticSeries(s, dir / "src");
  const Volume volume = assembleVolume(source.files);
  const OutputIdentity identity = readOutputIdentity(source.files);
  const BoneRemoval removal = removeBone(volume, boneRemovalParamsFor("CHEST", "CTA Aorta 1.0"), 2);

  RuleOutput output;
  output.type = "reformat";
  output.reformat.plane = "coronal";
  output.reformat.mode = "mip";
  output.reformat.thickness_mm = 20;
  output.reformat.spacing_mm = 10;
  output.reformat.bone_removed = true;
  output.reformat.window = std::make_pair(350.0, 1200.0);
  output.reformat.window_name = "CTA";
  const int count = reformatSliceCount(removal.volume, output);
  ASSERT_EQ(count, reformatSliceCount(volume, output));
  ASSERT_GT(count, 10);
  const auto plans = planSeries("", 9100, output.reformatDescription(), count);
  const auto written = writeReformatSeries(removal.volume, output, identity, plans, EquipmentInfo{}, dir / "out");
  ASSERT_EQ(written.size(), size_t(count));

  // The planes the source volume gives, exactly.
  const auto planes = reformatPlanes(volume, reformatSpecOf(output));
  ASSERT_EQ(planes.size(), written.size());
  for (size_t i = 0; i < written.size(); ++i) {
    const Slab slab = readSlab(written[i].path);
    for (int a = 0; a < 3; ++a) {
      EXPECT_NEAR(slab.position[size_t(a)], planes[i].position[size_t(a)], 1e-4) << "slice " << i;
      EXPECT_NEAR(slab.row[size_t(a)], planes[i].row_direction[size_t(a)], 1e-6);
      EXPECT_NEAR(slab.column[size_t(a)], planes[i].column_direction[size_t(a)], 1e-6);
    }
    EXPECT_NEAR(slab.row_spacing, planes[i].row_spacing, 1e-6);
    EXPECT_NEAR(slab.column_spacing, planes[i].column_spacing, 1e-6);
    EXPECT_EQ(slab.rows, planes[i].rows);
    EXPECT_EQ(slab.columns, planes[i].columns);
    EXPECT_EQ(slab.frame_of_reference, volume.frame_of_reference_uid);
  }
  const Slab first = readSlab(written.front().path);
  EXPECT_EQ(first.description, "COR MIP 20mm bone removed CTA");
  EXPECT_EQ(first.image_type, "DERIVED\\SECONDARY\\REFORMATTED\\MIP");
  EXPECT_EQ(first.window_center, "350");
  EXPECT_EQ(first.window_width, "1200");
  test::expectValid(written.front().path);
  test::expectValid(written[written.size() / 2].path);

  // The slab through the aorta's centre (y = 15) and the one through the vertebra's
  // (y = 40): the aorta is contrast where the geometry puts it, the vertebra is gone.
  auto slabNearest = [&](double y) {
    size_t best = 0;
    for (size_t i = 1; i < planes.size(); ++i)
      if (std::fabs(planes[i].position[1] - y) < std::fabs(planes[best].position[1] - y)) best = i;
    return readSlab(written[best].path);
  };
  const Slab aorta = slabNearest(15);
  EXPECT_GE(aorta.valueAt({0, 15, 30}), 380);
  EXPECT_LE(aorta.valueAt({0, 15, 30}), 420);
  EXPECT_GE(aorta.valueAt({6, 15, 45}), 850);  // the plaque stays
  const Slab spine = slabNearest(40);
  EXPECT_LT(spine.valueAt({-15, 40, 50}), 300);  // was cortex (MIP 1200 with bone)
  EXPECT_LT(spine.valueAt({-8, 40, 20}), 200);   // was marrow (250)
  EXPECT_GE(spine.valueAt({20, 40, 50}), 300);  // the artery at the vertebra's side stays
  // With the bone, the same slab shows the cortex.
  RuleOutput with_bone = output;
  with_bone.reformat.bone_removed = false;
  const auto with_bone_written =
      writeReformatSeries(volume, with_bone, identity, planSeries("", 9101, with_bone.reformatDescription(), count),
                          EquipmentInfo{}, dir / "with-bone");
  size_t spine_index = 0;
  for (size_t i = 1; i < planes.size(); ++i)
    if (std::fabs(planes[i].position[1] - 40) < std::fabs(planes[spine_index].position[1] - 40)) spine_index = i;
  EXPECT_GE(readSlab(with_bone_written[spine_index].path).valueAt({-15, 40, 50}), 1100);
}

}  // namespace
}  // namespace volnode
