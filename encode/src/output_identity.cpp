#include "volnode/encode/output_identity.hpp"

#include <array>

#include "volnode/core/error.hpp"
#include "volnode/dicom/dicom_file.hpp"

namespace volnode {

struct OutputIdentity::Data {
  std::vector<CopiedElement> copied;
  std::string study_instance_uid;
  std::string source_series_instance_uid;
  std::string modality;
  std::string frame_of_reference_uid;
  std::string body_part_examined;
  CopiedElement laterality;
  CopiedElement position_reference_indicator;
  std::vector<CopiedElement> acquisition;
  std::vector<SourceInstance> sources;
  std::filesystem::path source_file;
};

namespace {

namespace tags = dicom::tags;

// Patient and study attributes copied unchanged (PS3.3 Patient, General Study, SOP Common).
const std::array<dicom::Tag, 13> kCopiedTags = {
    tags::PatientName,     tags::PatientID,          tags::IssuerOfPatientID, tags::PatientBirthDate,
    tags::PatientSex,      tags::StudyInstanceUID,   tags::StudyDate,         tags::StudyTime,
    tags::AccessionNumber, tags::ReferringPhysicianName, tags::StudyID,       tags::StudyDescription,
    tags::SpecificCharacterSet};

// What a derived CT/MR image repeats from its source (General Series, CT Image, MR Image, Contrast/Bolus).
const std::array<dicom::Tag, 16> kAcquisitionTags = {{
    {0x0018, 0x5100},  // PatientPosition
    {0x0018, 0x0010},  // ContrastBolusAgent
    {0x0018, 0x0060},  // KVP
    {0x0018, 0x1210},  // ConvolutionKernel
    {0x0018, 0x0020},  // ScanningSequence
    {0x0018, 0x0021},  // SequenceVariant
    {0x0018, 0x0022},  // ScanOptions
    {0x0018, 0x0023},  // MRAcquisitionType
    {0x0018, 0x0024},  // SequenceName
    {0x0018, 0x0080},  // RepetitionTime
    {0x0018, 0x0081},  // EchoTime
    {0x0018, 0x0082},  // InversionTime
    {0x0018, 0x0091},  // EchoTrainLength
    {0x0018, 0x0085},  // ImagedNucleus
    {0x0018, 0x0087},  // MagneticFieldStrength
    {0x0018, 0x1314},  // FlipAngle
}};

const CopiedElement kAbsent{};

// The element's value bytes as DCMTK holds them (string VRs: trailing padding removed).
CopiedElement copyElement(const dicom::Item& dataset, dicom::Tag tag) {
  CopiedElement out;
  out.group = tag.group;
  out.element = tag.element;
  const auto element = dataset.element(tag);
  if (!element) {
    out.vr = dicom::dictionaryVr(tag);
    return out;
  }
  out.vr = element->vr;
  out.present = true;
  out.value = element->bytes;
  return out;
}

// Headers through the guarded reader; pixel data stay on disk.
dicom::DicomFile loadHeader(const std::filesystem::path& path) { return dicom::DicomFile::open(path); }

SourceInstance sourceOf(const dicom::Item& dataset) {
  return {dataset.string(tags::SOPClassUID), dataset.string(tags::SOPInstanceUID)};
}

}  // namespace

OutputIdentity readOutputIdentity(const std::filesystem::path& source_instance) {
  const dicom::DicomFile file = loadHeader(source_instance);
  const dicom::Item d = file.dataset();
  auto data = std::make_shared<OutputIdentity::Data>();
  for (const dicom::Tag tag : kCopiedTags) data->copied.push_back(copyElement(d, tag));
  data->study_instance_uid = d.string(tags::StudyInstanceUID);
  data->source_series_instance_uid = d.string(tags::SeriesInstanceUID);
  if (data->study_instance_uid.empty() || data->source_series_instance_uid.empty())
    throw Error(Errc::InvalidDicom,
                source_instance.string() + ": no StudyInstanceUID or SeriesInstanceUID; derived objects need both");
  data->modality = d.string(tags::Modality);
  if (data->modality.empty()) data->modality = "OT";
  data->frame_of_reference_uid = d.string(tags::FrameOfReferenceUID);
  data->body_part_examined = d.string(tags::BodyPartExamined);
  data->laterality = copyElement(d, tags::Laterality);
  data->position_reference_indicator = copyElement(d, tags::PositionReferenceIndicator);
  for (const dicom::Tag tag : kAcquisitionTags) data->acquisition.push_back(copyElement(d, tag));
  const SourceInstance self = sourceOf(d);
  if (!self.sop_class_uid.empty() && !self.sop_instance_uid.empty()) data->sources.push_back(self);
  data->source_file = source_instance;
  OutputIdentity identity;
  identity.data_ = std::move(data);
  return identity;
}

OutputIdentity readOutputIdentity(const std::vector<std::filesystem::path>& series_files) {
  if (series_files.empty()) throw Error(Errc::InvalidArgument, "no source files to take the output identity from");
  OutputIdentity identity = readOutputIdentity(series_files.front());
  auto data = std::make_shared<OutputIdentity::Data>(*identity.data_);
  const std::string& patient_id = identity.element(0x0010, 0x0020).value;
  for (size_t i = 1; i < series_files.size(); ++i) {
    const dicom::DicomFile file = loadHeader(series_files[i]);
    const dicom::Item d = file.dataset();
    const std::string study = d.string(tags::StudyInstanceUID), series = d.string(tags::SeriesInstanceUID);
    const CopiedElement pid = copyElement(d, tags::PatientID);
    if (study != data->study_instance_uid || series != data->source_series_instance_uid || pid.value != patient_id)
      throw Error(Errc::InvalidArgument, "source file " + series_files[i].string() +
                                             " belongs to another patient, study or series than " +
                                             series_files.front().string() + "; refusing to mix identifiers");
    const SourceInstance source = sourceOf(d);
    if (source.sop_class_uid.empty() || source.sop_instance_uid.empty()) continue;
    bool seen = false;
    for (const auto& s : data->sources) seen = seen || s.sop_instance_uid == source.sop_instance_uid;
    if (!seen) data->sources.push_back(source);
  }
  identity.data_ = std::move(data);
  return identity;
}

const std::vector<CopiedElement>& OutputIdentity::copied() const { return data_->copied; }
const CopiedElement& OutputIdentity::element(uint16_t group, uint16_t element) const {
  for (const auto& e : data_->copied)
    if (e.group == group && e.element == element) return e;
  return kAbsent;
}
const std::string& OutputIdentity::studyInstanceUid() const { return data_->study_instance_uid; }
const std::string& OutputIdentity::sourceSeriesInstanceUid() const { return data_->source_series_instance_uid; }
const std::string& OutputIdentity::modality() const { return data_->modality; }
const std::string& OutputIdentity::frameOfReferenceUid() const { return data_->frame_of_reference_uid; }
const std::string& OutputIdentity::bodyPartExamined() const { return data_->body_part_examined; }
const CopiedElement& OutputIdentity::laterality() const { return data_->laterality; }
const CopiedElement& OutputIdentity::positionReferenceIndicator() const { return data_->position_reference_indicator; }
const std::vector<CopiedElement>& OutputIdentity::acquisition() const { return data_->acquisition; }
const std::vector<SourceInstance>& OutputIdentity::sourceInstances() const { return data_->sources; }
const std::filesystem::path& OutputIdentity::sourceFile() const { return data_->source_file; }

}  // namespace volnode
