#include "volnode/pipeline/output_identity.hpp"

#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcfilefo.h>
#include <dcmtk/dcmdata/dcvr.h>

#include <array>

#include "volnode/core/error.hpp"

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
  std::vector<SourceInstance> sources;
  std::filesystem::path source_file;
};

namespace {

// Patient and study attributes copied unchanged (PS3.3 Patient, General Study, SOP Common).
const std::array<DcmTagKey, 13> kCopiedTags = {
    DCM_PatientName,   DCM_PatientID,          DCM_IssuerOfPatientID, DCM_PatientBirthDate,
    DCM_PatientSex,    DCM_StudyInstanceUID,   DCM_StudyDate,         DCM_StudyTime,
    DCM_AccessionNumber, DCM_ReferringPhysicianName, DCM_StudyID,     DCM_StudyDescription,
    DCM_SpecificCharacterSet};

const CopiedElement kAbsent{};

// The element's value bytes as DCMTK holds them (string VRs: trailing padding removed).
CopiedElement copyElement(DcmDataset& dataset, const DcmTagKey& key) {
  CopiedElement out;
  out.group = key.getGroup();
  out.element = key.getElement();
  out.vr = DcmTag(key).getVR().getVRName();
  DcmElement* element = nullptr;
  if (dataset.findAndGetElement(key, element).bad() || element == nullptr) return out;
  out.vr = element->getTag().getVR().getVRName();
  out.present = true;
  char* value = nullptr;
  Uint32 length = 0;
  if (element->getLength() > 0 && element->getString(value, length).good() && value != nullptr)
    out.value.assign(value, length);
  return out;
}

std::string stringOf(DcmDataset& dataset, const DcmTagKey& key) {
  OFString value;
  if (dataset.findAndGetOFStringArray(key, value).bad()) return {};
  return value.c_str();
}

void loadHeader(DcmFileFormat& file, const std::filesystem::path& path) {
  // Values longer than DCM_MaxReadLength (pixel data) stay on disk until accessed.
  const OFCondition status = file.loadFile(path.c_str(), EXS_Unknown, EGL_noChange, DCM_MaxReadLength, ERM_autoDetect);
  if (status.bad())
    throw Error(Errc::Io, "cannot read DICOM source instance " + path.string() + ": " + status.text());
}

SourceInstance sourceOf(DcmDataset& dataset) {
  return {stringOf(dataset, DCM_SOPClassUID), stringOf(dataset, DCM_SOPInstanceUID)};
}

}  // namespace

OutputIdentity readOutputIdentity(const std::filesystem::path& source_instance) {
  DcmFileFormat file;
  loadHeader(file, source_instance);
  DcmDataset& d = *file.getDataset();
  auto data = std::make_shared<OutputIdentity::Data>();
  for (const DcmTagKey& key : kCopiedTags) data->copied.push_back(copyElement(d, key));
  data->study_instance_uid = stringOf(d, DCM_StudyInstanceUID);
  data->source_series_instance_uid = stringOf(d, DCM_SeriesInstanceUID);
  if (data->study_instance_uid.empty() || data->source_series_instance_uid.empty())
    throw Error(Errc::InvalidDicom,
                source_instance.string() + ": no StudyInstanceUID or SeriesInstanceUID; derived objects need both");
  data->modality = stringOf(d, DCM_Modality);
  if (data->modality.empty()) data->modality = "OT";
  data->frame_of_reference_uid = stringOf(d, DCM_FrameOfReferenceUID);
  data->body_part_examined = stringOf(d, DCM_BodyPartExamined);
  data->laterality = copyElement(d, DCM_Laterality);
  data->position_reference_indicator = copyElement(d, DCM_PositionReferenceIndicator);
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
    DcmFileFormat file;
    loadHeader(file, series_files[i]);
    DcmDataset& d = *file.getDataset();
    const std::string study = stringOf(d, DCM_StudyInstanceUID), series = stringOf(d, DCM_SeriesInstanceUID);
    const CopiedElement pid = copyElement(d, DCM_PatientID);
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
const std::vector<SourceInstance>& OutputIdentity::sourceInstances() const { return data_->sources; }
const std::filesystem::path& OutputIdentity::sourceFile() const { return data_->source_file; }

}  // namespace volnode
