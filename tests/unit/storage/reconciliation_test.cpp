// Start-up reconciliation of index and store: the store is the source of truth.
// Each test leaves the store as a crash or a lost end of the write-ahead log would,
// then "restarts" (a new FileStore and InstanceStore on the same folder and index).
#include <gtest/gtest.h>

#include <fstream>

#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcfilefo.h>
#include <dcmtk/dcmdata/dcmetinf.h>
#include <dcmtk/dcmdata/dcuid.h>

#include "support/dicom_files.hpp"
#include "support/process.hpp"
#include "support/suite_index_location.hpp"
#include "support/synthetic_series.hpp"
#include "volnode/core/error.hpp"
#include "volnode/core/ids.hpp"
#include "volnode/storage/reconciliation.hpp"
#include "volnode/core/files.hpp"

using namespace volnode;
using namespace volnode::test;

namespace {

struct Node {
  explicit Node(const std::filesystem::path& dir) : dir(dir) {}
  std::filesystem::path dir;
  Index index{suiteIndexLocation(dir)};
  FileStore files{dir / "store", true, index, 8};
  StorageConfig config{(dir / "store").string(), 0, true};
  InstanceStore store{config, index, files};

  // A slot holding `bytes`, as the listener leaves it when the node dies before indexing it.
  Reservation slotWith(const std::string& bytes) {
    auto slot = files.reserve();
    std::ofstream(slot.path, std::ios::binary | std::ios::trunc) << bytes;
    return slot;
  }
  Reservation kept(const std::filesystem::path& source) {
    auto slot = slotWith(volnode::readFile(source));
    auto result = store.keep(slot, UID_CTImageStorage, sopInstanceUid(source), std::nullopt);
    EXPECT_EQ(result.outcome, KeepOutcome::Stored) << result.reason;
    return slot;
  }
  // A file at a name of the node's layout that neither the index nor the ledger knows.
  std::string unknownFile(const std::string& bytes) {
    std::string relative = "fe/dc/" + newUuid() + ".dcm";
    std::filesystem::create_directories(files.absolute(relative).parent_path());
    std::ofstream(files.absolute(relative), std::ios::binary) << bytes;
    return relative;
  }
};

// The same index and store after a restart.
RecoveryReport restartAndReconcile(Node& before) {
  FileStore files(before.dir / "store", true, before.index, 8);
  InstanceStore store(before.config, before.index, files);
  return reconcileStore(before.index, files, store);
}

WrittenSeries series(const std::filesystem::path& dir, int slices = 3) {
  SyntheticSeries s;
  s.rows = s.cols = 8;
  s.slices = slices;
  return writeSyntheticSeries(s, dir);
}

// A copy of `file` whose File Meta Information names the sender, as the listener writes it.
std::filesystem::path sentBy(const std::filesystem::path& file, const std::string& aet, const std::filesystem::path& out) {
  DcmFileFormat format;
  EXPECT_TRUE(format.loadFile(file.c_str()).good());
  DcmMetaInfo& meta = *format.getMetaInfo();
  meta.putAndInsertString(DCM_SourceApplicationEntityTitle, aet.c_str());
  // Written as it is: DCMTK's usual update of the meta header would drop the element.
  meta.computeGroupLengthAndPadding(EGL_withGL, EPD_noChange, EXS_LittleEndianExplicit);
  EXPECT_TRUE(format.saveFile(out.c_str(), EXS_LittleEndianExplicit, EET_ExplicitLength, EGL_recalcGL, EPD_noChange,
                              0, 0, EWM_dontUpdateMeta)
                  .good());
  return out;
}

size_t regularFiles(const std::filesystem::path& dir) {
  size_t n = 0;
  for (const auto& e : std::filesystem::recursive_directory_iterator(dir)) n += e.is_regular_file();
  return n;
}

}  // namespace

TEST(Reconciliation, SlotHoldingAWholeInstanceIsIndexedNotDeleted) {
  TempDir dir, source;
  Node node(dir.path());
  auto written = series(source.path());
  auto instance = sentBy(written.files[0], "CT01", source / "sent.dcm");
  auto slot = node.slotWith(volnode::readFile(instance));  // written and fsync'd; the commit was lost

  auto report = restartAndReconcile(node);
  EXPECT_EQ(report.indexed, 1);
  EXPECT_EQ(report.empty_slots_removed, 7);  // the rest of the batch
  EXPECT_EQ(report.incomplete_removed, 0);
  EXPECT_TRUE(report.noteworthy());
  EXPECT_FALSE(report.needsAttention());
  ASSERT_TRUE(std::filesystem::exists(slot.path));
  EXPECT_EQ(datasetBytes(slot.path), datasetBytes(written.files[0]));
  EXPECT_TRUE(node.index.slots().empty());
  ASSERT_EQ(node.index.counts().instances, 1);
  EXPECT_EQ(node.index.instancePaths(), std::vector<std::string>{slot.relative_path});
  // Through the normal path: the series is received, to be completed, rendered and sent.
  auto s = node.index.series(written.series_instance_uid);
  ASSERT_TRUE(s.has_value());
  EXPECT_EQ(s->state, SeriesState::Receiving);
  EXPECT_EQ(s->calling_aet, "CT01");  // the sender the listener named in the file
  EXPECT_EQ(regularFiles(dir / "store"), 1u);
}

TEST(Reconciliation, EmptySlotsAreRemovedAndForgotten) {
  TempDir dir;
  Node node(dir.path());
  node.files.reserve();  // a batch of 8, none written
  ASSERT_EQ(node.index.slots().size(), 8u);
  auto report = restartAndReconcile(node);
  EXPECT_EQ(report.files, 8);
  EXPECT_EQ(report.empty_slots_removed, 8);
  EXPECT_EQ(report.indexed, 0);
  EXPECT_FALSE(report.noteworthy());  // routine after every stop
  EXPECT_TRUE(node.index.slots().empty());
  EXPECT_EQ(regularFiles(dir / "store"), 0u);
}

// Cut anywhere (inside the header, exactly where Pixel Data begins, inside its
// value, one byte short) the slot never held an acknowledged instance.
TEST(Reconciliation, CutOffSlotsAreRemovedWhereverTheCutIs) {
  TempDir dir, source;
  Node node(dir.path());
  auto written = series(source.path());
  const std::string whole = volnode::readFile(written.files[0]);
  const size_t pixel_data = whole.rfind(std::string("\xE0\x7F\x10\x00", 4));
  ASSERT_NE(pixel_data, std::string::npos);
  std::vector<size_t> cuts{300, pixel_data, pixel_data + 12, pixel_data + 40, whole.size() - 1};
  std::vector<Reservation> slots;
  for (size_t cut : cuts) slots.push_back(node.slotWith(whole.substr(0, cut)));

  auto report = restartAndReconcile(node);
  EXPECT_EQ(report.indexed, 0);
  EXPECT_EQ(report.incomplete_removed, static_cast<int64_t>(cuts.size()));
  for (const auto& slot : slots) EXPECT_FALSE(std::filesystem::exists(slot.path)) << slot.relative_path;
  EXPECT_EQ(node.index.counts().instances, 0);
  EXPECT_TRUE(node.index.slots().empty());
}

TEST(Reconciliation, FileTheIndexDoesNotKnowIsIndexed) {
  TempDir dir, source;
  Node node(dir.path());
  auto written = series(source.path(), 2);
  node.kept(written.files[0]);
  // Its slot batch and its index row were both in the lost end of the log.
  auto unknown = node.unknownFile(volnode::readFile(written.files[1]));
  auto empty = node.unknownFile("");
  std::ofstream(dir / "store" / "notes.txt") << "an operator's file";

  auto report = restartAndReconcile(node);
  EXPECT_EQ(report.indexed, 1);
  EXPECT_EQ(report.empty_slots_removed, 1 + 7);  // the unknown empty file, and the unused slots
  EXPECT_EQ(report.foreign, std::vector<std::string>{"notes.txt"});
  EXPECT_TRUE(std::filesystem::exists(node.files.absolute(unknown)));
  EXPECT_FALSE(std::filesystem::exists(node.files.absolute(empty)));
  EXPECT_TRUE(std::filesystem::exists(dir / "store" / "notes.txt"));
  auto s = node.index.series(written.series_instance_uid);
  ASSERT_TRUE(s.has_value());
  EXPECT_EQ(s->instances, 2);
}

TEST(Reconciliation, MissingFileIsReportedAndItsRowKept) {
  TempDir dir, source;
  Node node(dir.path());
  auto written = series(source.path(), 2);
  auto gone = node.kept(written.files[0]);
  node.kept(written.files[1]);
  std::filesystem::remove(gone.path);

  auto report = restartAndReconcile(node);
  EXPECT_EQ(report.missing_count, 1);
  EXPECT_EQ(report.missing, std::vector<std::string>{gone.relative_path});
  EXPECT_TRUE(report.needsAttention());
  EXPECT_NE(report.summary().find("MISSING"), std::string::npos) << report.summary();
  EXPECT_EQ(node.index.counts().instances, 2);  // kept: the file may come back from a backup
}

TEST(Reconciliation, CopyOfAnInstanceHeldIsRemoved) {
  TempDir dir, source;
  Node node(dir.path());
  auto written = series(source.path(), 1);
  auto held = node.kept(written.files[0]);
  auto copy = node.slotWith(volnode::readFile(written.files[0]));  // a re-send cut off after its fsync

  auto report = restartAndReconcile(node);
  EXPECT_EQ(report.indexed, 0);
  EXPECT_EQ(report.incomplete_removed, 1);
  EXPECT_FALSE(std::filesystem::exists(copy.path));
  EXPECT_TRUE(std::filesystem::exists(held.path));
  EXPECT_EQ(node.index.counts().instances, 1);
}

TEST(Reconciliation, LedgerSlotWithoutAFileIsForgotten) {
  TempDir dir;
  Node node(dir.path());
  node.index.addSlots({"ab/cd/" + newUuid() + ".dcm"});  // recorded, the batch never created
  auto report = restartAndReconcile(node);
  EXPECT_EQ(report.forgotten_slots, 1);
  EXPECT_TRUE(node.index.slots().empty());
}

TEST(Reconciliation, InstanceFoundForASeriesAlreadyRenderedReopensIt) {
  TempDir dir, source;
  Node node(dir.path());
  auto written = series(source.path(), 3);
  node.kept(written.files[0]);
  node.kept(written.files[1]);
  for (auto state : {SeriesState::Complete, SeriesState::Queued, SeriesState::Processing, SeriesState::Done})
    node.index.setSeriesState(written.series_instance_uid, state, "rendered");
  node.slotWith(volnode::readFile(written.files[2]));

  auto report = restartAndReconcile(node);
  EXPECT_EQ(report.indexed, 1);
  auto s = node.index.series(written.series_instance_uid);
  ASSERT_TRUE(s.has_value());
  EXPECT_EQ(s->instances, 3);
  EXPECT_EQ(s->state, SeriesState::Receiving);
  EXPECT_EQ(s->state_reason, "late instance after done");
}

// An index file deleted or emptied while the store holds instances: the node must
// not start on a new empty index.
TEST(Reconciliation, LostIndexNextToAStoreWithInstancesIsRefused) {
  VOLNODE_SKIP_ON_POSTGRESQL("empties the SQLite index file");
  TempDir dir, source;
  {
    Node node(dir.path());
    node.kept(series(source.path(), 1).files[0]);
  }
  std::filesystem::remove(dir / "index.sqlite-wal");
  std::filesystem::remove(dir / "index.sqlite-shm");
  std::filesystem::resize_file(dir / "index.sqlite", 0);
  try {
    refuseLostIndex(dir / "index.sqlite", dir / "store");
    FAIL() << "an emptied index next to a store with instances was accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("volnode reindex"), std::string::npos) << e.what();
  }
  // Only unused (empty) slots: nothing to forget, a new index is fine.
  TempDir fresh;
  {
    Node node(fresh.path());
    node.files.reserve();
  }
  std::filesystem::remove(fresh / "index.sqlite");
  std::filesystem::remove(fresh / "index.sqlite-wal");
  EXPECT_NO_THROW(refuseLostIndex(fresh / "index.sqlite", fresh / "store"));
}
