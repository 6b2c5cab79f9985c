#pragma once
// The identity every derived object of one source series carries: patient and
// study attributes copied byte for byte from ONE source instance, plus what the
// derived objects reference (source series, frame of reference, source images).
//
// Build it once per series and pass the same object to every encoder call of
// that series. There is no way to set or edit its patient/study attributes, so
// identifiers of two series cannot be mixed by accident.
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

namespace volnode {

// One copied data element: its tag, VR and value exactly as stored in the source
// (trailing padding removed; the writer pads again to even length).
struct CopiedElement {
  uint16_t group = 0, element = 0;
  std::string vr;     // "PN", "LO", ...
  std::string value;  // raw bytes in the source's character set (may contain '\\' for VM > 1)
  bool present = false;  // false: absent in the source (written empty where the IOD wants Type 2)
};

// A source image a derived object points back to.
struct SourceInstance {
  std::string sop_class_uid;
  std::string sop_instance_uid;
};

class OutputIdentity {
 public:
  // Patient/study attributes in the order they are copied: PatientName, PatientID,
  // IssuerOfPatientID, PatientBirthDate, PatientSex, StudyInstanceUID, StudyDate,
  // StudyTime, AccessionNumber, ReferringPhysicianName, StudyID, StudyDescription,
  // SpecificCharacterSet.
  const std::vector<CopiedElement>& copied() const;
  // The copied element with this tag (a default, not present, when not copied).
  const CopiedElement& element(uint16_t group, uint16_t element) const;

  // Attributes of the source series the derived objects refer to or reuse.
  const std::string& studyInstanceUid() const;
  const std::string& sourceSeriesInstanceUid() const;
  const std::string& modality() const;               // "CT", "MR", ... ("OT" when absent)
  const std::string& frameOfReferenceUid() const;    // may be empty
  const std::string& bodyPartExamined() const;
  const CopiedElement& laterality() const;               // (0020,0060), copied when present
  const CopiedElement& positionReferenceIndicator() const;  // (0020,1040), for meshes
  // Acquisition attributes of the source image that derived *images* of the same
  // modality carry (PatientPosition; CT: KVP, ConvolutionKernel; MR: ScanningSequence,
  // SequenceVariant, ScanOptions, MRAcquisitionType, RepetitionTime, EchoTime, ...;
  // ContrastBolusAgent). Absent ones are listed with present = false.
  const std::vector<CopiedElement>& acquisition() const;
  const std::vector<SourceInstance>& sourceInstances() const;  // at least the file it was read from
  const std::filesystem::path& sourceFile() const;

 private:
  OutputIdentity() = default;  // only readOutputIdentity() makes one
  struct Data;
  std::shared_ptr<const Data> data_;  // immutable and shared: copies are cheap and thread-safe
  friend OutputIdentity readOutputIdentity(const std::filesystem::path&);
  friend OutputIdentity readOutputIdentity(const std::vector<std::filesystem::path>&);
};

// Reads one source instance (headers only, through the guarded reader of
// volnode/dicom). Throws Error(Errc::Io) when the file cannot be read,
// Error(Errc::InvalidDicom) when its content is refused or cannot be parsed, or it
// lacks StudyInstanceUID or SeriesInstanceUID.
OutputIdentity readOutputIdentity(const std::filesystem::path& source_instance);

// The identity of the first file, referencing every file of the series as a
// source image. Throws Error(Errc::InvalidArgument) when the files do not all
// belong to the same patient, study and series (mixed input is never encoded).
OutputIdentity readOutputIdentity(const std::vector<std::filesystem::path>& series_files);

}  // namespace volnode
