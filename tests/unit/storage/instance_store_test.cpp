#include <gtest/gtest.h>

#include <fstream>

#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcfilefo.h>
#include <dcmtk/dcmdata/dcuid.h>

#include "support/dicom_files.hpp"
#include "backends.hpp"
#include "support/process.hpp"
#include "support/suite_index_location.hpp"
#include "support/synthetic_series.hpp"
#include "volnode/storage/instance_store.hpp"
#include "volnode/storage/reconciliation.hpp"

using namespace volnode;
using namespace volnode::test;

namespace {

struct StoreFixture {
  explicit StoreFixture(Backend backend = Backend::Sqlite) : location(test::freshIndex(backend, dir.path())) {}
  TempDir dir;
  IndexLocation location;
  Index index{location};
  FileStore files{dir / "store", true, index};
  StorageConfig config{(dir / "store").string(), 0, true};
  InstanceStore store{config, index, files};

  // Copies a source file into a fresh reservation, as the SCP would write it.
  Reservation received(const std::filesystem::path& source) {
    auto reservation = store.reserve();
    std::filesystem::copy_file(source, reservation.path, std::filesystem::copy_options::overwrite_existing);
    return reservation;
  }
};

WrittenSeries smallSeries(const std::filesystem::path& dir, int slices = 3) {
  SyntheticSeries s;
  s.rows = s.cols = 8;
  s.slices = slices;
  return writeSyntheticSeries(s, dir);
}

// The same instance (same SOP Instance UID) with other content.
std::filesystem::path alteredCopy(const std::filesystem::path& file, const std::filesystem::path& dir) {
  DcmFileFormat format;
  EXPECT_TRUE(format.loadFile(file.c_str()).good());
  format.getDataset()->putAndInsertString(DCM_PatientName, "Changed^Content");
  auto out = dir / "altered.dcm";
  EXPECT_TRUE(format.saveFile(out.c_str()).good());
  return out;
}

class InstanceStoreTest : public ::testing::TestWithParam<Backend> {};

}  // namespace

TEST_P(InstanceStoreTest, KeptInstanceIsPublishedAndIndexedUnderANodeChosenName) {
  StoreFixture f{GetParam()};
  TempDir source;
  auto series = smallSeries(source.path());
  std::string uid = sopInstanceUid(series.files[0]);
  auto reservation = f.received(series.files[0]);
  auto result = f.store.keep(reservation, UID_CTImageStorage, uid, std::nullopt);
  ASSERT_EQ(result.outcome, KeepOutcome::Stored) << result.reason;
  EXPECT_EQ(result.series_uid, series.series_instance_uid);
  auto stored = f.files.absolute(reservation.relative_path);
  EXPECT_TRUE(std::filesystem::exists(stored));
  EXPECT_EQ(datasetBytes(stored), datasetBytes(series.files[0]));
  EXPECT_EQ(stored.string().find(uid), std::string::npos);
  EXPECT_EQ(f.index.counts().instances, 1);
  // The slot now holds an instance: a restart's reconciliation must leave it alone.
  for (const auto& slot : f.index.slots()) EXPECT_NE(slot, reservation.relative_path);
  auto report = reconcileStore(f.index, f.files, f.store);
  EXPECT_TRUE(std::filesystem::exists(stored));
  EXPECT_EQ(report.indexed, 0);
  EXPECT_EQ(f.index.counts().instances, 1);
}

TEST_P(InstanceStoreTest, IdenticalResendIsANoOp) {
  StoreFixture f{GetParam()};
  TempDir source;
  auto series = smallSeries(source.path());
  std::string uid = sopInstanceUid(series.files[0]);
  ASSERT_EQ(f.store.keep(f.received(series.files[0]), UID_CTImageStorage, uid, std::nullopt).outcome, KeepOutcome::Stored);
  auto again = f.received(series.files[0]);
  EXPECT_EQ(f.store.keep(again, UID_CTImageStorage, uid, std::nullopt).outcome, KeepOutcome::Duplicate);
  EXPECT_EQ(f.index.counts().instances, 1);
  EXPECT_FALSE(std::filesystem::exists(again.path));
}

TEST_P(InstanceStoreTest, DifferentContentUnderTheSameUidKeepsBothAsConflict) {
  StoreFixture f{GetParam()};
  TempDir source;
  auto series = smallSeries(source.path());
  std::string uid = sopInstanceUid(series.files[0]);
  ASSERT_EQ(f.store.keep(f.received(series.files[0]), UID_CTImageStorage, uid, std::nullopt).outcome, KeepOutcome::Stored);
  auto altered = alteredCopy(series.files[0], source.path());
  EXPECT_EQ(f.store.keep(f.received(altered), UID_CTImageStorage, uid, std::nullopt).outcome, KeepOutcome::StoredConflict);
  EXPECT_EQ(f.index.counts().instances, 2);
  auto files = f.index.seriesFiles(series.series_instance_uid);
  ASSERT_EQ(files.size(), 2u);
  EXPECT_TRUE(files[0].conflict);
  EXPECT_TRUE(files[1].conflict);
}

// A data set that starts with a group 0002 element whose explicit-VR reading has a
// 32-bit length of 0xFFFFFFF4: the duplicate check's walk over the File Meta
// Information used to add 12 + length in 32 bits (= 0) and never end, holding the
// storing thread (and the sender's association) forever.
TEST_P(InstanceStoreTest, ResendWithAHostileGroup2ElementInItsDataSetIsAConflictNotAHang) {
  StoreFixture f{GetParam()};
  TempDir source;
  SyntheticSeries s;
  s.rows = s.cols = 8;
  s.slices = 1;
  s.transfer_syntax = SyntheticTransferSyntax::ImplicitLittle;
  auto series = writeSyntheticSeries(s, source.path());
  std::string uid = sopInstanceUid(series.files[0]);
  ASSERT_EQ(f.store.keep(f.received(series.files[0]), UID_CTImageStorage, uid, std::nullopt).outcome, KeepOutcome::Stored);

  auto hostile = source.path() / "hostile.dcm";
  insertAtDatasetStart(series.files[0], implicitGroup2ElementWithHugeExplicitLength(), hostile);
  ASSERT_EQ(sopInstanceUid(hostile), uid) << "DCMTK must still read the instance for the duplicate check to run";
  auto result = f.store.keep(f.received(hostile), UID_CTImageStorage, uid, std::nullopt);
  EXPECT_EQ(result.outcome, KeepOutcome::StoredConflict) << result.reason;
  EXPECT_EQ(f.index.counts().instances, 2);
}

TEST_P(InstanceStoreTest, MismatchedCommandUidOrGarbageIsRefusedAndNothingKept) {
  StoreFixture f{GetParam()};
  TempDir source;
  auto series = smallSeries(source.path());
  auto mismatch = f.received(series.files[0]);
  auto result = f.store.keep(mismatch, UID_CTImageStorage, "1.2.3.4", std::nullopt);
  EXPECT_EQ(result.outcome, KeepOutcome::Invalid);
  EXPECT_FALSE(std::filesystem::exists(mismatch.path));
  std::ofstream(source / "garbage.dcm") << "not DICOM at all";
  auto garbage = f.received(source / "garbage.dcm");
  EXPECT_EQ(f.store.keep(garbage, UID_CTImageStorage, "1.2.3.4", std::nullopt).outcome, KeepOutcome::Invalid);
  EXPECT_EQ(f.index.counts().instances, 0);
  EXPECT_FALSE(std::filesystem::exists(garbage.path));
}

TEST(InstanceStore, BelowWatermarkHasNoSpaceWithReason) {
  TempDir dir;
  Index index(suiteIndexLocation(dir.path()));
  FileStore files(dir / "store", false, index);
  StorageConfig config;
  config.min_free_mb = 1ULL << 40;
  InstanceStore store(config, index, files);
  std::string why;
  EXPECT_FALSE(store.hasSpace(&why));
  EXPECT_NE(why.find("below storage.min_free_mb"), std::string::npos);
  config.min_free_mb = 0;
  EXPECT_TRUE(InstanceStore(config, index, files).hasSpace());
}

TEST(FileStore, NamesAreShardedUuidsNeverFromData) {
  TempDir dir;
  Index index(suiteIndexLocation(dir.path()));
  FileStore files(dir / "store", false, index);
  auto r = files.reserve();
  EXPECT_EQ(r.relative_path.size(), 2 + 1 + 2 + 1 + 36 + 4);
  EXPECT_TRUE(std::filesystem::exists(r.path));
  EXPECT_EQ(std::filesystem::file_size(r.path), 0u);
}

VOLNODE_ON_BOTH_BACKENDS(InstanceStoreTest);
