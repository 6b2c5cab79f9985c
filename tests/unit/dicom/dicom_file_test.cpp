// The guarded reader's values: what DicomFile and Item return is what DCMTK reads.
#include <gtest/gtest.h>

#include "dicom_test_files.hpp"
#include "support/process.hpp"
#include "volnode/core/error.hpp"
#include "volnode/dicom/dicom_file.hpp"
#include "volnode/dicom/image_copy.hpp"
#include "volnode/dicom/tags.hpp"

namespace volnode::dicom {
namespace {

using namespace volnode::test;

TEST(DicomFile, ReadsTheValuesOfASyntheticImage) {
  TempDir dir("volnode-dicom-test");
  const auto file = writeImage(dir.path());
  rewrite(file, [](DcmDataset& d) {
    d.putAndInsertString(DCM_PatientName, "DOE^JANE");
    d.putAndInsertString(DCM_NumberOfFrames, "1");
    nest(d, 2);
  });
  const DicomFile dicom = DicomFile::open(file);
  const Item d = dicom.dataset();
  EXPECT_EQ(d.string(tags::PatientName), "DOE^JANE");
  EXPECT_EQ(d.string(tags::Modality), "CT");
  EXPECT_EQ(d.string(tags::ImageType), "ORIGINAL\\PRIMARY\\AXIAL");
  EXPECT_EQ(d.stringAt(tags::ImageType, 1), "PRIMARY");
  EXPECT_EQ(d.uint16(tags::Rows), 16);
  EXPECT_EQ(d.int32(tags::NumberOfFrames), 1);
  EXPECT_EQ(d.float64(tags::ImagePositionPatient, 0), -32.0);
  EXPECT_EQ(d.float64(tags::ImageOrientationPatient, 4), 1.0);
  EXPECT_FALSE(d.float64(tags::ImageOrientationPatient, 6).has_value());
  EXPECT_FALSE(d.uint16(tags::PixelPaddingValue).has_value());
  EXPECT_TRUE(d.has(tags::PixelData));
  EXPECT_FALSE(d.has(tags::PerFrameFunctionalGroupsSequence));
  EXPECT_EQ(d.string(tags::StackID), "");

  const auto name = d.element(tags::PatientName);
  ASSERT_TRUE(name.has_value());
  EXPECT_EQ(name->vr, "PN");
  EXPECT_EQ(name->bytes, "DOE^JANE");
  EXPECT_FALSE(d.element(tags::Laterality).has_value());
  EXPECT_EQ(dictionaryVr(tags::Laterality), "CS");

  // Sequences: (0008,1140) > item > (0008,1140) > item > ReferencedSOPInstanceUID.
  const Tag referenced_images{0x0008, 0x1140};
  EXPECT_EQ(d.sequenceSize(referenced_images), 1u);
  const auto outer = d.sequenceItem(referenced_images);
  ASSERT_TRUE(outer.has_value());
  const auto inner = outer->sequenceItem(referenced_images);
  ASSERT_TRUE(inner.has_value());
  EXPECT_EQ(inner->string(Tag{0x0008, 0x1155}), "1.2.3.4");
  EXPECT_FALSE(d.sequenceItem(referenced_images, 1).has_value());
  EXPECT_EQ(d.sequenceSize(tags::Modality), 0u);

  EXPECT_EQ(dicom.meta().string(tags::TransferSyntaxUID), "1.2.840.10008.1.2.1");
  EXPECT_EQ(dicom.datasetTransferSyntaxUid(), "1.2.840.10008.1.2.1");
  EXPECT_EQ(dicom.path(), file);
}

TEST(DicomFile, UpToPixelDataStopsBeforeThePixels) {
  TempDir dir("volnode-dicom-test");
  const auto file = writeImage(dir.path());
  const DicomFile header = DicomFile::open(file, DicomFile::Extent::UpToPixelData);
  EXPECT_FALSE(header.dataset().has(tags::PixelData));
  EXPECT_EQ(header.dataset().uint16(tags::Columns), 16);
  EXPECT_TRUE(DicomFile::open(file).dataset().has(tags::PixelData));
}

TEST(DicomFile, TheDecodableCopyHoldsTheImageAndTheSamePixelBytes) {
  TempDir dir("volnode-dicom-test");
  const auto file = writeImage(dir.path());
  std::vector<Uint16> pixels(16 * 16);
  for (size_t i = 0; i < pixels.size(); ++i) pixels[i] = Uint16(i * 3);
  rewrite(file,
          [&](DcmDataset& d) { d.putAndInsertUint16Array(DCM_PixelData, pixels.data(), unsigned(pixels.size())); });
  const std::string copy = decodableGrayscaleCopy(DicomFile::open(file), {16, 16, 16, 12, 1, 1});

  const auto copied = dir / "copy.dcm";
  std::ofstream(copied, std::ios::binary) << copy;
  DcmFileFormat format;
  ASSERT_TRUE(format.loadFile(copied.c_str()).good());
  DcmDataset& d = *format.getDataset();
  Uint16 value = 0;
  EXPECT_TRUE(d.findAndGetUint16(DCM_BitsStored, value).good());
  EXPECT_EQ(value, 12);
  EXPECT_TRUE(d.findAndGetUint16(DCM_PixelRepresentation, value).good());
  EXPECT_EQ(value, 1);
  const Uint16* data = nullptr;
  unsigned long count = 0;
  ASSERT_TRUE(d.findAndGetUint16Array(DCM_PixelData, data, &count).good());
  ASSERT_EQ(count, pixels.size());
  EXPECT_TRUE(std::equal(pixels.begin(), pixels.end(), data));
  OFString patient;
  EXPECT_TRUE(d.findAndGetOFString(DCM_PatientName, patient).bad()) << "the copy carries nothing but the image";
}

// Every named tag is the one DCMTK's dictionary knows by that name.
TEST(DicomFile, NamedTagsMatchTheDataDictionary) {
#define VOLNODE_EXPECT_TAG(name) \
  EXPECT_EQ(std::string(DcmTag(tags::name.group, tags::name.element).getTagName()), #name)
  VOLNODE_EXPECT_TAG(MediaStorageSOPClassUID);
  VOLNODE_EXPECT_TAG(MediaStorageSOPInstanceUID);
  VOLNODE_EXPECT_TAG(TransferSyntaxUID);
  VOLNODE_EXPECT_TAG(DirectoryRecordSequence);
  VOLNODE_EXPECT_TAG(SpecificCharacterSet);
  VOLNODE_EXPECT_TAG(ImageType);
  VOLNODE_EXPECT_TAG(SOPClassUID);
  VOLNODE_EXPECT_TAG(SOPInstanceUID);
  VOLNODE_EXPECT_TAG(StudyDate);
  VOLNODE_EXPECT_TAG(StudyTime);
  VOLNODE_EXPECT_TAG(AccessionNumber);
  VOLNODE_EXPECT_TAG(Modality);
  VOLNODE_EXPECT_TAG(ReferringPhysicianName);
  VOLNODE_EXPECT_TAG(StudyDescription);
  VOLNODE_EXPECT_TAG(SeriesDescription);
  VOLNODE_EXPECT_TAG(FrameType);
  VOLNODE_EXPECT_TAG(ComplexImageComponent);
  VOLNODE_EXPECT_TAG(PatientName);
  VOLNODE_EXPECT_TAG(PatientID);
  VOLNODE_EXPECT_TAG(IssuerOfPatientID);
  VOLNODE_EXPECT_TAG(PatientBirthDate);
  VOLNODE_EXPECT_TAG(PatientSex);
  VOLNODE_EXPECT_TAG(BodyPartExamined);
  VOLNODE_EXPECT_TAG(SliceThickness);
  VOLNODE_EXPECT_TAG(EchoNumbers);
  VOLNODE_EXPECT_TAG(ProtocolName);
  VOLNODE_EXPECT_TAG(MRAcquisitionType);
  VOLNODE_EXPECT_TAG(EffectiveEchoTime);
  VOLNODE_EXPECT_TAG(DiffusionBValue);
  VOLNODE_EXPECT_TAG(StudyInstanceUID);
  VOLNODE_EXPECT_TAG(SeriesInstanceUID);
  VOLNODE_EXPECT_TAG(StudyID);
  VOLNODE_EXPECT_TAG(SeriesNumber);
  VOLNODE_EXPECT_TAG(AcquisitionNumber);
  VOLNODE_EXPECT_TAG(InstanceNumber);
  VOLNODE_EXPECT_TAG(ImagePositionPatient);
  VOLNODE_EXPECT_TAG(ImageOrientationPatient);
  VOLNODE_EXPECT_TAG(FrameOfReferenceUID);
  VOLNODE_EXPECT_TAG(Laterality);
  VOLNODE_EXPECT_TAG(ImagesInAcquisition);
  VOLNODE_EXPECT_TAG(TemporalPositionIdentifier);
  VOLNODE_EXPECT_TAG(NumberOfTemporalPositions);
  VOLNODE_EXPECT_TAG(PositionReferenceIndicator);
  VOLNODE_EXPECT_TAG(StackID);
  VOLNODE_EXPECT_TAG(TemporalPositionIndex);
  VOLNODE_EXPECT_TAG(SamplesPerPixel);
  VOLNODE_EXPECT_TAG(PhotometricInterpretation);
  VOLNODE_EXPECT_TAG(NumberOfFrames);
  VOLNODE_EXPECT_TAG(Rows);
  VOLNODE_EXPECT_TAG(Columns);
  VOLNODE_EXPECT_TAG(PixelSpacing);
  VOLNODE_EXPECT_TAG(BitsAllocated);
  VOLNODE_EXPECT_TAG(BitsStored);
  VOLNODE_EXPECT_TAG(HighBit);
  VOLNODE_EXPECT_TAG(PixelRepresentation);
  VOLNODE_EXPECT_TAG(PixelPaddingValue);
  VOLNODE_EXPECT_TAG(PixelPaddingRangeLimit);
  VOLNODE_EXPECT_TAG(RescaleIntercept);
  VOLNODE_EXPECT_TAG(RescaleSlope);
  VOLNODE_EXPECT_TAG(SharedFunctionalGroupsSequence);
  VOLNODE_EXPECT_TAG(PerFrameFunctionalGroupsSequence);
  VOLNODE_EXPECT_TAG(PlanePositionSequence);
  VOLNODE_EXPECT_TAG(PlaneOrientationSequence);
  VOLNODE_EXPECT_TAG(PixelMeasuresSequence);
  VOLNODE_EXPECT_TAG(PixelValueTransformationSequence);
  VOLNODE_EXPECT_TAG(MRImageFrameTypeSequence);
  VOLNODE_EXPECT_TAG(CTImageFrameTypeSequence);
  VOLNODE_EXPECT_TAG(MREchoSequence);
  VOLNODE_EXPECT_TAG(MRDiffusionSequence);
  VOLNODE_EXPECT_TAG(FrameContentSequence);
  VOLNODE_EXPECT_TAG(FloatPixelData);
  VOLNODE_EXPECT_TAG(DoubleFloatPixelData);
  VOLNODE_EXPECT_TAG(PixelData);
#undef VOLNODE_EXPECT_TAG
  EXPECT_EQ(toString(tags::PixelData), "(7FE0,0010)");
}

}  // namespace
}  // namespace volnode::dicom
