#include "scu_association.hpp"

#include <cctype>
#include <map>
#include <mutex>
#include <string>

#include <dcmtk/dcmdata/dcuid.h>
#include <dcmtk/dcmnet/cond.h>
#include <dcmtk/dcmnet/dcmtrans.h>
#include <dcmtk/dcmnet/dul.h>
#include <dcmtk/dcmtls/tlslayer.h>
#include <dcmtk/ofstd/ofstd.h>

#include "volnode/core/error.hpp"
#include "volnode/core/logging.hpp"
#include "scu_connect.hpp"
#include "tls_layer.hpp"

namespace volnode::scu_detail {
namespace {

std::string lower(std::string text) {
  for (char& c : text) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return text;
}

// What an administrator should look at after a failed handshake.
std::string tlsHint(const Destination& peer, const std::string& failure) {
  const std::string key = "destinations." + peer.name + ".";
  const std::string text = lower(failure);
  if (text.find("hostname mismatch") != std::string::npos || text.find("ip address mismatch") != std::string::npos)
    return "its certificate does not name " + peer.host + " (set " + key +
           "tls_verify_host = false only if the certificate cannot carry the host name)";
  if (text.find("revoked") != std::string::npos)
    return "its certificate is revoked by its CA (the CRL in " + key + "tls_crl)";
  if (text.find("crl") != std::string::npos)
    return "the CRL in " + key + "tls_crl does not cover its CA, or is out of date; fetch the current CRL";
  if (text.find("expired") != std::string::npos || text.find("not yet valid") != std::string::npos)
    return "its certificate (or one of its chain) is outside its validity dates; check the certificate and the clocks";
  if (text.find("unable to get") != std::string::npos || text.find("self-signed") != std::string::npos ||
      text.find("self signed") != std::string::npos ||
      (text.find("certificate") != std::string::npos && text.find("verify") != std::string::npos))
    return "its certificate is not signed by a CA in " + key + "tls_ca";
  if (text.find("ssl_error_want_read") != std::string::npos || text.find("did not complete") != std::string::npos)
    return "it did not answer the TLS handshake in time (" + std::to_string(dcmSocketReceiveTimeout.get()) +
           " s); does it speak DICOM TLS on port " + std::to_string(peer.port) + "?";
  if (text.find("alert") != std::string::npos && text.find("certificate") != std::string::npos)
    return "it refused our client certificate (" + key + "tls_cert)";
  if (text.find("wrong version number") != std::string::npos || text.find("unexpected eof") != std::string::npos ||
      text.find("packet length") != std::string::npos || text.find("record layer") != std::string::npos ||
      text.find("connection reset") != std::string::npos || text.find("syscall") != std::string::npos)
    return "does it speak DICOM TLS on port " + std::to_string(peer.port) + "?";
  return "check " + key + "tls_* and the peer's TLS settings";
}

std::string rejectText(const T_ASC_RejectParameters& rej) {
  std::string reason;
  switch (rej.reason) {
    case ASC_REASON_SU_NOREASON: reason = "no reason given"; break;
    case ASC_REASON_SU_APPCONTEXTNAMENOTSUPPORTED: reason = "application context name not supported"; break;
    case ASC_REASON_SU_CALLINGAETITLENOTRECOGNIZED: reason = "calling AE title not recognized"; break;
    case ASC_REASON_SU_CALLEDAETITLENOTRECOGNIZED: reason = "called AE title not recognized"; break;
    case ASC_REASON_SP_ACSE_NOREASON: reason = "no reason given (ACSE)"; break;
    case ASC_REASON_SP_ACSE_PROTOCOLVERSIONNOTSUPPORTED: reason = "protocol version not supported"; break;
    case ASC_REASON_SP_PRES_TEMPORARYCONGESTION: reason = "temporary congestion"; break;
    case ASC_REASON_SP_PRES_LOCALLIMITEXCEEDED: reason = "local limit exceeded (too many associations)"; break;
    default: reason = "reason " + std::to_string(static_cast<int>(rej.reason)); break;
  }
  const char* kind = rej.result == ASC_RESULT_REJECTEDTRANSIENT ? "transient" : "permanent";
  return reason + " (" + kind + ")";
}

// Negotiated TLS per peer, so that a change (or the first association) is logged
// at info and the same outcome every 30 s (C-ECHO) only at debug.
std::mutex g_tls_outcome_mutex;
std::map<std::string, std::string> g_tls_outcome;

bool outcomeChanged(const std::string& peer, const std::string& outcome) {
  std::lock_guard lock(g_tls_outcome_mutex);
  auto& last = g_tls_outcome[peer];
  if (last == outcome) return false;
  last = outcome;
  return true;
}

}  // namespace

bool isTlsFailure(const OFCondition& cond) {
  if (cond.module() == OFM_dcmnet && cond.code() == DULC_TLSERROR) return true;
  const std::string text = lower(conditionText(cond));
  return text.find("tls") != std::string::npos || text.find("ssl") != std::string::npos ||
         text.find("secure transport") != std::string::npos;
}

std::string conditionText(const OFCondition& cond) {
  OFString dumped;
  DimseCondition::dump(dumped, cond);
  std::string text = dumped.c_str();
  // Condition chains are printed one per line with codes "0006:031b ..."; keep it on one line.
  std::string out;
  for (char c : text) out += (c == '\n') ? ';' : c;
  while (!out.empty() && (out.back() == ';' || out.back() == ' ')) out.pop_back();
  return out;
}

std::string uidName(const std::string& uid) { return dcmFindNameOfUID(uid.c_str(), uid.c_str()); }

ScuAssociation::ScuAssociation(const ScuSettings& settings, const Destination& peer) : settings_(settings), peer_(peer) {}

ScuAssociation::~ScuAssociation() {
  if (isOpen()) drop();
  freeAll();
}

std::string ScuAssociation::peerName() const {
  return peer_.aet + "@" + peer_.host + ":" + std::to_string(peer_.port) + (peer_.tls ? " (TLS)" : "");
}

void ScuAssociation::noteTlsOutcome() {
  // DCMTK describes the connection as "name : value" lines (protocol, cipher
  // suite, the peer certificate's subject, issuer, validity); keep the useful ones.
  OFString dumped;
  ASC_dumpConnectionParameters(dumped, assoc_);
  std::map<std::string, std::string> fields;
  std::string text = dumped.c_str();
  for (size_t start = 0; start < text.size();) {
    size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    const std::string line = text.substr(start, end - start);
    start = end + 1;
    const size_t colon = line.find(" : ");
    if (colon == std::string::npos) continue;
    auto trim = [](std::string v) {
      while (!v.empty() && v.front() == ' ') v.erase(v.begin());
      while (!v.empty() && v.back() == ' ') v.pop_back();
      return v;
    };
    fields.emplace(trim(line.substr(0, colon)), trim(line.substr(colon + 3)));
  }
  auto field = [&](const char* name) {
    auto found = fields.find(name);
    return found == fields.end() ? std::string("?") : found->second;
  };
  std::string outcome = field("Protocol") + ", " + field("Ciphersuite") + "; server certificate " + field("Subject") +
                        " issued by " + field("Issued by");
  if (fields.count("Validity")) {
    const std::string validity = fields["Validity"];
    const size_t after = validity.find("not after ");
    outcome += ", valid until " + (after == std::string::npos ? validity : validity.substr(after + 10));
  }
  outcome += "; " + std::string(peer_.tls_verify_peer == "ignore" ? "peer certificate NOT verified"
                                : peer_.tls_verify_host           ? "peer certificate and host name verified"
                                                                  : "peer certificate verified (host name not checked)");
  outcome += peer_.tls_cert.empty() ? ", no client certificate sent" : ", client certificate " + peer_.tls_cert;
  auto log = moduleLogger("scp");
  if (outcomeChanged(peerName(), outcome))
    log->info("TLS with {}: {}", peerName(), outcome);
  else
    log->debug("TLS with {}: {}", peerName(), outcome);
}

OpenResult ScuAssociation::open(const std::vector<ProposedContext>& contexts) {
  freeAll();
  error_.clear();
  const std::string prefix = "association with " + peerName() + " failed: ";
  if (contexts.empty() || contexts.size() > 128) {
    error_ = prefix + "internal: " + std::to_string(contexts.size()) + " presentation contexts (1..128 allowed)";
    return OpenResult::Failed;
  }

  OFCondition cond = ASC_initializeNetwork(NET_REQUESTOR, 0, settings_.acse_timeout_s, &net_);
  if (cond.bad()) {
    error_ = prefix + conditionText(cond);
    return OpenResult::Failed;
  }
  cond = ASC_createAssociationParameters(&params_, static_cast<long>(settings_.max_pdu));
  if (cond.bad()) {
    error_ = prefix + conditionText(cond);
    return OpenResult::Failed;
  }
  if (peer_.tls) {
    try {
      tls_ = makeTlsLayer(destinationTlsOptions(peer_));
    } catch (const Error& e) {
      error_ = prefix + e.what();
      return OpenResult::TlsFailed;
    }
    cond = ASC_setTransportLayerType(params_, OFTrue);
    if (cond.bad()) {
      error_ = prefix + "cannot use TLS: " + conditionText(cond);
      return OpenResult::TlsFailed;
    }
  }
  ASC_setAPTitles(params_, settings_.calling_aet.c_str(), peer_.aet.c_str(), nullptr);

  T_ASC_PresentationContextID id = 1;
  for (const auto& context : contexts) {
    const char* syntaxes[] = {context.transfer_syntax.c_str()};
    cond = ASC_addPresentationContext(params_, id, context.abstract_syntax.c_str(), syntaxes, 1);
    if (cond.bad()) {
      error_ = prefix + conditionText(cond);
      return OpenResult::Failed;
    }
    id = static_cast<T_ASC_PresentationContextID>(id + 2);
  }

  // The TCP connection, with this association's own connect timeout, handed to
  // DCMTK through the network's transport layer (see scu_connect.hpp).
  TcpConnection tcp = connectTcp(peer_.host, peer_.port, settings_.connect_timeout_s);
  if (tcp.fd < 0) {
    error_ = "destination " + peerName() + " unreachable: " + tcp.error;
    return OpenResult::Unreachable;
  }
  handover_ = std::make_unique<ConnectedSocketHandover>(tcp.fd, tls_.get());
  if (const std::string why = handover_->openPlaceholder(); !why.empty()) {
    error_ = prefix + why;
    return OpenResult::Failed;
  }
  cond = ASC_setTransportLayer(net_, handover_.get(), 0);
  if (cond.bad()) {
    error_ = prefix + conditionText(cond);
    return OpenResult::Failed;
  }
  ASC_setPresentationAddresses(params_, OFStandard::getHostName().c_str(), handover_->placeholderAddress().c_str());

  takeTlsVerifyError();  // what an earlier handshake on this thread left
  cond = ASC_requestAssociation(net_, params_, &assoc_);
  const std::string verify_error = takeTlsVerifyError();
  if (cond.bad()) {
    if (cond == DUL_ASSOCIATIONREJECTED) {
      T_ASC_RejectParameters rej;
      ASC_getRejectParameters(params_, &rej);
      error_ = "association with " + peerName() + " rejected: " + rejectText(rej);
      return OpenResult::Rejected;
    }
    const std::string text = conditionText(cond);
    if (!handover_->handedOver()) {
      error_ = prefix + "the connection could not be handed to DCMTK: " + text;
      return OpenResult::Failed;
    }
    if (peer_.tls && (!verify_error.empty() || isTlsFailure(cond))) {
      const std::string reason = verify_error.empty() ? text : "certificate refused: " + verify_error;
      error_ = "TLS handshake with " + peerName() + " failed: " + reason + "; " + tlsHint(peer_, reason + " " + text);
      auto log = moduleLogger("scp");
      if (outcomeChanged(peerName(), error_)) log->warn("{}", error_);
      return OpenResult::TlsFailed;
    }
    // TLS 1.3: the server checks our certificate after our side of the handshake
    // is done, so its refusal shows as the connection closing under the
    // A-ASSOCIATE-RQ (reset while sending it, or no answer to it).
    if (peer_.tls && (text.find("sendAssociationRQ") != std::string::npos ||
                      lower(text).find("connection reset") != std::string::npos ||
                      lower(text).find("peer aborted association") != std::string::npos)) {
      error_ = "TLS association with " + peerName() + " failed: the peer closed the connection before answering (" +
               text + "); after a TLS handshake this usually means it refused our client certificate (" +
               (peer_.tls_cert.empty() ? "none is configured: set destinations." + peer_.name + ".tls_cert and tls_key"
                                       : "destinations." + peer_.name + ".tls_cert") +
               ")";
      auto log = moduleLogger("scp");
      if (outcomeChanged(peerName(), error_)) log->warn("{}", error_);
      return OpenResult::TlsFailed;
    }
    error_ = prefix + text;
    return OpenResult::Failed;
  }
  open_ = true;
  if (peer_.tls) noteTlsOutcome();
  if (ASC_countAcceptedPresentationContexts(params_) == 0) {
    error_ = "association with " + peerName() + ": no presentation context accepted";
    release();
    return OpenResult::NoneAccepted;
  }
  return OpenResult::Open;
}

T_ASC_PresentationContextID ScuAssociation::acceptedContext(const std::string& abstract_syntax,
                                                            const std::string& transfer_syntax) const {
  if (params_ == nullptr) return 0;
  const int n = ASC_countPresentationContexts(params_);
  for (int i = 0; i < n; ++i) {
    T_ASC_PresentationContext pc;
    if (ASC_getPresentationContext(params_, i, &pc).bad()) continue;
    if (pc.resultReason != ASC_P_ACCEPTANCE) continue;
    if (abstract_syntax != pc.abstractSyntax) continue;
    if (!transfer_syntax.empty() && transfer_syntax != pc.acceptedTransferSyntax) continue;
    return pc.presentationContextID;
  }
  return 0;
}

std::string ScuAssociation::acceptedTransferSyntax(T_ASC_PresentationContextID id) const {
  if (params_ == nullptr) return {};
  const int n = ASC_countPresentationContexts(params_);
  for (int i = 0; i < n; ++i) {
    T_ASC_PresentationContext pc;
    if (ASC_getPresentationContext(params_, i, &pc).bad()) continue;
    if (pc.presentationContextID == id && pc.resultReason == ASC_P_ACCEPTANCE) return pc.acceptedTransferSyntax;
  }
  return {};
}

void ScuAssociation::release() {
  if (!isOpen()) return;
  open_ = false;
  OFCondition cond = ASC_releaseAssociation(assoc_);
  if (cond.bad()) {
    moduleLogger("scp")->debug("release of association with {} failed ({}); dropping it", peerName(), conditionText(cond));
    ASC_dropAssociation(assoc_);
  }
}

void ScuAssociation::drop() {
  if (!isOpen()) return;
  open_ = false;
  ASC_dropAssociation(assoc_);
}

void ScuAssociation::freeAll() {
  open_ = false;
  if (assoc_ != nullptr) {
    ASC_destroyAssociation(&assoc_);  // drops the connection and frees the parameters it holds
    assoc_ = nullptr;
    params_ = nullptr;
  }
  if (params_ != nullptr) {
    ASC_destroyAssociationParameters(&params_);
    params_ = nullptr;
  }
  if (net_ != nullptr) {
    ASC_dropNetwork(&net_);
    net_ = nullptr;
  }
  handover_.reset();
  tls_.reset();
}

}  // namespace volnode::scu_detail
