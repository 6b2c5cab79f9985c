// A rule's "reformat" outputs on a real volume: slice counts for planning, the series
// written with the planned UIDs, and the cases that give no reformat instead of a failed job.
#include <gtest/gtest.h>

#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcfilefo.h>

#include <algorithm>
#include <map>
#include <set>

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

// The SOP Instance UIDs a file lists in a sequence's items (SourceImageSequence, or the
// ReferencedInstanceSequence of ReferencedSeriesSequence's first item).
std::vector<std::string> listedSources(const std::filesystem::path& file, const DcmTagKey& sequence) {
  DcmFileFormat f;
  EXPECT_TRUE(f.loadFile(file.c_str()).good());
  DcmItem* holder = f.getDataset();
  DcmTagKey items = sequence;
  if (sequence == DCM_ReferencedSeriesSequence) {
    DcmItem* series = nullptr;
    if (holder->findAndGetSequenceItem(DCM_ReferencedSeriesSequence, series, 0).bad()) return {};
    holder = series;
    items = DCM_ReferencedInstanceSequence;
  }
  std::vector<std::string> uids;
  DcmItem* item = nullptr;
  for (int i = 0; holder->findAndGetSequenceItem(items, item, i).good(); ++i) {
    OFString uid;
    item->findAndGetOFString(DCM_ReferencedSOPInstanceUID, uid);
    uids.push_back(uid.c_str());
  }
  return uids;
}

TEST(ReformatOutputs, EachSliceListsTheSourceImagesItsSlabReadsAndLongListsAreLeftToTheSeriesReference) {
  test::TempDir dir("volnode-reformat-sources");
  test::SyntheticSeries s;
  s.rows = s.cols = 24;
  s.slices = 30;
  s.slice_spacing = 2;
  s.origin = {-12, -12, 40};
  s.stack_direction = test::Vec3{0, 0, -1};  // acquired head to feet, files given shuffled
  s.instance_order = test::InstanceOrder::Shuffled;
  const auto source = test::writeSyntheticSeries(s, dir / "src");
  std::map<std::string, double> z_of;
  for (size_t k = 0; k < source.files.size(); ++k) z_of[tag(source.files[k], DCM_SOPInstanceUID)] = source.positions[k][2];
  auto shuffled = source.files;
  std::reverse(shuffled.begin(), shuffled.end());
  std::swap(shuffled[3], shuffled[17]);
  auto assembly = assembleSeries(shuffled);
  ASSERT_EQ(assembly.renderable().size(), 1u);
  const VolumeCandidate& candidate = *assembly.renderable().front();
  const Volume& volume = *candidate.volume;
  const OutputIdentity identity = readOutputIdentity(candidate.files);  // as the render job reads it

  // Axial 6 mm slabs every 6 mm: each slice lists the source slices within one slice
  // spacing (2 mm) of its slab, every source inside the slab among them.
  RuleOutput axial = coronal(6, 6);
  axial.reformat.plane = "axial";
  const int count = reformatSliceCount(volume, axial);
  ASSERT_GT(count, 5);
  const auto written = writeReformatSeries(volume, axial, identity, planSeries("", 9010, "AX", count), EquipmentInfo{},
                                           dir / "axial", 100);
  for (const auto& slice : written) {
    const double z = std::stod(tag(slice.path, DCM_SliceLocation));
    const auto listed = listedSources(slice.path, DCM_SourceImageSequence);
    EXPECT_EQ(listedSources(slice.path, DCM_ReferencedSeriesSequence), listed);
    std::set<std::string> listed_set(listed.begin(), listed.end());
    EXPECT_EQ(listed_set.size(), listed.size()) << "each source once";
    for (const auto& uid : listed) {
      ASSERT_TRUE(z_of.count(uid)) << uid;
      EXPECT_LE(std::abs(z_of[uid] - z), 3 + 2 + 1e-6) << "slab at " << z << " lists the source at " << z_of[uid];
    }
    for (const auto& [uid, source_z] : z_of) {
      if (std::abs(source_z - z) < 3 - 1e-6) {
        EXPECT_TRUE(listed_set.count(uid)) << "slab at " << z << " misses " << source_z;
      }
    }
    EXPECT_LE(listed.size(), 6u);
  }
  // Every slice names the source series as a whole.
  DcmFileFormat f;
  ASSERT_TRUE(f.loadFile(written.front().path.c_str()).good());
  DcmItem* related = nullptr;
  ASSERT_TRUE(f.getDataset()->findAndGetSequenceItem(DCM_RelatedSeriesSequence, related, 0).good());
  OFString series_uid, study_uid;
  related->findAndGetOFString(DCM_SeriesInstanceUID, series_uid);
  related->findAndGetOFString(DCM_StudyInstanceUID, study_uid);
  EXPECT_EQ(series_uid.c_str(), source.series_instance_uid);
  EXPECT_EQ(study_uid.c_str(), source.study_instance_uid);

  // A coronal slice reads every source slice: all 30 listed when the limit allows, none
  // (the series reference only) when it does not.
  const RuleOutput cor = coronal(3, 3);
  const int cor_count = reformatSliceCount(volume, cor);
  const auto all = writeReformatSeries(volume, cor, identity, planSeries("", 9011, "COR", cor_count), EquipmentInfo{},
                                       dir / "cor-all", 30);
  EXPECT_EQ(listedSources(all[size_t(cor_count / 2)].path, DCM_SourceImageSequence).size(), 30u);
  const auto none = writeReformatSeries(volume, cor, identity, planSeries("", 9012, "COR", cor_count), EquipmentInfo{},
                                        dir / "cor-none", 29);
  for (const auto& slice : none) {
    EXPECT_TRUE(listedSources(slice.path, DCM_SourceImageSequence).empty());
    EXPECT_TRUE(listedSources(slice.path, DCM_ReferencedSeriesSequence).empty());
    DcmFileFormat g;
    ASSERT_TRUE(g.loadFile(slice.path.c_str()).good());
    EXPECT_TRUE(g.getDataset()->tagExists(DCM_RelatedSeriesSequence));
  }
}

}  // namespace
}  // namespace volnode
