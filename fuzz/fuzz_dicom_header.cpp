// Fuzzes what the store reads from every received instance before it answers
// C-STORE: readInstanceAttributes() (the guarded reader's pre-scan of the raw bytes,
// then DCMTK's parse up to the pixel data, character set conversion, UID validation,
// integer fields) and sameDataset() (the pre-scan's walk over the File Meta
// Information group, used for duplicate detection).
//
// Input: the bytes of one received file, exactly as the SCP would have written it.
// Expected outcomes: attributes, or volnode::Error(InvalidDicom). Anything else
// (a crash, a sanitizer report, another exception type) is a finding.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstdio>
#include <string_view>

#include <dcmtk/oflog/oflog.h>

#include "instance_attributes.hpp"  // storage/src: private to volnode_storage, compiled in here
#include "fuzz_support.hpp"
#include "volnode/core/error.hpp"

namespace {

bool plausibleUid(const std::string& uid) {
  if (uid.empty() || uid.size() > 64) return false;
  for (char c : uid)
    if (!(c == '.' || (c >= '0' && c <= '9'))) return false;
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  // DCMTK logs every parse problem at WARN/ERROR; keep the fuzzer output readable.
  OFLog::configure(OFLogger::FATAL_LOG_LEVEL);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace volnode;
  const auto& dir = fuzz::scratchDir("dicom-header");
  const auto file = dir / "instance.dcm";
  const auto copy = dir / "copy.dcm";
  std::string_view bytes(reinterpret_cast<const char*>(data), size);
  fuzz::writeBytes(file, bytes);
  fuzz::writeBytes(copy, bytes);

  try {
    InstanceAttributes a = readInstanceAttributes(file);
    // What the store relies on afterwards: the four UIDs are safe to index and to
    // compare (file names never come from them, but SQL rows and URLs do).
    for (const std::string* uid : {&a.sop_uid, &a.sop_class_uid, &a.study_uid, &a.series_uid}) {
      if (!plausibleUid(*uid)) {
        std::fprintf(stderr, "accepted an implausible UID: '%s'\n", uid->c_str());
        std::abort();
      }
    }
  } catch (const Error&) {
    // InvalidDicom (or Io): the expected refusal.
  }

  // Duplicate detection must hold for identical files whatever their content.
  if (!sameDataset(file, copy)) {
    std::fprintf(stderr, "sameDataset(file, identical copy) is false\n");
    std::abort();
  }
  return 0;
}
