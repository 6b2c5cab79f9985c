#pragma once
// Internal: DCMTK's objects behind the module's plain-typed classes.
#include <dcmtk/dcmdata/dcfilefo.h>
#include <dcmtk/dcmdata/dcitem.h>

#include "volnode/dicom/dicom_file.hpp"

namespace volnode::dicom {

struct DcmtkAccess {
  static DcmFileFormat& format(const DicomFile& file);
};

namespace detail {

inline DcmTagKey key(Tag tag) { return DcmTagKey(tag.group, tag.element); }

}  // namespace detail
}  // namespace volnode::dicom
