// The slot writer: a received data set, preceded by the File Meta Information the
// listener writes, makes a Part-10 file that DCMTK reads back, with the data set's
// bytes exactly as they were received; a failed write is reported, never thrown.
#include "slot_writer.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcfilefo.h>
#include <dcmtk/dcmdata/dcmetinf.h>
#include <dcmtk/dcmdata/dcuid.h>

#include "support/dicom_files.hpp"
#include "support/process.hpp"
#include "volnode/core/files.hpp"

using namespace volnode;
using namespace volnode::test;

namespace {

const std::filesystem::path kCtSlice = "ct-chest-transfer-syntaxes/implicit_le/1-01.dcm";

// The slot file exists before the writer opens it (the sink creates it).
std::filesystem::path emptySlot(const TempDir& dir, const std::string& name) {
  auto path = dir / name;
  std::ofstream(path, std::ios::binary).put('x');  // something O_TRUNC must remove
  return path;
}

std::string metaString(DcmFileFormat& file, const DcmTagKey& tag) {
  OFString value;
  file.getMetaInfo()->findAndGetOFString(tag, value);
  return value.c_str();
}

// Writes `bytes` in pieces of the given sizes, cycling: small ones are buffered,
// big ones (a network fragment) go straight to the file.
void writeInPieces(SlotWriter& writer, const std::string& bytes, const std::vector<size_t>& sizes) {
  size_t at = 0;
  for (size_t i = 0; at < bytes.size(); ++i) {
    const size_t n = std::min(sizes[i % sizes.size()], bytes.size() - at);
    ASSERT_EQ(writer.write(bytes.data() + at, static_cast<offile_off_t>(n)), static_cast<offile_off_t>(n));
    at += n;
  }
}

}  // namespace

TEST(SlotWriter, WritesAPart10FileWithTheMetaHeaderOfTheRequestAndTheDatasetAsReceived) {
  const auto source = sharedData() / kCtSlice;
  ASSERT_TRUE(std::filesystem::exists(source)) << source;
  DcmFileFormat original;
  ASSERT_TRUE(original.loadFile(source.c_str()).good());
  OFString sop_class, sop_instance;
  original.getDataset()->findAndGetOFString(DCM_SOPClassUID, sop_class);
  original.getDataset()->findAndGetOFString(DCM_SOPInstanceUID, sop_instance);
  const std::string received = datasetBytes(source);  // what a sender puts on the wire
  ASSERT_GT(received.size(), 100000u);

  TempDir dir;
  const auto slot = emptySlot(dir, "slot.dcm");
  std::vector<char> buffer(16 * 1024);
  {
    SlotWriter writer(buffer);
    ASSERT_TRUE(writer.open(slot.string())) << writer.problem();
    SlotStream stream(&writer);
    ASSERT_TRUE(writeMetaHeader(stream, sop_class.c_str(), sop_instance.c_str(), UID_LittleEndianImplicitTransferSyntax,
                                "CT01")
                    .good());
    writeInPieces(writer, received, {100, 9000, 3, 16384, 7000, 20000});
    std::string problem;
    EXPECT_TRUE(writer.finish(&problem)) << problem;
  }

  const std::string bytes = readFile(slot);
  ASSERT_GT(bytes.size(), 132u);
  EXPECT_EQ(bytes.substr(0, 128), std::string(128, '\0'));
  EXPECT_EQ(bytes.substr(128, 4), "DICM");
  EXPECT_EQ(datasetBytes(slot), received) << "the data set must be stored exactly as received";

  DcmFileFormat stored;
  ASSERT_TRUE(stored.loadFile(slot.c_str()).good());
  EXPECT_EQ(metaString(stored, DCM_MediaStorageSOPClassUID), sop_class.c_str());
  EXPECT_EQ(metaString(stored, DCM_MediaStorageSOPInstanceUID), sop_instance.c_str());
  EXPECT_EQ(metaString(stored, DCM_TransferSyntaxUID), UID_LittleEndianImplicitTransferSyntax);
  EXPECT_EQ(metaString(stored, DCM_ImplementationClassUID), OFFIS_IMPLEMENTATION_CLASS_UID);
  EXPECT_EQ(metaString(stored, DCM_SourceApplicationEntityTitle), "CT01");
  EXPECT_EQ(stored.getDataset()->getOriginalXfer(), EXS_LittleEndianImplicit);
  // The group length is that of the elements that follow it, as a reader relies on.
  Uint32 group_length = 0;
  ASSERT_TRUE(stored.getMetaInfo()->findAndGetUint32(DCM_FileMetaInformationGroupLength, group_length).good());
  EXPECT_EQ(132 + 12 + group_length + received.size(), bytes.size());
  OFString stored_instance;
  stored.getDataset()->findAndGetOFString(DCM_SOPInstanceUID, stored_instance);
  EXPECT_EQ(stored_instance, sop_instance);
}

TEST(SlotWriter, AFailedWriteIsReportedAtFinishWhileTheRestIsStillTaken) {
  // /dev/full takes the open and refuses every write with ENOSPC, like a full disk.
  ASSERT_TRUE(std::filesystem::exists("/dev/full"));
  std::vector<char> buffer(16 * 1024);
  SlotWriter writer(buffer);
  ASSERT_TRUE(writer.open("/dev/full")) << writer.problem();
  const std::string data(100000, 'x');
  writeInPieces(writer, data, {10, 9000, 50000});  // every piece is taken: the stream stays in step
  std::string problem;
  EXPECT_FALSE(writer.finish(&problem));
  EXPECT_EQ(problem, std::strerror(ENOSPC));
}

TEST(SlotWriter, AMissingSlotCannotBeOpenedAndSaysWhy) {
  TempDir dir;
  std::vector<char> buffer(16 * 1024);
  SlotWriter writer(buffer);
  EXPECT_FALSE(writer.open((dir / "no-such-slot.dcm").string()));  // slots are made by the sink, never here
  EXPECT_EQ(writer.problem(), std::strerror(ENOENT));
  EXPECT_FALSE(std::filesystem::exists(dir / "no-such-slot.dcm"));
}

TEST(SlotWriter, AWriterWithoutAFileTakesAndDropsADataset) {
  std::vector<char> buffer(16 * 1024);
  SlotWriter dropper(buffer);
  const std::string data(50000, 'y');
  writeInPieces(dropper, data, {1, 10000, 333});
  dropper.write("0123456789", 10);
  EXPECT_FALSE(dropper.isFlushed());  // small pieces wait in the buffer
  std::string problem;
  EXPECT_TRUE(dropper.finish(&problem)) << problem;
  EXPECT_TRUE(dropper.isFlushed());
}

TEST(SlotWriter, AnInstanceOverItsLimitIsTakenInFullButNotWrittenOnceOver) {
  TempDir dir;
  const auto slot = emptySlot(dir, "slot.dcm");
  std::vector<char> buffer(16 * 1024);
  SlotWriter writer(buffer);
  ASSERT_TRUE(writer.open(slot.string())) << writer.problem();
  writer.limitTo(100 * 1024);
  const std::string bytes(300 * 1024, 'p');
  writeInPieces(writer, bytes, {100, 40000, 7});  // every piece taken, whatever happens to it
  EXPECT_TRUE(writer.overLimit());
  EXPECT_EQ(writer.bytesTaken(), bytes.size());
  std::string problem;
  EXPECT_TRUE(writer.finish(&problem)) << problem;
  // What arrived after the limit never reached the disk.
  EXPECT_LE(std::filesystem::file_size(slot), 100u * 1024 + 40000);

  SlotWriter within(buffer);
  ASSERT_TRUE(within.open(slot.string())) << within.problem();
  within.limitTo(bytes.size());
  writeInPieces(within, bytes, {4096});
  EXPECT_FALSE(within.overLimit());
  EXPECT_TRUE(within.finish(&problem)) << problem;
  EXPECT_EQ(std::filesystem::file_size(slot), bytes.size());
}
