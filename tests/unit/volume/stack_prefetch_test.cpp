// Slices decoded while a series arrives: the volume assembled from them (and the files
// not decoded ahead) is exactly what assembly alone gives, whatever order they came in,
// and slices of no use (resampled stacks, padding, another series) change nothing. The
// headers read ahead are what the route's scan and the assembly use.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>

#include "prefetched_slices.hpp"
#include "support/process.hpp"
#include "support/synthetic_series.hpp"
#include "volnode/volume/assembly.hpp"
#include "volnode/volume/stack_prefetch.hpp"

namespace volnode {
namespace {

test::SyntheticSeries ramp() {
  test::SyntheticSeries s;
  s.rows = 48;
  s.cols = 40;
  s.slices = 36;
  s.slice_spacing = 1.5;
  s.rescale_intercept = -1024;
  s.signed_pixels = false;
  s.value = [](const test::Vec3& p) { return 3 * p[0] - 2 * p[1] + 7 * p[2] + 100 * std::sin(p[0] * p[2] * 0.01); };
  return s;
}

Volume assembled(const std::vector<std::filesystem::path>& files, StackPrefetch* prefetch) {
  AssemblyOptions options;
  options.prefetched = prefetch;
  auto assembly = assembleSeries(files, options);
  EXPECT_EQ(assembly.renderable().size(), 1u) << assembly.reason;
  return assembly.renderable().empty() ? Volume{} : *assembly.renderable().front()->volume;
}

std::vector<std::filesystem::path> shuffled(std::vector<std::filesystem::path> files, unsigned seed) {
  std::shuffle(files.begin(), files.end(), std::mt19937(seed));
  return files;
}

void expectSameVolume(const Volume& a, const Volume& b) {
  EXPECT_EQ(a.dimensions, b.dimensions);
  EXPECT_EQ(a.origin, b.origin);
  EXPECT_EQ(a.spacing, b.spacing);
  EXPECT_EQ(a.direction, b.direction);
  EXPECT_TRUE(a.voxels == b.voxels) << "voxels differ";
}

TEST(StackPrefetch, SlicesDecodedAheadInAnyOrderGiveExactlyTheVolumeAssemblyGives) {
  test::TempDir dir("volnode-prefetch");
  const auto series = test::writeSyntheticSeries(ramp(), dir / "series");
  const Volume reference = assembled(series.files, nullptr);
  ASSERT_EQ(reference.dimensions[2], 36);

  for (const size_t ahead : {size_t(36), size_t(20), size_t(1)}) {
    SCOPED_TRACE(ahead);
    StackPrefetch prefetch(uint64_t(1) << 30);
    prefetch.follow(series.series_instance_uid);
    const auto arrival = shuffled(series.files, unsigned(ahead));
    const std::vector<std::filesystem::path> arrived(arrival.begin(), arrival.begin() + ptrdiff_t(ahead));
    EXPECT_EQ(prefetch.add(arrived, 8), 8u < ahead ? 8u : ahead) << "at most the budget a call";
    while (prefetch.add(arrived, 8) > 0) {
    }
    EXPECT_EQ(prefetch.slices(), ahead);
    EXPECT_EQ(prefetch.bytes(), ahead * 48 * 40 * sizeof(int16_t));
    expectSameVolume(assembled(series.files, &prefetch), reference);
    EXPECT_EQ(prefetch.slices(), 0u) << "handed over";
  }
}

TEST(StackPrefetch, SlicesOfNoUseChangeNothingAndAreReleased) {
  test::TempDir dir("volnode-prefetch-no-use");
  // A gantry-tilted stack is resampled: the slices decoded ahead cannot go straight in.
  auto tilted = ramp();
  tilted.orientation = test::tiltedAxial(15);
  tilted.stack_direction = test::Vec3{0, 0, 1};
  const auto tilted_series = test::writeSyntheticSeries(tilted, dir / "tilted");
  const Volume tilted_reference = assembled(tilted_series.files, nullptr);
  StackPrefetch prefetch(uint64_t(1) << 30);
  prefetch.follow(tilted_series.series_instance_uid);
  prefetch.add(tilted_series.files, 100);
  EXPECT_EQ(prefetch.slices(), 36u);
  expectSameVolume(assembled(tilted_series.files, &prefetch), tilted_reference);
  EXPECT_EQ(prefetch.slices(), 0u) << "released all the same";

  // Padding values are the series' fill: such files are left to assembly.
  auto padded = ramp();
  padded.pixel_padding_value = 0;
  const auto padded_series = test::writeSyntheticSeries(padded, dir / "padded");
  prefetch.follow(padded_series.series_instance_uid);
  prefetch.add(padded_series.files, 100);
  EXPECT_EQ(prefetch.slices(), 0u);
  expectSameVolume(assembled(padded_series.files, &prefetch), assembled(padded_series.files, nullptr));

  // Another series' files are not decoded, and its slices are not taken by this one.
  const auto other = test::writeSyntheticSeries(ramp(), dir / "other");
  prefetch.follow(other.series_instance_uid);
  prefetch.add(tilted_series.files, 100);
  EXPECT_EQ(prefetch.slices(), 0u) << "files of another series";
  prefetch.add(other.files, 100);
  EXPECT_EQ(prefetch.slices(), 36u);
  expectSameVolume(assembled(tilted_series.files, &prefetch), tilted_reference);
  EXPECT_EQ(prefetch.slices(), 36u) << "left for its own series";
  prefetch.clear();
  EXPECT_EQ(prefetch.bytes(), 0u);
}

TEST(StackPrefetch, HeadersReadAheadAreNotReadAgainByTheScanOrTheAssembly) {
  test::TempDir dir("volnode-prefetch-headers");
  const auto series = test::writeSyntheticSeries(ramp(), dir / "series");
  const Volume reference = assembled(series.files, nullptr);
  StackPrefetch prefetch(uint64_t(1) << 30);
  prefetch.follow(series.series_instance_uid);
  const auto arrival = shuffled(series.files, 3);
  const std::vector<std::filesystem::path> arrived(arrival.begin(), arrival.begin() + 30);
  prefetch.add(arrived, 100);
  ASSERT_EQ(prefetch.slices(), 30u);
  // Emptied files: whatever reads them again finds no DICOM there (6 slices, not 36).
  for (const auto& file : arrived) std::filesystem::resize_file(file, 0);
  AssemblyOptions headers_only;
  headers_only.prefetched = &prefetch;
  const auto scan = scanSeries(series.files, headers_only);
  ASSERT_EQ(scan.renderable().size(), 1u) << scan.reason;
  EXPECT_EQ(scan.renderable().front()->source_frames, 36u);
  EXPECT_EQ(scan.skipped_files, 0u);
  EXPECT_EQ(prefetch.slices(), 30u) << "the scan leaves the slices to the assembly";
  expectSameVolume(assembled(series.files, &prefetch), reference);
  EXPECT_EQ(scanSeries(series.files).instances, 6u) << "read again, 30 of the files are gone";
}

TEST(StackPrefetch, TheBufferIsNotCopiedAsTheSeriesArrives) {
  // A copy of the slices held so far, each time the buffer grew, came just as a long
  // series completed and held up its render by a second.
  test::TempDir dir("volnode-prefetch-no-copy");
  const auto series = test::writeSyntheticSeries(ramp(), dir / "series");
  StackPrefetch prefetch(uint64_t(1) << 30);
  prefetch.follow(series.series_instance_uid);
  ASSERT_EQ(prefetch.add(series.files, 1), 1u);
  const int16_t* first = prefetch.held().voxels.data();
  while (prefetch.add(series.files, 1) > 0) EXPECT_EQ(prefetch.held().voxels.data(), first) << prefetch.slices();
  EXPECT_EQ(prefetch.slices(), 36u);
}

TEST(StackPrefetch, StopsAtItsMemoryLimitAndAssemblyDecodesTheRest) {
  test::TempDir dir("volnode-prefetch-limit");
  const auto series = test::writeSyntheticSeries(ramp(), dir / "series");
  const uint64_t slice_bytes = 48 * 40 * sizeof(int16_t);
  StackPrefetch prefetch(10 * slice_bytes);
  prefetch.follow(series.series_instance_uid);
  prefetch.add(shuffled(series.files, 7), 100);
  EXPECT_EQ(prefetch.slices(), 10u);
  EXPECT_TRUE(prefetch.full());
  expectSameVolume(assembled(series.files, &prefetch), assembled(series.files, nullptr));
}

}  // namespace
}  // namespace volnode
