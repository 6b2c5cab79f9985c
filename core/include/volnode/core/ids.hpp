#pragma once
// Identifiers the node makes itself: random UUIDs (file names, jobs) and DICOM UIDs.
#include <string>

namespace volnode {

// A random (version 4) UUID in canonical 8-4-4-4-12 hex form.
std::string newUuid();

// A new DICOM UID: "<root>.<suffix>" when a root is configured, otherwise
// "2.25.<UUID as decimal>" (PS3.5 B.2). Always at most 64 characters.
std::string newDicomUid(const std::string& root = "");

}  // namespace volnode
