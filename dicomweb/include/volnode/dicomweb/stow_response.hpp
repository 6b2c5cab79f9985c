#pragma once
// The STOW-RS response (PS3.18 10.5.3): which instances the origin server stored
// (ReferencedSOPSequence, with a WarningReason when it changed or coerced something)
// and which it did not (FailedSOPSequence, with a FailureReason). Both encodings are
// read: application/dicom+json (what volnode asks for) and application/dicom+xml
// (what a server that ignores Accept may still send).
#include <cstdint>
#include <map>
#include <optional>
#include <string>

namespace volnode::dicomweb {

struct StowInstanceStatus {
  std::string sop_class_uid;
  bool failed = false;
  std::optional<uint16_t> reason;  // FailureReason (failed) or WarningReason (stored); none when absent
};

struct StowResponse {
  std::map<std::string, StowInstanceStatus> instances;  // by SOP Instance UID
};

// Parses `body` by its `content_type` (JSON when it says json or when the body starts
// with '{', XML when it says xml or starts with '<'). nullopt when the body is empty
// or not a STOW-RS response in either encoding.
std::optional<StowResponse> parseStowResponse(const std::string& body, const std::string& content_type);

}  // namespace volnode::dicomweb
