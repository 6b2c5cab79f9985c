#pragma once
// Looking at DICOM files from the outside, as a test does.
#include <filesystem>
#include <map>
#include <string>
#include <vector>

namespace volnode::test {

// The bytes of a DICOM file after its File Meta Information (what a sender sent).
std::string datasetBytes(const std::filesystem::path& file);

// SOP Instance UID of a file's dataset, "" when it is not a DICOM instance.
std::string sopInstanceUid(const std::filesystem::path& file);

// Every regular file under dir (recursively).
std::vector<std::filesystem::path> filesUnder(const std::filesystem::path& dir);

// SOP Instance UID -> file, for the DICOM instances under dir (non-DICOM files skipped).
std::map<std::string, std::filesystem::path> instancesUnder(const std::filesystem::path& dir);

}  // namespace volnode::test
