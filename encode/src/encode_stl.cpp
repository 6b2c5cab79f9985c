// Binary STL -> Encapsulated STL (PS3.3 A.85: Manufacturing 3D Model, Enhanced General Equipment).
#include <dcmtk/dcmdata/dcdeftag.h>

#include <cstring>
#include <fstream>
#include <iterator>

#include "dicom_common.hpp"
#include "volnode/core/error.hpp"

namespace volnode {

using namespace encode_detail;

EncodedObject encodeStl(const OutputIdentity& identity, const ObjectPlan& plan, const std::filesystem::path& stl,
                        const MeshInfo& info, const std::filesystem::path& out_dir) {
  checkPlan(plan);
  if (identity.frameOfReferenceUid().empty())
    throw Error(Errc::InvalidDicom, "source series " + identity.sourceSeriesInstanceUid() +
                                        " has no FrameOfReferenceUID; a mesh in its coordinates cannot be placed");
  std::ifstream in(stl, std::ios::binary);
  if (!in) throw Error(Errc::Io, "cannot read " + stl.string());
  std::vector<char> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (bytes.size() < 84 || std::string(bytes.data(), 5) == "solid") {
    // "solid" may still start a binary header; accept it when the sizes agree.
    const bool sized = bytes.size() >= 84 && [&] {
      uint32_t n = 0;
      std::memcpy(&n, bytes.data() + 80, 4);
      return bytes.size() == 84 + size_t(n) * 50;
    }();
    if (!sized) throw Error(Errc::InvalidArgument, stl.string() + " is not a binary STL (DICOM permits binary STL only)");
  }
  uint32_t triangles = 0;
  std::memcpy(&triangles, bytes.data() + 80, 4);
  if (bytes.size() != 84 + size_t(triangles) * 50)
    throw Error(Errc::InvalidArgument, stl.string() + ": binary STL size does not match its triangle count");

  DcmFileFormat file;
  DcmDataset& d = *file.getDataset();
  putIdentity(d, identity);
  putSeriesAndInstance(d, identity, plan, kSopClassEncapsulatedStl, "M3D");
  // Not in the Encapsulated Document Series module (dciodvfy: "not present in standard IOD").
  d.findAndDeleteElement(DCM_BodyPartExamined);
  d.findAndDeleteElement(DCM_Laterality);

  // Frame of Reference: the source's, the mesh is in its patient coordinates.
  check(d.putAndInsertString(DCM_FrameOfReferenceUID, identity.frameOfReferenceUid().c_str()), "FrameOfReferenceUID");
  const CopiedElement& pri = identity.positionReferenceIndicator();
  check(d.putAndInsertString(DCM_PositionReferenceIndicator, pri.present ? pri.value.c_str() : ""),
        "PositionReferenceIndicator");

  // General Equipment and Enhanced General Equipment
  check(d.putAndInsertString(DCM_Manufacturer, info.equipment.manufacturer.c_str()), "Manufacturer");
  check(d.putAndInsertString(DCM_ManufacturerModelName, info.equipment.model_name.c_str()), "ManufacturerModelName");
  check(d.putAndInsertString(DCM_DeviceSerialNumber, info.equipment.device_serial_number.c_str()), "DeviceSerialNumber");
  check(d.putAndInsertString(DCM_SoftwareVersions, info.equipment.software_version.c_str()), "SoftwareVersions");

  // Encapsulated Document
  check(d.putAndInsertString(DCM_AcquisitionDateTime, ""), "AcquisitionDateTime");
  check(d.putAndInsertString(DCM_BurnedInAnnotation, info.identifiers_embossed ? "YES" : "NO"), "BurnedInAnnotation");
  // DocumentTitle says what the surface is: "Bone surface (250 iso-surface, 300000 triangles)".
  std::string title = info.title + " (" + formatDs(info.threshold) + " iso-surface, " + std::to_string(triangles) +
                      " triangles)";
  check(d.putAndInsertString(DCM_DocumentTitle, safeText(identity, title, 64).c_str()), "DocumentTitle");
  check(d.insertEmptyElement(DCM_ConceptNameCodeSequence), "ConceptNameCodeSequence");
  check(d.putAndInsertString(DCM_MIMETypeOfEncapsulatedDocument, "model/stl"), "MIMETypeOfEncapsulatedDocument");
  for (const SourceInstance& s : identity.sourceInstances()) {
    DcmItem* item = nullptr;
    check(d.findOrCreateSequenceItem(DCM_SourceInstanceSequence, item, -2), "SourceInstanceSequence");
    check(item->putAndInsertString(DCM_ReferencedSOPClassUID, s.sop_class_uid.c_str()), "ReferencedSOPClassUID");
    check(item->putAndInsertString(DCM_ReferencedSOPInstanceUID, s.sop_instance_uid.c_str()), "ReferencedSOPInstanceUID");
  }
  putReferencedSeries(d, identity);

  // Manufacturing 3D Model: coordinates in millimetres.
  addCode(d, DCM_MeasurementUnitsCodeSequence, "mm", "UCUM", "mm");

  // EncapsulatedDocumentLength: the unpadded size; the OB value is padded to even length.
  check(d.putAndInsertUint32(DCM_EncapsulatedDocumentLength, Uint32(bytes.size())), "EncapsulatedDocumentLength");
  if (bytes.size() % 2) bytes.push_back('\0');
  check(d.putAndInsertUint8Array(DCM_EncapsulatedDocument, reinterpret_cast<const Uint8*>(bytes.data()),
                                 unsigned(bytes.size())),
        "EncapsulatedDocument");

  return saveObject(file, identity, plan, kSopClassEncapsulatedStl, 0, out_dir);
}

}  // namespace volnode
