// One PlaneImage -> CT/MR Image Storage with the exact Image Plane of the pixels.
#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcfilefo.h>

#include <cmath>

#include "dicom_common.hpp"
#include "volnode/core/error.hpp"
#include "volnode/encode/derived_image.hpp"

namespace volnode {
namespace {

using namespace encode_detail;

void checkImage(const PlaneImage& image) {
  const PlaneGeometry& g = image.geometry;
  if (g.rows <= 0 || g.columns <= 0 || g.rows > 65535 || g.columns > 65535)
    throw Error(Errc::InvalidArgument, "derived image size out of range");
  if (image.pixels.size() != size_t(g.rows) * g.columns)
    throw Error(Errc::InvalidArgument, "derived image has " + std::to_string(image.pixels.size()) +
                                           " pixels, expected rows x columns");
  if (!(g.row_spacing > 0) || !(g.column_spacing > 0) || !(g.thickness >= 0))
    throw Error(Errc::InvalidArgument, "derived image needs positive pixel spacing");
  auto norm = [](const std::array<double, 3>& v) { return std::sqrt(v[0] * v[0] + v[1] * v[1] + v[2] * v[2]); };
  const auto& r = g.row_direction;
  const auto& c = g.column_direction;
  if (std::abs(norm(r) - 1) > 1e-4 || std::abs(norm(c) - 1) > 1e-4 || std::abs(r[0] * c[0] + r[1] * c[1] + r[2] * c[2]) > 1e-4)
    throw Error(Errc::InvalidArgument, "derived image orientation is not two orthogonal unit vectors");
  for (double p : g.position)
    if (!std::isfinite(p)) throw Error(Errc::InvalidArgument, "derived image position is not finite");
}

std::string triple(const std::array<double, 3>& v) {
  return formatDs(v[0]) + "\\" + formatDs(v[1]) + "\\" + formatDs(v[2]);
}

// A direction cosine without "-0" and rounding noise (6e-17 for 0, 0.9999999999999999
// for 1); any other value is kept as it is, so oblique planes are written exactly.
double cosine(double v) {
  for (const double exact : {-1.0, 0.0, 1.0})
    if (std::abs(v - exact) < 1e-9) return exact == 0 ? 0.0 : exact;
  return v;
}

void putCopied(DcmDataset& d, const CopiedElement& c) {
  DcmTag tag(c.group, c.element);
  if (!c.vr.empty()) tag.setVR(DcmVR(c.vr.c_str()));
  DcmElement* element = DcmItem::newDicomElement(tag);
  if (element == nullptr) throw Error(Errc::Internal, "DICOM encoder: no element for " + std::string(tag.getTagName()));
  if (!c.value.empty()) check(element->putString(c.value.data(), Uint32(c.value.size())), tag.getTagName());
  check(d.insert(element, true), tag.getTagName());
}

// The source's acquisition attributes; Type 1/2 ones of the image module are written
// even when the source lacks them (MR Type 1 with the least-claiming terms).
void putAcquisition(DcmDataset& d, const OutputIdentity& identity, bool mr) {
  for (const CopiedElement& c : identity.acquisition()) {
    const DcmTagKey key(c.group, c.element);
    const bool mr_tag = c.group == 0x0018 && key != DCM_PatientPosition && key != DCM_ContrastBolusAgent &&
                        key != DCM_KVP && key != DCM_ConvolutionKernel;
    const bool ct_tag = key == DCM_KVP || key == DCM_ConvolutionKernel;
    if ((mr_tag && !mr) || (ct_tag && mr)) continue;
    if (c.present) {
      putCopied(d, c);
      continue;
    }
    if (key == DCM_PatientPosition || key == DCM_KVP)
      check(d.insertEmptyElement(key), "empty Type 2 attribute");
    if (!mr) continue;
    if (key == DCM_ScanningSequence) check(d.putAndInsertString(key, "RM"), "ScanningSequence");  // research mode
    if (key == DCM_SequenceVariant) check(d.putAndInsertString(key, "NONE"), "SequenceVariant");
    if (key == DCM_ScanOptions || key == DCM_MRAcquisitionType || key == DCM_EchoTime || key == DCM_EchoTrainLength ||
        key == DCM_RepetitionTime)
      check(d.insertEmptyElement(key), "empty Type 2 attribute");
  }
}

// RelatedSeriesSequence (General Series): the source series as a whole, which every
// image names even when it lists no source images of its own.
void putRelatedSourceSeries(DcmDataset& d, const OutputIdentity& identity) {
  DcmItem* item = nullptr;
  check(d.findOrCreateSequenceItem(DCM_RelatedSeriesSequence, item, -2), "RelatedSeriesSequence");
  check(item->putAndInsertString(DCM_StudyInstanceUID, identity.studyInstanceUid().c_str()),
        "RelatedSeriesSequence StudyInstanceUID");
  check(item->putAndInsertString(DCM_SeriesInstanceUID, identity.sourceSeriesInstanceUid().c_str()),
        "RelatedSeriesSequence SeriesInstanceUID");
  check(item->insertEmptyElement(DCM_PurposeOfReferenceCodeSequence), "PurposeOfReferenceCodeSequence");
}

}  // namespace

const char* derivedImageSopClass(const std::string& modality) {
  if (modality == "CT") return kSopClassCtImage;
  if (modality == "MR") return kSopClassMrImage;
  throw Error(Errc::InvalidArgument, "no derived image SOP class for modality '" + modality + "' (CT and MR only)");
}

DerivedImageSeriesEncoder::DerivedImageSeriesEncoder(const OutputIdentity& identity, const DerivedImageInfo& info)
    : identity_(identity),
      info_(info),
      sop_class_(derivedImageSopClass(identity.modality())),
      file_(std::make_unique<DcmFileFormat>()) {
  if (identity.frameOfReferenceUid().empty())
    throw Error(Errc::InvalidDicom, "source series " + identity.sourceSeriesInstanceUid() +
                                        " has no FrameOfReferenceUID; a derived image cannot be placed in it");
  putSeriesAttributes(*file_->getDataset());
}

DerivedImageSeriesEncoder::~DerivedImageSeriesEncoder() = default;

// What every image of the series shares: identity, acquisition, Frame of Reference,
// equipment, derivation, the references to the source and the pixel module's fixed part.
void DerivedImageSeriesEncoder::putSeriesAttributes(DcmDataset& d) const {
  const OutputIdentity& identity = identity_;
  const DerivedImageInfo& info = info_;
  const bool mr = identity.modality() == "MR";
  putIdentity(d, identity);
  putAcquisition(d, identity, mr);

  // Frame of Reference: the source's, so positions mean the same in both series.
  check(d.putAndInsertString(DCM_FrameOfReferenceUID, identity.frameOfReferenceUid().c_str()), "FrameOfReferenceUID");
  const CopiedElement& reference = identity.positionReferenceIndicator();
  check(d.putAndInsertString(DCM_PositionReferenceIndicator, reference.present ? reference.value.c_str() : ""),
        "PositionReferenceIndicator");

  // General Equipment (the device that made this image)
  check(d.putAndInsertString(DCM_Manufacturer, info.equipment.manufacturer.c_str()), "Manufacturer");
  check(d.putAndInsertString(DCM_ManufacturerModelName, info.equipment.model_name.c_str()), "ManufacturerModelName");
  check(d.putAndInsertString(DCM_SoftwareVersions, info.equipment.software_version.c_str()), "SoftwareVersions");

  // General Image, General Reference
  const bool maximum = info.kind == DerivedImageKind::MaximumSlab;
  check(d.putAndInsertString(DCM_ImageType, maximum ? "DERIVED\\SECONDARY\\REFORMATTED\\MIP"
                                                    : "DERIVED\\SECONDARY\\REFORMATTED\\AVERAGE"),
        "ImageType");
  check(d.insertEmptyElement(DCM_AcquisitionNumber), "AcquisitionNumber");
  std::string derivation = info.derivation.empty() ? std::string(maximum ? "Thick-slab MIP" : "Multiplanar reformat")
                                                   : info.derivation;
  derivation += " of series " + identity.sourceSeriesInstanceUid() + ", " + info.equipment.manufacturer + " " +
                info.equipment.software_version;
  check(d.putAndInsertString(DCM_DerivationDescription, safeText(identity, derivation, 1024).c_str()),
        "DerivationDescription");
  if (maximum)
    addCode(d, DCM_DerivationCodeSequence, "113078", "DCM", "Maximum intensity projection");
  else
    addCode(d, DCM_DerivationCodeSequence, "113072", "DCM", "Multiplanar reformatting");
  putRelatedSourceSeries(d, identity);
  if (info.spacing_between_slices > 0)
    check(d.putAndInsertString(DCM_SpacingBetweenSlices, formatDs(info.spacing_between_slices).c_str()),
          "SpacingBetweenSlices");

  // Image Pixel: signed 16-bit physical values
  check(d.putAndInsertUint16(DCM_SamplesPerPixel, 1), "SamplesPerPixel");
  check(d.putAndInsertString(DCM_PhotometricInterpretation, "MONOCHROME2"), "PhotometricInterpretation");
  check(d.putAndInsertUint16(DCM_BitsAllocated, 16), "BitsAllocated");
  check(d.putAndInsertUint16(DCM_BitsStored, 16), "BitsStored");
  check(d.putAndInsertUint16(DCM_HighBit, 15), "HighBit");
  check(d.putAndInsertUint16(DCM_PixelRepresentation, 1), "PixelRepresentation");
  if (!mr) {
    // CT Image: the pixels already are Hounsfield units.
    check(d.putAndInsertString(DCM_RescaleIntercept, "0"), "RescaleIntercept");
    check(d.putAndInsertString(DCM_RescaleSlope, "1"), "RescaleSlope");
    check(d.putAndInsertString(DCM_RescaleType, "HU"), "RescaleType");
  }
  if (info.window) {
    check(d.putAndInsertString(DCM_WindowCenter, formatDs(info.window->center).c_str()), "WindowCenter");
    check(d.putAndInsertString(DCM_WindowWidth, formatDs(std::max(1.0, info.window->width)).c_str()), "WindowWidth");
    if (!info.window->explanation.empty())
      check(d.putAndInsertString(DCM_WindowCenterWidthExplanation,
                                 safeText(identity, info.window->explanation, 64).c_str()),
            "WindowCenterWidthExplanation");
  }
  check(d.putAndInsertString(DCM_BurnedInAnnotation, "NO"), "BurnedInAnnotation");
}

// The source images this image lists; the previous image's lists stay when they are the same.
void DerivedImageSeriesEncoder::putSources(DcmDataset& d, std::span<const SourceInstance> sources) {
  if (sources_set_ && sources.data() == sources_.data() && sources.size() == sources_.size()) return;
  d.findAndDeleteElement(DCM_SourceImageSequence);
  d.findAndDeleteElement(DCM_ReferencedSeriesSequence);
  putSourceImages(d, sources);
  putReferencedSeries(d, identity_, sources);
  sources_ = sources;
  sources_set_ = true;
}

EncodedObject DerivedImageSeriesEncoder::encode(const ObjectPlan& plan, const PlaneImage& image,
                                                const std::filesystem::path& out_dir,
                                                std::span<const SourceInstance> sources) {
  checkPlan(plan);
  checkImage(image);
  const PlaneGeometry& g = image.geometry;
  DcmDataset& d = *file_->getDataset();
  putSources(d, sources);
  // Every attribute set here is set for every image, so nothing of the previous one
  // stays (SeriesDescription is left out when empty: removed first).
  d.findAndDeleteElement(DCM_SeriesDescription);
  putSeriesAndInstance(d, identity_, plan, sop_class_, identity_.modality());

  // Image Plane
  const std::array<double, 3> row{cosine(g.row_direction[0]), cosine(g.row_direction[1]), cosine(g.row_direction[2])};
  const std::array<double, 3> column{cosine(g.column_direction[0]), cosine(g.column_direction[1]),
                                     cosine(g.column_direction[2])};
  check(d.putAndInsertString(DCM_ImagePositionPatient, triple(g.position).c_str()), "ImagePositionPatient");
  check(d.putAndInsertString(DCM_ImageOrientationPatient, (triple(row) + "\\" + triple(column)).c_str()),
        "ImageOrientationPatient");
  check(d.putAndInsertString(DCM_PixelSpacing, (formatDs(g.row_spacing) + "\\" + formatDs(g.column_spacing)).c_str()),
        "PixelSpacing");
  check(d.putAndInsertString(DCM_SliceThickness, g.thickness > 0 ? formatDs(g.thickness).c_str() : ""),
        "SliceThickness");
  const auto n = g.normal();
  const double location = g.position[0] * n[0] + g.position[1] * n[1] + g.position[2] * n[2];
  check(d.putAndInsertString(DCM_SliceLocation, formatDs(location).c_str()), "SliceLocation");

  check(d.putAndInsertUint16(DCM_Rows, Uint16(g.rows)), "Rows");
  check(d.putAndInsertUint16(DCM_Columns, Uint16(g.columns)), "Columns");
  if (canAppendPixelData())  // the pixels go to the file from the image itself (PixelData is the last element)
    return saveObject(*file_, identity_, plan, sop_class_, 1, out_dir, image.pixels);
  check(d.putAndInsertUint16Array(DCM_PixelData, reinterpret_cast<const Uint16*>(image.pixels.data()),
                                  unsigned(image.pixels.size())),
        "PixelData");
  return saveObject(*file_, identity_, plan, sop_class_, 1, out_dir);
}

EncodedObject encodeDerivedImage(const OutputIdentity& identity, const ObjectPlan& plan, const PlaneImage& image,
                                 const DerivedImageInfo& info, const std::filesystem::path& out_dir) {
  checkPlan(plan);
  checkImage(image);
  return DerivedImageSeriesEncoder(identity, info).encode(plan, image, out_dir, identity.sourceInstances());
}

}  // namespace volnode
