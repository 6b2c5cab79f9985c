// A rule's "reformat" outputs on a real volume: slice counts for planning, the series
// written with the planned UIDs, and the cases that give no reformat instead of a failed job.
#include <gtest/gtest.h>

#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcfilefo.h>

#include "support/process.hpp"
#include "volnode/core/error.hpp"
#include "support/synthetic_series.hpp"
#include "volnode/volume/assembly.hpp"
#include "volnode/workflow/reformat_outputs.hpp"

namespace volnode {
namespace {

RuleOutput coronal(double thickness, double spacing, const std::string& window_name = "") {
  RuleOutput o;
  o.type = "reformat";
  o.reformat.plane = "coronal";
  o.reformat.thickness_mm = thickness;
  o.reformat.spacing_mm = spacing;
  if (!window_name.empty()) {
    o.reformat.window = std::make_pair(-600.0, 1500.0);
    o.reformat.window_name = window_name;
  }
  return o;
}

std::string tag(const std::filesystem::path& file, const DcmTagKey& key) {
  DcmFileFormat f;
  EXPECT_TRUE(f.loadFile(file.c_str()).good());
  OFString value;
  f.getDataset()->findAndGetOFStringArray(key, value);
  return value.c_str();
}

TEST(ReformatOutputs, PlannedSlicesAreWrittenWithThePlannedUidsAndTheRulesWindow) {
  test::TempDir dir("volnode-reformat-outputs");
  test::SyntheticSeries s;
  s.rows = s.cols = 48;  // 47 mm wide and deep
  s.slices = 20;
  s.slice_spacing = 2;
  const auto source = test::writeSyntheticSeries(s, dir / "src");
  const Volume volume = assembleVolume(source.files);
  const OutputIdentity identity = readOutputIdentity(source.files);

  const RuleOutput output = coronal(3, 2, "LUNG");
  const int count = reformatSliceCount(volume, output);
  EXPECT_EQ(count, 24);  // floor(47 / 2) + 1
  const auto plans = planSeries("", 9005, output.reformatDescription(), count);
  const auto written = writeReformatSeries(volume, output, identity, plans, EquipmentInfo{}, dir / "out");
  ASSERT_EQ(written.size(), size_t(count));
  for (int i : {0, count - 1}) {
    EXPECT_EQ(written[size_t(i)].sop_instance_uid, plans[size_t(i)].sop_instance_uid);
    EXPECT_EQ(tag(written[size_t(i)].path, DCM_InstanceNumber), std::to_string(i + 1));
  }
  const auto& first = written.front().path;
  EXPECT_EQ(tag(first, DCM_SeriesDescription), "COR 3mm LUNG");
  EXPECT_EQ(tag(first, DCM_WindowCenter), "-600");
  EXPECT_EQ(tag(first, DCM_WindowWidth), "1500");
  EXPECT_EQ(tag(first, DCM_WindowCenterWidthExplanation), "LUNG");
  EXPECT_EQ(tag(first, DCM_SpacingBetweenSlices), "2");
  EXPECT_EQ(tag(first, DCM_SliceThickness), "3");
  EXPECT_EQ(reformatSliceKey(output, 3), "reformat:coronal-average-3-2-LUNG:3");

  // Plans that do not match the volume any more are an internal error, not wrong files.
  EXPECT_THROW(writeReformatSeries(volume, output, identity, planSeries("", 9006, "x", count - 1), EquipmentInfo{},
                                   dir / "out2"),
               Error);
}

TEST(ReformatOutputs, VolumesThatCannotBeReformattedGiveNoSlicesInsteadOfAFailedJob) {
  Volume v;
  v.dimensions = {8, 8, 8};
  v.voxels.assign(v.voxelCount(), 0);
  v.frame_of_reference_uid = "1.2.3";
  v.modality = "US";
  EXPECT_EQ(reformatSliceCount(v, coronal(3, 3)), 0);  // no derived image class
  v.modality = "CT";
  EXPECT_GT(reformatSliceCount(v, coronal(3, 3)), 0);
  v.frame_of_reference_uid.clear();
  EXPECT_EQ(reformatSliceCount(v, coronal(3, 3)), 0);  // cannot be placed
  v.frame_of_reference_uid = "1.2.3";
  v.dimensions = {8, 5000, 8};
  v.voxels.assign(v.voxelCount(), 0);
  EXPECT_EQ(reformatSliceCount(v, coronal(1, 0.5)), 0);  // more slices than a reformat may have
}

}  // namespace
}  // namespace volnode
