#pragma once
// Geometry-exact derived images: one 2D image in patient space (core's PlaneImage)
// -> one standard image object of the source's modality, in the source's study,
// series of its own, and Frame of Reference, so a PACS viewer scrolls it, links it
// to the source series and draws reference lines.
//
//   CT source  CT Image Storage  1.2.840.10008.5.1.4.1.1.2  (HU kept: RescaleSlope 1, Intercept 0)
//   MR source  MR Image Storage  1.2.840.10008.5.1.4.1.1.4  (values as assembled, no rescale)
//
// ImageType DERIVED\SECONDARY\REFORMATTED\<AVERAGE|MIP>; ImagePositionPatient,
// ImageOrientationPatient, PixelSpacing, SliceThickness (and SpacingBetweenSlices)
// describe exactly where each pixel lies; FrameOfReferenceUID, patient/study and the
// acquisition attributes (PatientPosition, KVP, MR sequence, contrast) are the
// source's; RelatedSeriesSequence names the source series, SourceImageSequence and
// ReferencedSeriesSequence the source images the pixels were computed from.
// Used for multiplanar reformats and thick-slab MIPs; any other 2D result in patient
// space (e.g. a MIP of a bone-removed volume) goes through the same call.
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string>

#include "volnode/core/plane_image.hpp"
#include "volnode/encode/encode.hpp"
#include "volnode/encode/output_identity.hpp"

class DcmDataset;
class DcmFileFormat;

namespace volnode {

inline constexpr const char* kSopClassCtImage = "1.2.840.10008.5.1.4.1.1.2";
inline constexpr const char* kSopClassMrImage = "1.2.840.10008.5.1.4.1.1.4";

enum class DerivedImageKind {
  Reformat,       // mean over a slab (or a single plane): DerivationCode 113072 "Multiplanar reformatting"
  MaximumSlab,    // maximum over a slab: 113078 "Maximum intensity projection"
};

struct DerivedImageInfo {
  DerivedImageKind kind = DerivedImageKind::Reformat;
  std::string derivation;              // DerivationDescription, e.g. "coronal reformat, 3 mm average"
  double spacing_between_slices = 0;   // > 0: written as SpacingBetweenSlices
  struct Window {
    double center = 40, width = 400;
    std::string explanation;           // e.g. "SOFT TISSUE"
  };
  std::optional<Window> window;        // VOI LUT; unset: none written
  EquipmentInfo equipment;
};

// The SOP class a derived image of this modality gets; Error(InvalidArgument) for
// modalities without one here (only CT and MR).
const char* derivedImageSopClass(const std::string& modality);

// Writes out_dir/<series number>-<instance number>-<slug>.dcm, listing every source
// image of the identity. Throws
// Error(InvalidArgument) for an image whose pixel count or geometry is wrong (sizes,
// non-orthonormal directions, spacing <= 0) or a bad plan, Error(InvalidDicom) when
// the identity has no FrameOfReferenceUID, Error(Io) when the file cannot be written.
EncodedObject encodeDerivedImage(const OutputIdentity& identity, const ObjectPlan& plan, const PlaneImage& image,
                                 const DerivedImageInfo& info, const std::filesystem::path& out_dir);

// The images of one derived series (a reformat's slices): what they share (identity,
// acquisition, derivation, the source series) is built once, and each encode() sets
// only what is the image's own (UIDs, numbers, plane, pixels, the source images it
// lists: none, some or all of the identity's). Each file is what encodeDerivedImage()
// writes for the same arguments when `sources` are all the identity's. Same errors;
// the constructor throws those about the identity. `sources` must stay valid until
// the next encode() (consecutive images often list the same ones: built once).
class DerivedImageSeriesEncoder {
 public:
  DerivedImageSeriesEncoder(const OutputIdentity& identity, const DerivedImageInfo& info);
  ~DerivedImageSeriesEncoder();
  DerivedImageSeriesEncoder(const DerivedImageSeriesEncoder&) = delete;
  DerivedImageSeriesEncoder& operator=(const DerivedImageSeriesEncoder&) = delete;

  EncodedObject encode(const ObjectPlan& plan, const PlaneImage& image, const std::filesystem::path& out_dir,
                       std::span<const SourceInstance> sources);

 private:
  void putSeriesAttributes(DcmDataset& d) const;
  void putSources(DcmDataset& d, std::span<const SourceInstance> sources);

  OutputIdentity identity_;
  DerivedImageInfo info_;
  const char* sop_class_;
  std::unique_ptr<DcmFileFormat> file_;
  std::span<const SourceInstance> sources_;  // what the dataset lists now
  bool sources_set_ = false;
};

}  // namespace volnode
