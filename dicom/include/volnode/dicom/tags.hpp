#pragma once
// Named DICOM tags the node reads, as plain numbers (no DCMTK in public headers).
// Names and numbers are DCMTK's dictionary names (dcdeftag.h); a unit test checks
// every one of them against the dictionary.
#include <cstdint>
#include <string>

namespace volnode::dicom {

struct Tag {
  uint16_t group = 0;
  uint16_t element = 0;
  friend constexpr bool operator==(Tag, Tag) = default;
};

// "(gggg,eeee)", as DICOM writes tags.
std::string toString(Tag tag);

namespace tags {
inline constexpr Tag MediaStorageSOPClassUID{0x0002, 0x0002};
inline constexpr Tag MediaStorageSOPInstanceUID{0x0002, 0x0003};
inline constexpr Tag TransferSyntaxUID{0x0002, 0x0010};
inline constexpr Tag DirectoryRecordSequence{0x0004, 0x1220};
inline constexpr Tag SpecificCharacterSet{0x0008, 0x0005};
inline constexpr Tag ImageType{0x0008, 0x0008};
inline constexpr Tag SOPClassUID{0x0008, 0x0016};
inline constexpr Tag SOPInstanceUID{0x0008, 0x0018};
inline constexpr Tag StudyDate{0x0008, 0x0020};
inline constexpr Tag StudyTime{0x0008, 0x0030};
inline constexpr Tag AccessionNumber{0x0008, 0x0050};
inline constexpr Tag Modality{0x0008, 0x0060};
inline constexpr Tag ReferringPhysicianName{0x0008, 0x0090};
inline constexpr Tag StudyDescription{0x0008, 0x1030};
inline constexpr Tag SeriesDescription{0x0008, 0x103e};
inline constexpr Tag FrameType{0x0008, 0x9007};
inline constexpr Tag ComplexImageComponent{0x0008, 0x9208};
inline constexpr Tag PatientName{0x0010, 0x0010};
inline constexpr Tag PatientID{0x0010, 0x0020};
inline constexpr Tag IssuerOfPatientID{0x0010, 0x0021};
inline constexpr Tag PatientBirthDate{0x0010, 0x0030};
inline constexpr Tag PatientSex{0x0010, 0x0040};
inline constexpr Tag BodyPartExamined{0x0018, 0x0015};
inline constexpr Tag MRAcquisitionType{0x0018, 0x0023};
inline constexpr Tag SliceThickness{0x0018, 0x0050};
inline constexpr Tag EchoNumbers{0x0018, 0x0086};
inline constexpr Tag ProtocolName{0x0018, 0x1030};
inline constexpr Tag EffectiveEchoTime{0x0018, 0x9082};
inline constexpr Tag DiffusionBValue{0x0018, 0x9087};
inline constexpr Tag MREchoSequence{0x0018, 0x9114};
inline constexpr Tag MRDiffusionSequence{0x0018, 0x9117};
inline constexpr Tag MRImageFrameTypeSequence{0x0018, 0x9226};
inline constexpr Tag CTImageFrameTypeSequence{0x0018, 0x9329};
inline constexpr Tag StudyInstanceUID{0x0020, 0x000d};
inline constexpr Tag SeriesInstanceUID{0x0020, 0x000e};
inline constexpr Tag StudyID{0x0020, 0x0010};
inline constexpr Tag SeriesNumber{0x0020, 0x0011};
inline constexpr Tag AcquisitionNumber{0x0020, 0x0012};
inline constexpr Tag InstanceNumber{0x0020, 0x0013};
inline constexpr Tag ImagePositionPatient{0x0020, 0x0032};
inline constexpr Tag ImageOrientationPatient{0x0020, 0x0037};
inline constexpr Tag FrameOfReferenceUID{0x0020, 0x0052};
inline constexpr Tag Laterality{0x0020, 0x0060};
inline constexpr Tag TemporalPositionIdentifier{0x0020, 0x0100};
inline constexpr Tag NumberOfTemporalPositions{0x0020, 0x0105};
inline constexpr Tag ImagesInAcquisition{0x0020, 0x1002};
inline constexpr Tag PositionReferenceIndicator{0x0020, 0x1040};
inline constexpr Tag StackID{0x0020, 0x9056};
inline constexpr Tag FrameContentSequence{0x0020, 0x9111};
inline constexpr Tag PlanePositionSequence{0x0020, 0x9113};
inline constexpr Tag PlaneOrientationSequence{0x0020, 0x9116};
inline constexpr Tag TemporalPositionIndex{0x0020, 0x9128};
inline constexpr Tag SamplesPerPixel{0x0028, 0x0002};
inline constexpr Tag PhotometricInterpretation{0x0028, 0x0004};
inline constexpr Tag NumberOfFrames{0x0028, 0x0008};
inline constexpr Tag Rows{0x0028, 0x0010};
inline constexpr Tag Columns{0x0028, 0x0011};
inline constexpr Tag PixelSpacing{0x0028, 0x0030};
inline constexpr Tag BitsAllocated{0x0028, 0x0100};
inline constexpr Tag BitsStored{0x0028, 0x0101};
inline constexpr Tag HighBit{0x0028, 0x0102};
inline constexpr Tag PixelRepresentation{0x0028, 0x0103};
inline constexpr Tag PixelPaddingValue{0x0028, 0x0120};
inline constexpr Tag PixelPaddingRangeLimit{0x0028, 0x0121};
inline constexpr Tag RescaleIntercept{0x0028, 0x1052};
inline constexpr Tag RescaleSlope{0x0028, 0x1053};
inline constexpr Tag PixelMeasuresSequence{0x0028, 0x9110};
inline constexpr Tag PixelValueTransformationSequence{0x0028, 0x9145};
inline constexpr Tag SharedFunctionalGroupsSequence{0x5200, 0x9229};
inline constexpr Tag PerFrameFunctionalGroupsSequence{0x5200, 0x9230};
inline constexpr Tag FloatPixelData{0x7fe0, 0x0008};
inline constexpr Tag DoubleFloatPixelData{0x7fe0, 0x0009};
inline constexpr Tag PixelData{0x7fe0, 0x0010};
}  // namespace tags

}  // namespace volnode::dicom
