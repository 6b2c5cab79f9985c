// The guarded reader on the real scans in ../shared/data: none is refused, and what
// it reads is what DCMTK reads from the same file on its own.
#include <gtest/gtest.h>

#include <cstring>
#include <fstream>

#include "dicom_test_files.hpp"
#include "volnode/core/error.hpp"
#include "volnode/dicom/dicom_file.hpp"
#include "volnode/dicom/structure.hpp"
#include "volnode/dicom/tags.hpp"

namespace volnode::dicom {
namespace {

using namespace volnode::test;

bool hasPart10Preamble(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  char head[132] = {};
  in.read(head, sizeof head);
  return in.gcount() == 132 && std::memcmp(head + 128, "DICM", 4) == 0;
}

std::vector<std::filesystem::path> realDicomFiles() {
  std::vector<std::filesystem::path> files;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(sharedData()))
    if (entry.is_regular_file() && hasPart10Preamble(entry.path())) files.push_back(entry.path());
  std::sort(files.begin(), files.end());
  return files;
}

TEST(GuardedReaderOnRealData, EveryRealFilePassesTheChecks) {
  const auto files = realDicomFiles();
  ASSERT_GT(files.size(), 400u) << "the shared data are missing";
  size_t compressed = 0, multi_frame_depth = 0;
  for (const auto& file : files) {
    try {
      const Structure s = checkStructure(file);
      if (s.pixel_data && s.pixel_data->encapsulated) ++compressed;
      if (s.max_depth >= 2) ++multi_frame_depth;
      EXPECT_LE(s.max_depth, 8) << file;
    } catch (const Error& e) {
      ADD_FAILURE() << "refused: " << e.what();
    }
  }
  EXPECT_GT(compressed, 100u);      // rle, JPEG lossless, JPEG-LS, JPEG 2000
  EXPECT_GT(multi_frame_depth, 0u);  // the enhanced MR functional groups
}

// The same values through the guarded reader as through DCMTK alone.
void expectSameValuesAsDcmtk(const std::filesystem::path& file) {
  SCOPED_TRACE(file.string());
  DcmFileFormat reference;
  ASSERT_TRUE(reference.loadFile(file.c_str()).good());
  DcmDataset& r = *reference.getDataset();
  const DicomFile dicom = DicomFile::open(file);
  const Item d = dicom.dataset();
  for (Tag tag : {tags::SOPInstanceUID, tags::SeriesInstanceUID, tags::StudyInstanceUID, tags::PatientName,
                  tags::PatientID, tags::Modality, tags::ImageType, tags::ImagePositionPatient,
                  tags::ImageOrientationPatient, tags::PixelSpacing, tags::RescaleIntercept, tags::SeriesDescription}) {
    OFString expected;
    r.findAndGetOFStringArray(DcmTagKey(tag.group, tag.element), expected);
    EXPECT_EQ(d.string(tag), expected.c_str()) << toString(tag);
  }
  for (Tag tag : {tags::Rows, tags::Columns, tags::BitsAllocated, tags::BitsStored, tags::PixelRepresentation}) {
    Uint16 expected = 0;
    ASSERT_TRUE(r.findAndGetUint16(DcmTagKey(tag.group, tag.element), expected).good()) << toString(tag);
    EXPECT_EQ(d.uint16(tag), expected) << toString(tag);
  }
}

TEST(GuardedReaderOnRealData, ReadsTheValuesDcmtkReads) {
  for (const char* file : {"ct-head-gantry-tilt/01.dcm", "ct-chest-transfer-syntaxes/explicit_be/1-01.dcm",
                           "ct-chest-transfer-syntaxes/implicit_le/1-01.dcm",
                           "ct-chest-transfer-syntaxes/j2k_lossless/1-01.dcm"})
    expectSameValuesAsDcmtk(sharedData(file));
}

TEST(GuardedReaderOnRealData, KnowsTheLayoutOfNativeAndCompressedPixelData) {
  const Structure tilt = checkStructure(sharedData("ct-head-gantry-tilt/01.dcm"));
  ASSERT_TRUE(tilt.pixel_data.has_value());
  EXPECT_FALSE(tilt.pixel_data->encapsulated);
  EXPECT_EQ(tilt.pixel_data->length, 512u * 512u * 2u);
  EXPECT_EQ(tilt.max_depth, 0);

  const Structure big_endian = checkStructure(sharedData("ct-chest-transfer-syntaxes/explicit_be/1-01.dcm"));
  EXPECT_EQ(big_endian.transfer_syntax_uid, "1.2.840.10008.1.2.2");
  ASSERT_TRUE(big_endian.pixel_data.has_value());
  EXPECT_EQ(big_endian.pixel_data->length, 512u * 512u * 2u);

  const Structure implicit = checkStructure(sharedData("ct-chest-transfer-syntaxes/implicit_le/1-01.dcm"));
  EXPECT_EQ(implicit.transfer_syntax_uid, "1.2.840.10008.1.2");

  const Structure j2k = checkStructure(sharedData("ct-chest-transfer-syntaxes/j2k_lossless/1-01.dcm"));
  EXPECT_EQ(j2k.transfer_syntax_uid, "1.2.840.10008.1.2.4.90");
  ASSERT_TRUE(j2k.pixel_data.has_value());
  EXPECT_TRUE(j2k.pixel_data->encapsulated);
  EXPECT_GE(j2k.pixel_data->fragments, 2u);  // the offset table and at least one fragment
  EXPECT_LT(j2k.pixel_data->length, 512u * 512u * 2u);
  EXPECT_EQ(j2k.pixel_data->decoded_bytes, 512u * 512u * 2u);
}

}  // namespace
}  // namespace volnode::dicom
