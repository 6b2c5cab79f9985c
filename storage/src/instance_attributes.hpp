#pragma once
// What the index needs from a received DICOM file, read through the guarded reader
// (volnode/dicom: the same structure checks every later stage applies), stopping
// before the pixel data.
#include <filesystem>

#include "volnode/storage/records.hpp"

namespace volnode {

// Throws Error(Errc::InvalidDicom) naming what is wrong (refused structure, unreadable,
// missing UIDs, ...).
InstanceAttributes readInstanceAttributes(const std::filesystem::path& file);

// True when both files hold the same dataset bytes (the meta header may differ:
// it names the sender).
bool sameDataset(const std::filesystem::path& a, const std::filesystem::path& b);

}  // namespace volnode
