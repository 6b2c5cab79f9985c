#pragma once
// What the index needs from a received DICOM file, read through the guarded reader
// (volnode/dicom: the same structure checks every later stage applies), stopping
// before the pixel data; and a check that the rest of the data set is whole.
#include <filesystem>

#include "volnode/storage/records.hpp"

namespace volnode {

// Throws Error(Errc::InvalidDicom) naming what is wrong (refused structure, unreadable,
// missing UIDs, incomplete: a value cut short, a sequence not closed, an image without
// Pixel Data). source_aet, when given, receives (0002,0016) of the File Meta
// Information: the listener writes the calling AE title there.
InstanceAttributes readInstanceAttributes(const std::filesystem::path& file, std::string* source_aet = nullptr);

// True when both files hold the same dataset bytes (the meta header may differ:
// it names the sender).
bool sameDataset(const std::filesystem::path& a, const std::filesystem::path& b);

}  // namespace volnode
