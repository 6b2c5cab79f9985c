// Every read of a received file after ingest goes through the guarded reader: a slice
// nested far deeper than any real object (valid DICOM otherwise, that DCMTK parses
// when the thread has a large stack) is refused with its reason on an ordinary thread,
// where a plain DCMTK parse would overflow the stack and end the process.
#include <gtest/gtest.h>

#include <thread>

#include "support/hostile_dicom.hpp"
#include "support/synthetic_series.hpp"
#include "volnode/volume/assembly.hpp"
#include "volume_test_util.hpp"

namespace volnode {
namespace {

TEST(GuardedRead, DeeplyNestedSlicesAreSkippedByTheScanAndTheAssemblerOnOrdinaryThreads) {
  test::TempDir dir;
  const auto series = test::fourSlices(dir.path());
  for (size_t i : {size_t(1), size_t(2)})
    test::insertBeforePixelData(series.files[i], test::nestedSequences(20000));

  SeriesAssembly scan, full;
  std::thread reader([&] {
    scan = scanSeries(series.files);
    full = assembleSeries(series.files, AssemblyOptions{.min_slices = 2});
  });
  reader.join();
  EXPECT_EQ(scan.skipped_files, 2u);
  EXPECT_EQ(scan.instances, 2u);
  EXPECT_EQ(full.skipped_files, 2u);
  ASSERT_EQ(full.renderable().size(), 1u) << full.reason;
  const VolumeCandidate& v = *full.renderable().front();
  EXPECT_EQ(v.source_frames, 2u);
  ASSERT_TRUE(v.volume.has_value());
  EXPECT_EQ(v.files, (std::vector<std::filesystem::path>{series.files[0], series.files[3]}));
}

}  // namespace
}  // namespace volnode
