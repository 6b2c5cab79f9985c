#include "scu_association.hpp"

#include <cctype>
#include <string>

#include <dcmtk/dcmdata/dcuid.h>
#include <dcmtk/dcmnet/cond.h>
#include <dcmtk/dcmnet/dul.h>
#include <dcmtk/ofstd/ofstd.h>

#include "volnode/core/logging.hpp"

namespace volnode::scu_detail {
namespace {

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

bool isConnectFailure(const OFCondition& cond) {
  // DCMTK stacks conditions and the TCP error (0006:031c) or unknown host
  // (0006:0320) is the innermost one, so look at the whole chain's text.
  std::string text = conditionText(cond);
  for (char& c : text) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  for (const char* sign : {"tcp initialization error", "unknown host", "connection refused", "no route to host",
                           "network is unreachable", "timed out"})
    if (text.find(sign) != std::string::npos) return true;
  return false;
}

}  // namespace

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
  return peer_.aet + "@" + peer_.host + ":" + std::to_string(peer_.port);
}

OpenResult ScuAssociation::open(const std::vector<ProposedContext>& contexts) {
  freeAll();
  error_.clear();
  const std::string prefix = "association with " + peerName() + " failed: ";
  if (contexts.empty() || contexts.size() > 128) {
    error_ = prefix + "internal: " + std::to_string(contexts.size()) + " presentation contexts (1..128 allowed)";
    return OpenResult::Failed;
  }

  // Process-wide in DCMTK 3.6.7; every SCU sets its own before connecting.
  dcmConnectionTimeout.set(settings_.connect_timeout_s > 0 ? settings_.connect_timeout_s : -1);
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
  ASC_setAPTitles(params_, settings_.calling_aet.c_str(), peer_.aet.c_str(), nullptr);
  const std::string peer_address = peer_.host + ":" + std::to_string(peer_.port);
  ASC_setPresentationAddresses(params_, OFStandard::getHostName().c_str(), peer_address.c_str());

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

  cond = ASC_requestAssociation(net_, params_, &assoc_);
  if (cond.bad()) {
    if (cond == DUL_ASSOCIATIONREJECTED) {
      T_ASC_RejectParameters rej;
      ASC_getRejectParameters(params_, &rej);
      error_ = "association with " + peerName() + " rejected: " + rejectText(rej);
      return OpenResult::Rejected;
    }
    if (isConnectFailure(cond)) {
      error_ = "destination " + peerName() + " unreachable: " + conditionText(cond);
      return OpenResult::Unreachable;
    }
    error_ = prefix + conditionText(cond);
    return OpenResult::Failed;
  }
  open_ = true;
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
}

}  // namespace volnode::scu_detail
