#include "volnode/dicom/sop_classes.hpp"

#include <dcmtk/dcmdata/dcuid.h>

namespace volnode::dicom {

bool isImageStorageSopClass(const std::string& sop_class_uid) {
  return dcmIsImageStorageSOPClassUID(sop_class_uid.c_str());
}

}  // namespace volnode::dicom
