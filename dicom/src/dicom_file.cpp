#include "volnode/dicom/dicom_file.hpp"

#include <dcmtk/dcmdata/dcdatset.h>
#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcmetinf.h>
#include <dcmtk/dcmdata/dcxfer.h>

#include "dcmtk_access.hpp"
#include "volnode/core/error.hpp"

namespace volnode::dicom {

struct DicomFile::Impl {
  std::filesystem::path path;
  Structure structure;
  DcmFileFormat format;
};

DicomFile::DicomFile(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
DicomFile::DicomFile(DicomFile&&) noexcept = default;
DicomFile& DicomFile::operator=(DicomFile&&) noexcept = default;
DicomFile::~DicomFile() = default;

DicomFile DicomFile::open(const std::filesystem::path& file, Extent extent) {
  auto impl = std::make_unique<Impl>();
  impl->path = file;
  // Structure first: DCMTK never sees a file nested deeper, longer or larger than the limits.
  impl->structure = checkStructure(file);
  // Values longer than DCM_MaxReadLength (4 KiB) are read from the file when asked for.
  const OFCondition status =
      extent == Extent::UpToPixelData
          ? impl->format.loadFileUntilTag(file.c_str(), EXS_Unknown, EGL_noChange, DCM_MaxReadLength,
                                          ERM_autoDetect, DCM_PixelData)
          : impl->format.loadFile(file.c_str(), EXS_Unknown, EGL_noChange, DCM_MaxReadLength, ERM_autoDetect);
  if (status.bad()) throw Error(Errc::InvalidDicom, file.string() + ": cannot parse DICOM: " + status.text());
  return DicomFile(std::move(impl));
}

const std::filesystem::path& DicomFile::path() const { return impl_->path; }
const Structure& DicomFile::structure() const { return impl_->structure; }

Item DicomFile::dataset() const {
  return Item(reinterpret_cast<Item::Node*>(static_cast<DcmItem*>(impl_->format.getDataset())));
}

Item DicomFile::meta() const {
  return Item(reinterpret_cast<Item::Node*>(static_cast<DcmItem*>(impl_->format.getMetaInfo())));
}

std::string DicomFile::datasetTransferSyntaxUid() const {
  return DcmXfer(impl_->format.getDataset()->getOriginalXfer()).getXferID();
}

bool DicomFile::convertToUtf8() { return impl_->format.getDataset()->convertToUTF8().good(); }

DcmFileFormat& DcmtkAccess::format(const DicomFile& file) { return file.impl_->format; }

}  // namespace volnode::dicom
