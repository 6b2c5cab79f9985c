#pragma once
// C-STORE SCU: sends DICOM files to one destination (a PACS, a workstation) on
// one association, and C-ECHO for health checks.
//
// For every SOP class among the files it proposes one presentation context per
// transfer syntax: each file's own, plus Explicit and Implicit VR Little Endian.
// At send time a file goes in its own transfer syntax when the destination took
// it, otherwise uncompressed, when the file is uncompressed or DCMTK has a decoder
// for it. SOP classes the destination refuses are reported, per file, as
// NotAccepted; callers cache them per destination and pass them back as
// `known_refused` so they are not proposed again.
//
// Expected outcomes (refusals, failure statuses, an unreachable destination, a
// failed TLS handshake) are values in SendReport; nothing here throws for them.
//
// DICOM TLS: a destination with `tls = true` is reached over TLS only (see
// Destination in core/config.hpp); checkTlsSettings() loads its files once so
// that a wrong path stops start-up instead of the first send.
// Requires volnode::initDicomNetworking() (volnode/scp/dicom_network.hpp) once at start-up.
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "volnode/core/config.hpp"

namespace volnode {

// How this node associates with peers as an SCU. Timeouts in seconds; 0 means
// wait forever (not advisable).
struct ScuSettings {
  std::string calling_aet = "VOLNODE";
  int connect_timeout_s = 10;   // TCP connect
  int acse_timeout_s = 30;      // association negotiation and release
  int dimse_timeout_s = 60;     // each DIMSE response
  uint32_t max_pdu = 131072;    // the largest PDU we announce we can receive
};

// Why an association could not be used; None when it could.
enum class AssociationFailure {
  None,
  Unreachable,   // nothing accepted the TCP connection (down, wrong host/port, connect timeout)
  Rejected,      // the peer sent A-ASSOCIATE-RJ (e.g. unknown calling or called AE title)
  Tls,           // the TLS handshake failed (certificate refused either way, peer not speaking TLS)
  Failed,        // negotiation broke off (ACSE timeout, abort), or the association was lost
};
std::string_view associationFailureName(AssociationFailure failure) noexcept;

enum class SendOutcome {
  Delivered,     // status 0x0000
  Warning,       // stored with a warning (0xB000, 0xB006, 0xB007, 0x0001 or another 0xBxxx)
  Failed,        // a failure status (0xA7xx, 0xA9xx, 0xCxxx, ...), unreadable file, lost association
  NotAccepted,   // the destination does not take this SOP class (refused now, or known refused)
};
std::string_view sendOutcomeName(SendOutcome outcome) noexcept;

struct FileSendResult {
  std::string path;
  std::string sop_class_uid;
  std::string sop_instance_uid;
  std::string transfer_syntax_uid;  // what it went over the wire in; "" when not sent
  SendOutcome outcome = SendOutcome::Failed;
  uint16_t status = 0;              // C-STORE response status; 0 when no response was received
  bool has_status = false;          // true when `status` came from a C-STORE response
  std::string text;                 // "" when delivered; otherwise the reason, for an administrator
};

struct SendReport {
  std::vector<FileSendResult> files;            // one per input file, in input order
  AssociationFailure association = AssociationFailure::None;
  std::string association_error;                // "" unless `association` is not None
  std::set<std::string> refused_sop_classes;    // refused by the destination in this send: cache them
  // A send over several associations at once: how many it opened, and how many of them
  // failed as a whole (refused, dropped) while another worked. 0 and 0 over one.
  std::size_t associations_opened = 0;
  std::size_t associations_turned_away = 0;

  std::size_t count(SendOutcome outcome) const;
  // Every file was delivered (possibly with a warning).
  bool allDelivered() const;
};

struct EchoResult {
  bool ok = false;
  AssociationFailure association = AssociationFailure::None;
  uint16_t status = 0;          // C-ECHO response status when one came back
  std::string error;            // "" when ok
};

// Loads the TLS files of a destination with tls = true (no-op otherwise); throws
// Error(InvalidConfig) naming the destination's key when one cannot be used.
void checkTlsSettings(const Destination& destination);

class StoreScu {
 public:
  explicit StoreScu(ScuSettings settings);

  // Sends `files` to `destination`. SOP classes in `known_refused`, and those
  // outside a non-empty destination.sop_classes, are not proposed; their files
  // come back NotAccepted. Uses one association, or several in sequence when the
  // files need more than the 128 presentation contexts one association allows.
  SendReport send(const Destination& destination, const std::vector<std::filesystem::path>& files,
                  const std::set<std::string>& known_refused = {}) const;

  // C-ECHO on a fresh association.
  EchoResult echo(const Destination& destination) const;

 private:
  ScuSettings settings_;
};

}  // namespace volnode
