#pragma once
// Looking at DICOM files from the outside, as a test does.
#include <filesystem>
#include <map>
#include <string>
#include <vector>

namespace volnode::test {

// The bytes of a DICOM file after its File Meta Information (what a sender sent).
std::string datasetBytes(const std::filesystem::path& file);

// Writes a copy of `file` (with a File Meta Information that has its group length)
// to `out` with `raw` inserted right after the File Meta Information, i.e. as the first
// bytes of the data set, exactly as a sender could put them there.
void insertAtDatasetStart(const std::filesystem::path& file, const std::string& raw, const std::filesystem::path& out);

// A hostile first data set element for an Implicit VR Little Endian file: (0002,0001)
// of length 0x424F, which a reader of the File Meta Information (explicit VR) takes for
// VR "OB" whose 32-bit length is the value's first four bytes, 0xFFFFFFF4. DCMTK reads
// it as an ordinary (misplaced) element of the data set.
std::string implicitGroup2ElementWithHugeExplicitLength();

// SOP Instance UID of a file's dataset, "" when it is not a DICOM instance.
std::string sopInstanceUid(const std::filesystem::path& file);

// Every regular file under dir (recursively).
std::vector<std::filesystem::path> filesUnder(const std::filesystem::path& dir);

// SOP Instance UID -> file, for the DICOM instances under dir (non-DICOM files skipped).
std::map<std::string, std::filesystem::path> instancesUnder(const std::filesystem::path& dir);

}  // namespace volnode::test
