#pragma once
// STOW-RS client: stores DICOM files at a destination of type "dicomweb" with
// POST {url}/studies/{StudyInstanceUID}, one multipart/related; type="application/dicom"
// request per batch, each file streamed from disk (never held in memory whole).
//
// Outcomes come back per file, as the origin server reported them; a refusal of one
// instance does not stop the others. Expected failures (unreachable, timeouts, HTTP
// 401/403/404/415/503) are values in the report; nothing here throws for them. The
// retry policy (resume, back-off, attempt limit, refusal cache) belongs to the caller,
// shared with C-STORE (workflow/object_delivery.hpp).
//
// Secrets (password_file, token_file) are read at each send, so a rotated token is
// used without a restart; they never appear in a message.
//
// Over https a peer that closes the connection makes OpenSSL's write raise SIGPIPE:
// the process must ignore it (volnode's main does).
#include <cstdint>
#include <filesystem>
#include <set>
#include <string>
#include <vector>

#include "volnode/core/config.hpp"

namespace volnode::dicomweb {

enum class StowOutcome {
  Stored,        // in ReferencedSOPSequence without a WarningReason
  Warning,       // stored, with a WarningReason (coerced, elements discarded, ...)
  Failed,        // in FailedSOPSequence, or the request for its batch failed
  NotAccepted,   // not sent: its SOP class is refused (known refusal, or outside destination.sop_classes)
};

struct StowFileResult {
  std::string path;
  std::string sop_class_uid;
  std::string sop_instance_uid;
  StowOutcome outcome = StowOutcome::Failed;
  uint16_t reason = 0;      // FailureReason / WarningReason (a DICOM status, as for C-STORE)
  bool has_reason = false;
  std::string text;         // "" when stored; otherwise why, for an administrator
};

struct StowReport {
  std::vector<StowFileResult> files;  // one per input file, in input order
  // A request that failed as a whole (no connection, timeout, HTTP 401/403/404/415/503,
  // ...): the first such error, naming the HTTP status; "" when every request got a
  // STOW-RS answer. Files of the batches it concerns are Failed with this text.
  std::string request_error;
  int http_status = 0;                // the HTTP status of that request; 0 without a response
};

struct StowSettings {
  std::size_t max_batch_files = 100;            // instances per request
  std::uint64_t max_batch_bytes = 256ull << 20;  // bytes of DICOM per request (a single larger file goes alone)
};

// Checks what can be checked before the first send: the url parses, the secret and
// CA files can be read. Throws Error(InvalidConfig) naming the destination's key.
void checkDicomWebSettings(const Destination& destination);

struct ProbeResult {
  bool ok = false;
  int http_status = 0;
  std::string error;  // "" when ok
};

class StowClient {
 public:
  explicit StowClient(Destination destination, StowSettings settings = {});

  StowReport store(const std::vector<std::filesystem::path>& files,
                   const std::set<std::string>& known_refused = {}) const;

  // Health check: QIDO-RS GET {url}/studies?limit=1 with the destination's credentials.
  ProbeResult probe() const;

 private:
  Destination destination_;
  StowSettings settings_;
};

}  // namespace volnode::dicomweb
