#pragma once
// What a SOP Class UID says about an object, from DCMTK's tables.
#include <string>

namespace volnode::dicom {

// An Image Storage SOP Class: the object must carry Pixel Data.
bool isImageStorageSopClass(const std::string& sop_class_uid);

}  // namespace volnode::dicom
