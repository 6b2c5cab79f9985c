#pragma once
// Internal to volnode_scp: one association that this node requests as an SCU,
// on DCMTK's ASC/DIMSE layer, shared by StoreScu and RetrieveScu. It owns the
// DCMTK network, parameters and association and frees them on every path.
// We use ASC directly rather than DcmSCU because DcmSCU keeps the A-ASSOCIATE-RJ
// reason private, and an administrator needs that reason.
#include <memory>
#include <string>
#include <vector>

#include <dcmtk/dcmnet/assoc.h>
#include <dcmtk/dcmnet/dimse.h>

#include "volnode/core/config.hpp"
#include "volnode/scp/store_scu.hpp"

class DcmTLSTransportLayer;

namespace volnode::scu_detail {

class ConnectedSocketHandover;

// One presentation context to propose: one abstract syntax, one transfer syntax,
// so that each accepted context says exactly which transfer syntax was agreed.
struct ProposedContext {
  std::string abstract_syntax;
  std::string transfer_syntax;
  bool operator==(const ProposedContext&) const = default;
};

enum class OpenResult {
  Open,            // association established, at least one context accepted
  NoneAccepted,    // association established but the peer refused every context (already released)
  Unreachable,     // no TCP connection (refused, no route, connect timeout)
  Rejected,        // A-ASSOCIATE-RJ
  TlsFailed,       // the TLS handshake failed (certificate refused either way, peer not speaking TLS)
  Failed,          // anything else (ACSE timeout, peer abort during negotiation)
};

class ScuAssociation {
 public:
  ScuAssociation(const ScuSettings& settings, const Destination& peer);
  ~ScuAssociation();
  ScuAssociation(const ScuAssociation&) = delete;
  ScuAssociation& operator=(const ScuAssociation&) = delete;

  // Requests the association (over TLS when the peer's settings say so). On
  // anything but Open, error() says why, naming the peer.
  OpenResult open(const std::vector<ProposedContext>& contexts);
  const std::string& error() const { return error_; }

  // The accepted context for (abstract, transfer) syntax; 0 when there is none.
  // An empty transfer syntax matches any accepted one.
  T_ASC_PresentationContextID acceptedContext(const std::string& abstract_syntax,
                                              const std::string& transfer_syntax = "") const;
  // The transfer syntax agreed for an accepted context, "" when not accepted.
  std::string acceptedTransferSyntax(T_ASC_PresentationContextID id) const;
  bool anyAccepted(const std::string& abstract_syntax) const { return acceptedContext(abstract_syntax) != 0; }

  bool isOpen() const { return assoc_ != nullptr && open_; }
  T_ASC_Association* get() const { return assoc_; }
  DIC_US nextMessageId() { return assoc_->nextMsgID++; }
  T_DIMSE_BlockingMode blockMode() const { return settings_.dimse_timeout_s > 0 ? DIMSE_NONBLOCKING : DIMSE_BLOCKING; }
  int dimseTimeout() const { return settings_.dimse_timeout_s; }

  // Orderly end (A-RELEASE); drops the connection when the release fails.
  void release();
  // Closes the connection at once, for an association whose state is no longer
  // known (DIMSE failure or timeout). Not A-ABORT: DCMTK's abort waits up to 10 s
  // for the peer to close, and a peer that stopped answering would hold us that long.
  void drop();

  // "AET@host:port", for messages.
  std::string peerName() const;

 private:
  void freeAll();
  // After a successful TLS handshake: what was negotiated, logged when it changes for this peer.
  void noteTlsOutcome();

  ScuSettings settings_;
  Destination peer_;
  std::unique_ptr<DcmTLSTransportLayer> tls_;  // outlives handover_ and net_, which use it
  std::unique_ptr<ConnectedSocketHandover> handover_;  // outlives net_, which uses it
  T_ASC_Network* net_ = nullptr;
  T_ASC_Parameters* params_ = nullptr;
  T_ASC_Association* assoc_ = nullptr;
  bool open_ = false;
  std::string error_;
};

// A DCMTK condition as one line: the whole chain, joined.
std::string conditionText(const OFCondition& cond);

// The condition comes from DCMTK's TLS layer (handshake, TLS record error).
bool isTlsFailure(const OFCondition& cond);

// Human-readable name of a UID ("CT Image Storage"), or the UID itself.
std::string uidName(const std::string& uid);

}  // namespace volnode::scu_detail
