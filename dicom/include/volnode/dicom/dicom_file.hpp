#pragma once
// The guarded reader: the one way the node parses a received DICOM file. open()
// first checks the raw bytes (checkStructure: nesting depth, item count, element
// lengths, pixel data size; see structure.hpp) and only then parses the file with
// DCMTK, on the calling thread: the checks bound DCMTK's recursion, so no thread
// needs a large stack. Values longer than a few KiB (pixel data) stay on disk until
// they are asked for.
#include <filesystem>
#include <memory>
#include <string>

#include "volnode/dicom/item.hpp"
#include "volnode/dicom/structure.hpp"

namespace volnode::dicom {

class DicomFile {
 public:
  enum class Extent {
    Everything,      // the whole data set
    UpToPixelData,   // stop before (7FE0,0010): what the store indexes (the pre-scan still checks all)
  };

  // Throws Error(Errc::InvalidDicom, "<file>: <reason>") for a file the checks refuse or
  // DCMTK cannot parse, Error(Errc::Io) for one that cannot be read.
  static DicomFile open(const std::filesystem::path& file, Extent extent = Extent::Everything);

  DicomFile(DicomFile&&) noexcept;
  DicomFile& operator=(DicomFile&&) noexcept;
  ~DicomFile();

  const std::filesystem::path& path() const;
  const Structure& structure() const;

  Item dataset() const;
  Item meta() const;  // File Meta Information (group 0002); empty without one

  // The transfer syntax the data set was read in (DCMTK's, whatever the meta header says).
  std::string datasetTransferSyntaxUid() const;

  // Converts the data set's text to UTF-8 per its SpecificCharacterSet; false when
  // DCMTK cannot (the text stays as it was).
  bool convertToUtf8();

 private:
  friend struct DcmtkAccess;  // the decodable copy (image_copy.cpp) works on DCMTK's objects
  struct Impl;
  explicit DicomFile(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace volnode::dicom
