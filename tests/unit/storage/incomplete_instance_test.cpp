// An instance cut off anywhere is never kept: not at ingest (a transfer that broke
// off) and not at start-up (a slot the node was writing when it died), since the
// start-up reconciliation deletes exactly the files keep() would refuse.
// DCMTK's header parse stops at Pixel Data and its full parse misses a file that
// ends right after an undefined-length element's header, hence every cut below.
#include <gtest/gtest.h>

#include <fstream>

#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcfilefo.h>
#include <dcmtk/dcmdata/dcitem.h>
#include <dcmtk/dcmdata/dcsequen.h>
#include <dcmtk/dcmdata/dcuid.h>

#include "support/dicom_files.hpp"
#include "support/process.hpp"
#include "support/suite_index_location.hpp"
#include "support/synthetic_series.hpp"
#include "volnode/storage/instance_store.hpp"
#include "volnode/core/files.hpp"

using namespace volnode;
using namespace volnode::test;

namespace {

struct Store {
  TempDir dir;
  Index index{suiteIndexLocation(dir.path())};
  FileStore files{dir / "store", false, index};
  StorageConfig config{(dir / "store").string(), 0, false};
  InstanceStore store{config, index, files};

  KeepResult keepBytes(const std::string& bytes) {
    auto slot = store.reserve();
    std::ofstream(slot.path, std::ios::binary | std::ios::trunc) << bytes;
    return store.keep(slot, "", "", std::nullopt);
  }
};


bool kept(const KeepResult& r) { return r.outcome == KeepOutcome::Stored || r.outcome == KeepOutcome::StoredConflict; }

// Keeps every prefix of `whole` cut at `cuts`; returns the cuts that were kept.
std::vector<size_t> keptCuts(Store& s, const std::string& whole, const std::vector<size_t>& cuts) {
  std::vector<size_t> wrongly_kept;
  for (size_t cut : cuts)
    if (kept(s.keepBytes(whole.substr(0, cut)))) wrongly_kept.push_back(cut);
  return wrongly_kept;
}

std::vector<size_t> everyCut(size_t from, size_t to) {
  std::vector<size_t> cuts;
  for (size_t c = from; c < to; ++c) cuts.push_back(c);
  return cuts;
}

}  // namespace

TEST(IncompleteInstance, EveryCutOfAnImageIsRefusedInEachTransferSyntax) {
  for (auto syntax : {SyntheticTransferSyntax::ExplicitLittle, SyntheticTransferSyntax::ImplicitLittle,
                      SyntheticTransferSyntax::ExplicitBig}) {
    SCOPED_TRACE(static_cast<int>(syntax));
    Store s;
    TempDir source;
    SyntheticSeries series;
    series.rows = series.cols = 8;
    series.slices = 1;
    series.transfer_syntax = syntax;
    const std::string whole = volnode::readFile(writeSyntheticSeries(series, source.path()).files[0]);
    EXPECT_EQ(keptCuts(s, whole, everyCut(0, whole.size())), std::vector<size_t>{});
    auto result = s.keepBytes(whole);
    EXPECT_EQ(result.outcome, KeepOutcome::Stored) << result.reason;
    EXPECT_EQ(s.index.counts().instances, 1);
  }
}

// Encapsulated Pixel Data (RLE): a pixel sequence of undefined length whose items
// are the offset table and the fragments, closed by a sequence delimiter.
TEST(IncompleteInstance, EveryCutInsideAnEncapsulatedPixelSequenceIsRefused) {
  const auto file = std::filesystem::path(VOLNODE_SHARED_DATA) / "ct-chest-transfer-syntaxes" / "rle" / "1-01.dcm";
  if (!std::filesystem::exists(file)) GTEST_SKIP() << "no test data at " << file;
  Store s;
  const std::string whole = volnode::readFile(file);
  const size_t pixel_data = whole.rfind(std::string("\xE0\x7F\x10\x00OB", 6));
  ASSERT_NE(pixel_data, std::string::npos);
  // Byte by byte through the pixel data header, the offset table and the first
  // fragment's header, then around the end; every 997th byte in between.
  std::vector<size_t> cuts = everyCut(pixel_data, pixel_data + 48);
  for (size_t c = pixel_data + 48; c < whole.size() - 24; c += 997) cuts.push_back(c);
  for (size_t c = whole.size() - 24; c < whole.size(); ++c) cuts.push_back(c);
  EXPECT_EQ(keptCuts(s, whole, cuts), std::vector<size_t>{});
  auto result = s.keepBytes(whole);
  EXPECT_EQ(result.outcome, KeepOutcome::Stored) << result.reason;
}

// A non-image object ending in nested sequences of undefined length: no Pixel Data
// rule helps here, only the delimiters tell that the object is whole.
TEST(IncompleteInstance, EveryCutInsideTrailingUndefinedLengthSequencesIsRefused) {
  Store s;
  TempDir source;
  SyntheticSeries series;
  series.rows = series.cols = 8;
  series.slices = 1;
  auto image = writeSyntheticSeries(series, source.path()).files[0];
  DcmFileFormat format;
  ASSERT_TRUE(format.loadFile(image.c_str()).good());
  DcmDataset& ds = *format.getDataset();
  for (const auto& tag : {DCM_PixelData, DCM_Rows, DCM_Columns, DCM_BitsAllocated}) delete ds.remove(tag);
  ds.putAndInsertString(DCM_SOPClassUID, UID_BasicTextSRStorage);
  ds.putAndInsertString(DCM_Modality, "SR");
  auto* outer = new DcmSequenceOfItems(DCM_ContentSequence);
  for (int i = 0; i < 2; ++i) {
    auto* item = new DcmItem();
    item->putAndInsertString(DCM_ValueType, "CONTAINER");
    auto* inner = new DcmSequenceOfItems(DCM_ContentSequence);
    auto* leaf = new DcmItem();
    leaf->putAndInsertString(DCM_ValueType, "TEXT");
    leaf->putAndInsertString(DCM_TextValue, "a finding");
    inner->append(leaf);
    item->insert(inner);
    outer->append(item);
  }
  ASSERT_TRUE(ds.insert(outer).good());
  auto out = source / "nested.dcm";
  ASSERT_TRUE(format.saveFile(out.c_str(), EXS_LittleEndianExplicit, EET_UndefinedLength).good());
  const std::string whole = volnode::readFile(out);
  const size_t sequence = whole.rfind(std::string("\x40\x00\x30\xA7SQ", 6));
  ASSERT_NE(sequence, std::string::npos);
  ASSERT_EQ(whole.substr(whole.size() - 8), std::string("\xFE\xFF\xDD\xE0\x00\x00\x00\x00", 8));
  // From the first byte of the sequence on (a cut exactly before it leaves a whole, smaller object).
  EXPECT_EQ(keptCuts(s, whole, everyCut(sequence + 1, whole.size())), std::vector<size_t>{});
  auto result = s.keepBytes(whole);
  EXPECT_EQ(result.outcome, KeepOutcome::Stored) << result.reason;
}
