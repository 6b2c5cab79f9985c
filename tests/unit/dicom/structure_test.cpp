// The pre-scan of the guarded reader: files that break a limit are refused with a
// reason naming the problem, before DCMTK parses them; files within the limits pass.
#include <gtest/gtest.h>

#include <pthread.h>
#include <sys/resource.h>

#include <thread>

#include "dicom_test_files.hpp"
#include "support/hostile_dicom.hpp"
#include "support/process.hpp"
#include "volnode/core/error.hpp"
#include "volnode/dicom/dicom_file.hpp"
#include "volnode/dicom/limits.hpp"
#include "volnode/dicom/structure.hpp"

namespace volnode::dicom {
namespace {

using namespace volnode::test;

// What the guarded reader says about `file`: "" when it reads it, else its reason.
std::string refusalOf(const std::filesystem::path& file) {
  try {
    DicomFile::open(file);
    return "";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), Errc::InvalidDicom) << e.what();
    return e.what();
  }
}

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

// Deep enough that DCMTK's recursive parse overflows an 8 MiB thread stack (it does
// from about 6000 levels of undefined-length sequences).
constexpr int kDeepNesting = 20000;

// Runs `work` on a thread with a stack of `bytes` (the reference parse of a deep file).
template <typename Work>
void onLargeStack(size_t bytes, Work work) {
  pthread_attr_t attributes;
  pthread_attr_init(&attributes);
  pthread_attr_setstacksize(&attributes, bytes);
  pthread_t thread;
  auto trampoline = [](void* argument) -> void* {
    (*static_cast<Work*>(argument))();
    return nullptr;
  };
  ASSERT_EQ(pthread_create(&thread, &attributes, trampoline, &work), 0);
  pthread_attr_destroy(&attributes);
  pthread_join(thread, nullptr);
}

// DCMTK alone, as every stage read received files before the guarded reader.
[[maybe_unused]] void parseWithDcmtkOnAStdThread(const std::filesystem::path& file) {
  const rlimit no_core{0, 0};
  setrlimit(RLIMIT_CORE, &no_core);  // this process is expected to die
  std::thread plain([&] {
    DcmFileFormat format;
    format.loadFile(file.c_str());
  });
  plain.join();
}

TEST(GuardedReader, NestingFarBeyondTheLimitIsRefusedOnAnOrdinaryThread) {
  TempDir dir("volnode-dicom-test");
  const auto file = writeImage(dir.path());
  insertBeforePixelData(file, nestedSequences(kDeepNesting));

  // The file is valid DICOM, only deep: DCMTK reads it when the stack is large enough ...
  bool dcmtk_reads_it = false;
  onLargeStack(size_t(512) << 20, [&] {
    DcmFileFormat format;
    dcmtk_reads_it = format.loadFile(file.c_str()).good();
  });
  EXPECT_TRUE(dcmtk_reads_it);
  // ... and a plain parse on a std::thread (8 MiB of stack) ends the process. Not in
  // the sanitizer build: there the dying child's stack-overflow report would count as
  // a finding of the run (.ci/sanitizers.sh fails on every report it collects).
#if !defined(__SANITIZE_ADDRESS__)
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(parseWithDcmtkOnAStdThread(file), "");
#endif

  // The guarded reader, on a std::thread (the 8 MiB stack every worker has).
  std::string reason;
  bool refused = false;
  std::thread reader([&] {
    try {
      DicomFile::open(file);
    } catch (const Error& e) {
      refused = e.code() == Errc::InvalidDicom;
      reason = e.what();
    }
  });
  reader.join();
  EXPECT_TRUE(refused);
  EXPECT_TRUE(contains(reason, "sequences nested deeper than 64 levels")) << reason;
  EXPECT_TRUE(contains(reason, file.string())) << reason;
}

TEST(GuardedReader, NestingUpToTheLimitIsReadAndOneLevelMoreIsNot) {
  TempDir dir("volnode-dicom-test");
  const auto at_limit = writeImage(dir / "64");
  insertBeforePixelData(at_limit, nestedSequences(kMaxSequenceDepth));
  EXPECT_EQ(refusalOf(at_limit), "");
  EXPECT_EQ(checkStructure(at_limit).max_depth, kMaxSequenceDepth);
  EXPECT_EQ(checkStructure(at_limit).items, size_t(kMaxSequenceDepth));

  const auto beyond = writeImage(dir / "65");
  insertBeforePixelData(beyond, nestedSequences(kMaxSequenceDepth + 1));
  EXPECT_TRUE(contains(refusalOf(beyond), "nested deeper than 64 levels"));
}

TEST(GuardedReader, NestingIsMeasuredInEveryEncodingDcmtkWrites) {
  TempDir dir("volnode-dicom-test");
  struct Case {
    const char* name;
    E_TransferSyntax syntax;
    E_EncodingType lengths;
  };
  for (const Case& c : {Case{"implicit", EXS_LittleEndianImplicit, EET_UndefinedLength},
                        Case{"big-endian", EXS_BigEndianExplicit, EET_ExplicitLength},
                        Case{"defined-lengths", EXS_LittleEndianExplicit, EET_ExplicitLength},
                        Case{"deflated", EXS_DeflatedLittleEndianExplicit, EET_UndefinedLength}}) {
    SCOPED_TRACE(c.name);
    const auto deep = writeImage(dir / (std::string(c.name) + "-deep"));
    rewrite(deep, [](DcmDataset& d) { nest(d, kMaxSequenceDepth + 1); }, c.syntax, c.lengths);
    EXPECT_TRUE(contains(refusalOf(deep), "nested deeper than 64 levels"));

    const auto fine = writeImage(dir / (std::string(c.name) + "-fine"));
    rewrite(fine, [](DcmDataset& d) { nest(d, 3); }, c.syntax, c.lengths);
    EXPECT_EQ(refusalOf(fine), "");
    const Structure s = checkStructure(fine);
    EXPECT_EQ(s.max_depth, 3);
    EXPECT_EQ(s.transfer_syntax_uid, DcmXfer(c.syntax).getXferID());
    EXPECT_EQ(s.deflated, c.syntax == EXS_DeflatedLittleEndianExplicit);
  }
}

TEST(GuardedReader, UnknownElementOfUndefinedLengthIsWalkedAsTheImplicitSequenceDcmtkReadsIt) {
  // CP-246: an explicit VR "UN" of undefined length holds an Implicit VR sequence.
  auto implicitNest = [](int depth) {
    std::string open, close;
    for (int i = 0; i < depth; ++i) {
      open += std::string("\x08\x00\x40\x11", 4) + le32(0xFFFFFFFF) + std::string("\xFE\xFF\x00\xE0", 4) +
              le32(0xFFFFFFFF);
      close += std::string("\xFE\xFF\x0D\xE0", 4) + le32(0) + std::string("\xFE\xFF\xDD\xE0", 4) + le32(0);
    }
    return std::string("\x09\x00\x10\x00", 4) + "LO" + le16(4) + "TEST" +  // private creator
           std::string("\x09\x00\x01\x10", 4) + "UN" + std::string(2, '\0') + le32(0xFFFFFFFF) +
           std::string("\xFE\xFF\x00\xE0", 4) + le32(0xFFFFFFFF) + open + close +
           std::string("\xFE\xFF\x0D\xE0", 4) + le32(0) + std::string("\xFE\xFF\xDD\xE0", 4) + le32(0);
  };
  TempDir dir("volnode-dicom-test");
  const auto deep = writeImage(dir / "deep");
  insertBeforePixelData(deep, implicitNest(200));
  EXPECT_TRUE(contains(refusalOf(deep), "nested deeper than 64 levels"));

  const auto fine = writeImage(dir / "fine");
  insertBeforePixelData(fine, implicitNest(2));
  EXPECT_EQ(refusalOf(fine), "");
  EXPECT_EQ(checkStructure(fine).max_depth, 3);  // the UN sequence and two levels inside it
}

TEST(GuardedReader, TooManySequenceItemsAreRefused) {
  TempDir dir("volnode-dicom-test");
  const auto many = writeImage(dir / "many");
  insertBeforePixelData(many, sequenceWithItems(int(kMaxSequenceItems) + 1));
  EXPECT_TRUE(contains(refusalOf(many), "more than 50000 sequence items"));

  const auto some = writeImage(dir / "some");
  insertBeforePixelData(some, sequenceWithItems(1000));
  EXPECT_EQ(refusalOf(some), "");
  EXPECT_EQ(checkStructure(some).items, 1000u);
}

TEST(GuardedReader, AnElementLengthBeyondTheFileIsRefusedNamingTheElement) {
  TempDir dir("volnode-dicom-test");
  const auto file = writeImage(dir.path());
  // A private UN element that claims about 4 GB, just before the pixel data.
  insertBeforePixelData(file, std::string("\x29\x00\x10\x10", 4) + "UN" + std::string(2, '\0') + le32(0xFFFFFFF0));
  const std::string reason = refusalOf(file);
  EXPECT_TRUE(contains(reason, "element (0029,1010) claims 4294967280 bytes")) << reason;
  EXPECT_TRUE(contains(reason, "left in the file")) << reason;
}

TEST(GuardedReader, AFileCutInsideItsPixelDataIsRefused) {
  TempDir dir("volnode-dicom-test");
  const auto file = writeImage(dir.path());
  std::string bytes = readFileBytes(file);
  bytes.resize(pixelDataOffset(bytes) + 12 + 100);  // 100 of the 512 pixel bytes
  writeFileBytes(file, bytes);
  const std::string reason = refusalOf(file);
  EXPECT_TRUE(contains(reason, "element (7FE0,0010) claims 512 bytes, only 100 are left in the file")) << reason;
}

TEST(GuardedReader, AnItemLongerThanItsSequenceIsRefused) {
  TempDir dir("volnode-dicom-test");
  const auto file = writeImage(dir.path());
  // A sequence of 16 bytes whose one item claims 100.
  insertBeforePixelData(file, std::string("\x08\x00\x40\x11", 4) + "SQ" + std::string(2, '\0') + le32(16) +
                                  std::string("\xFE\xFF\x00\xE0", 4) + le32(100) + std::string(8, '\0'));
  const std::string reason = refusalOf(file);
  EXPECT_TRUE(contains(reason, "an item of sequence (0008,1140) claims 100 bytes, only 8 are left")) << reason;
}

TEST(GuardedReader, PixelDataShorterOrLongerThanTheImageAttributesSayIsRefused) {
  TempDir dir("volnode-dicom-test");
  const auto shorter = writeImage(dir / "shorter");
  rewrite(shorter, [](DcmDataset& d) {
    std::vector<Uint16> half(16 * 8, 0);
    d.putAndInsertUint16Array(DCM_PixelData, half.data(), unsigned(half.size()));
  });
  std::string reason = refusalOf(shorter);
  EXPECT_TRUE(contains(reason, "Pixel Data is shorter than Rows x Columns x SamplesPerPixel x BitsAllocated x "
                               "NumberOfFrames (16 x 16 x 1 x 16 x 1) say: 256 bytes instead of 512"))
      << reason;

  const auto longer = writeImage(dir / "longer");
  rewrite(longer, [](DcmDataset& d) {
    std::vector<Uint16> twice(16 * 32, 0);
    d.putAndInsertUint16Array(DCM_PixelData, twice.data(), unsigned(twice.size()));
  });
  reason = refusalOf(longer);
  EXPECT_TRUE(contains(reason, "Pixel Data is longer than")) << reason;
  EXPECT_TRUE(contains(reason, "1024 bytes instead of 512")) << reason;

  // Frames count: two frames declared, one present.
  const auto frames = writeImage(dir / "frames");
  rewrite(frames, [](DcmDataset& d) { d.putAndInsertString(DCM_NumberOfFrames, "2"); });
  reason = refusalOf(frames);
  EXPECT_TRUE(contains(reason, "(16 x 16 x 1 x 16 x 2) say: 512 bytes instead of 1024")) << reason;

  // ... and both present: read.
  const auto two = writeImage(dir / "two");
  rewrite(two, [](DcmDataset& d) {
    d.putAndInsertString(DCM_NumberOfFrames, "2");
    std::vector<Uint16> both(16 * 16 * 2, 7);
    d.putAndInsertUint16Array(DCM_PixelData, both.data(), unsigned(both.size()));
  });
  EXPECT_EQ(refusalOf(two), "");
  const Structure s = checkStructure(two);
  ASSERT_TRUE(s.pixel_data.has_value());
  EXPECT_FALSE(s.pixel_data->encapsulated);
  EXPECT_EQ(s.pixel_data->length, 1024u);
  EXPECT_EQ(s.pixel_data->decoded_bytes, 1024u);
}

TEST(GuardedReader, ImageAttributesThatMakeAbsurdPixelDataAreRefused) {
  TempDir dir("volnode-dicom-test");
  const auto huge = writeImage(dir / "huge");
  rewrite(huge, [](DcmDataset& d) {
    d.putAndInsertUint16(DCM_Rows, 65535);
    d.putAndInsertUint16(DCM_Columns, 65535);
  });
  std::string reason = refusalOf(huge);
  EXPECT_TRUE(contains(reason, "(65535 x 65535 x 1 x 16 x 1) make pixel data of 8589672450 bytes, more than the "
                               "4 GiB one file may hold"))
      << reason;

  const auto no_rows = writeImage(dir / "no-rows");
  rewrite(no_rows, [](DcmDataset& d) { delete d.remove(DCM_Rows); });
  reason = refusalOf(no_rows);
  EXPECT_TRUE(contains(reason, "Pixel Data without Rows to size it")) << reason;
}

// Replaces the pixel data by one compressed fragment of `syntax` and sets the attributes.
void makeEncapsulated(const std::filesystem::path& file, E_TransferSyntax syntax, Uint16 rows, Uint16 columns,
                      Uint16 samples, const char* frames) {
  rewrite(
      file,
      [&](DcmDataset& d) {
        d.putAndInsertUint16(DCM_Rows, rows);
        d.putAndInsertUint16(DCM_Columns, columns);
        d.putAndInsertUint16(DCM_SamplesPerPixel, samples);
        d.putAndInsertUint16(DCM_BitsAllocated, 8);
        d.putAndInsertUint16(DCM_BitsStored, 8);
        d.putAndInsertUint16(DCM_HighBit, 7);
        d.putAndInsertString(DCM_NumberOfFrames, frames);
        auto* fragments = new DcmPixelSequence(DcmTag(DCM_PixelData, EVR_OB));
        fragments->insert(new DcmPixelItem(DcmTag(DCM_Item, EVR_OB)));  // empty basic offset table
        auto* fragment = new DcmPixelItem(DcmTag(DCM_Item, EVR_OB));
        const std::vector<Uint8> stream(100, 0x5A);
        fragment->putUint8Array(stream.data(), Uint32(stream.size()));
        fragments->insert(fragment);
        auto* pixels = new DcmPixelData(DCM_PixelData);
        pixels->putOriginalRepresentation(syntax, nullptr, fragments);
        d.insert(pixels, true);
      },
      syntax, EET_ExplicitLength);
}

TEST(GuardedReader, CompressedPixelDataIsHeldToTheDecodedSizeLimitVideoExcepted) {
  TempDir dir("volnode-dicom-test");
  const auto small = writeImage(dir / "small");
  makeEncapsulated(small, EXS_JPEGProcess14SV1, 512, 512, 1, "10");
  EXPECT_EQ(refusalOf(small), "");
  const Structure s = checkStructure(small);
  ASSERT_TRUE(s.pixel_data.has_value());
  EXPECT_TRUE(s.pixel_data->encapsulated);
  EXPECT_EQ(s.pixel_data->fragments, 2u);
  EXPECT_EQ(s.pixel_data->length, 100u);
  EXPECT_EQ(s.pixel_data->decoded_bytes, 512u * 512u * 10u);

  const auto huge = writeImage(dir / "huge");  // 1920 x 1080 RGB, 3000 frames: 18.7 GB decoded
  makeEncapsulated(huge, EXS_JPEGProcess14SV1, 1080, 1920, 3, "3000");
  const std::string reason = refusalOf(huge);
  EXPECT_TRUE(contains(reason, "(1080 x 1920 x 3 x 8 x 3000) make pixel data of 18662400000 bytes")) << reason;

  const auto video = writeImage(dir / "video");  // the same as two minutes of MPEG-4: stored, never decoded
  makeEncapsulated(video, EXS_MPEG4HighProfileLevel4_1, 1080, 1920, 3, "3000");
  EXPECT_EQ(refusalOf(video), "");
}

TEST(GuardedReader, EncapsulatedPixelDataInANativeTransferSyntaxIsRefused) {
  TempDir dir("volnode-dicom-test");
  const auto file = writeImage(dir.path());
  makeEncapsulated(file, EXS_JPEGProcess14SV1, 16, 16, 1, "1");
  std::string bytes = readFileBytes(file);
  const std::string jpeg = "1.2.840.10008.1.2.4.70";
  const size_t at = bytes.find(jpeg);
  ASSERT_NE(at, std::string::npos);
  bytes.replace(at, jpeg.size(), std::string("1.2.840.10008.1.2.1\0\0\0", 22));  // same length, native
  writeFileBytes(file, bytes);
  const std::string reason = refusalOf(file);
  EXPECT_TRUE(contains(reason, "Pixel Data is encapsulated (compressed fragments) but the transfer syntax")) << reason;
}

TEST(GuardedReader, DelimitersWhereDcmtkFailsOnThemAreRefused) {
  TempDir dir("volnode-dicom-test");
  const auto item_delimiter = writeImage(dir / "item-delimiter");
  insertBeforePixelData(item_delimiter, std::string("\xFE\xFF\x0D\xE0", 4) + le32(0));
  EXPECT_TRUE(contains(refusalOf(item_delimiter), "an item delimiter outside any item"));

  const auto unclosed = writeImage(dir / "unclosed");
  std::string bytes = readFileBytes(unclosed);
  bytes.resize(pixelDataOffset(bytes));  // no pixel data: the sequence below is the last element
  bytes += std::string("\x08\x00\x40\x11", 4) + "SQ" + std::string(2, '\0') + le32(0xFFFFFFFF) +
           std::string("\xFE\xFF\x00\xE0", 4) + le32(0);
  writeFileBytes(unclosed, bytes);
  EXPECT_TRUE(contains(refusalOf(unclosed), "sequence (0008,1140) of undefined length has no sequence delimiter"));
}

TEST(GuardedReader, DatasetOffsetIsWhereDcmtkStartsTheDataSet) {
  TempDir dir("volnode-dicom-test");
  const auto file = writeImage(dir.path());
  const std::string bytes = readFileBytes(file);
  DcmFileFormat format;
  ASSERT_TRUE(format.loadFile(file.c_str()).good());
  Uint32 group_length = 0;
  ASSERT_TRUE(format.getMetaInfo()->findAndGetUint32(DCM_FileMetaInformationGroupLength, group_length).good());
  EXPECT_EQ(datasetOffset(bytes), 132u + 12u + group_length);
  EXPECT_EQ(checkStructure(file).dataset_offset, 132u + 12u + group_length);
  EXPECT_EQ(datasetOffset(bytes.substr(0, 140)), 0u);  // a meta header cut short
  EXPECT_EQ(datasetOffset("not DICOM at all"), 0u);
}

TEST(GuardedReader, AnEmptyFileIsRefused) {
  TempDir dir("volnode-dicom-test");
  writeFileBytes(dir / "empty.dcm", "");
  EXPECT_TRUE(contains(refusalOf(dir / "empty.dcm"), "the file is empty"));
  try {
    DicomFile::open(dir / "missing.dcm");
    ADD_FAILURE() << "a missing file was read";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), Errc::Io) << e.what();
  }
}

}  // namespace
}  // namespace volnode::dicom
