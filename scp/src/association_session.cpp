#include "association_session.hpp"

#include <sys/socket.h>

#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcuid.h>
#include <dcmtk/dcmdata/dcxfer.h>
#include <dcmtk/dcmnet/diutil.h>

#include "slot_writer.hpp"

namespace volnode {
namespace {

constexpr Uint16 kStatusSuccess = 0x0000;
constexpr Uint16 kStatusOutOfResources = 0xA700;
constexpr Uint16 kStatusCannotUnderstand = 0xC000;

// Transfer syntaxes accepted; an instance is stored in the one it arrived in.
const char* const kTransferSyntaxes[] = {
    UID_LittleEndianImplicitTransferSyntax,
    UID_LittleEndianExplicitTransferSyntax,
    UID_BigEndianExplicitTransferSyntax,
    UID_DeflatedExplicitVRLittleEndianTransferSyntax,
    UID_JPEGProcess1TransferSyntax,
    UID_JPEGProcess2_4TransferSyntax,
    UID_JPEGProcess14TransferSyntax,
    UID_JPEGProcess14SV1TransferSyntax,
    UID_JPEGLSLosslessTransferSyntax,
    UID_JPEGLSLossyTransferSyntax,
    UID_RLELosslessTransferSyntax,
    UID_JPEG2000LosslessOnlyTransferSyntax,
    UID_JPEG2000TransferSyntax,
    UID_MPEG2MainProfileAtMainLevelTransferSyntax,
    UID_MPEG4HighProfileLevel4_1TransferSyntax,
};

std::string refuseReasonText(DcmRefuseReasonType reason) {
  switch (reason) {
    case DCMSCP_TOO_MANY_ASSOCIATIONS: return "too many associations";
    case DCMSCP_BAD_APPLICATION_CONTEXT_NAME: return "bad application context name";
    case DCMSCP_CALLING_HOST_NOT_ALLOWED: return "calling host not allowed";
    case DCMSCP_CALLED_AE_TITLE_NOT_RECOGNIZED: return "called AE title not recognized";
    case DCMSCP_CALLING_AE_TITLE_NOT_RECOGNIZED: return "calling AE title not allowed from this host";
    case DCMSCP_NO_IMPLEMENTATION_CLASS_UID: return "no implementation class UID";
    case DCMSCP_NO_PRESENTATION_CONTEXTS: return "no acceptable presentation contexts";
    case DCMSCP_INTERNAL_ERROR: return "internal error";
    case DCMSCP_FORCED: return "refused";
    default: return "refused";
  }
}

Uint16 dimseStatusOf(InstanceDisposition disposition) {
  switch (disposition) {
    case InstanceDisposition::Kept:
    case InstanceDisposition::Duplicate:
    case InstanceDisposition::KeptConflict: return kStatusSuccess;
    case InstanceDisposition::OutOfSpace: return kStatusOutOfResources;
    case InstanceDisposition::Invalid: return kStatusCannotUnderstand;
    case InstanceDisposition::Failed: return kStatusOutOfResources;
  }
  return kStatusOutOfResources;
}

// The cause at the end of an error message ("SQL failed on FILE: database or disk is
// full" -> "database or disk is full"): short enough for an error comment, and no
// file names of this machine go to the peer.
std::string causeOf(const std::string& message) {
  auto colon = message.rfind(": ");
  return colon == std::string::npos ? message : message.substr(colon + 2);
}

bool isStorageSopClass(const std::string& uid) {
  for (int i = 0; i < numberOfDcmAllStorageSOPClassUIDs; ++i)
    if (uid == dcmAllStorageSOPClassUIDs[i]) return true;
  return false;
}

bool isAcceptedTransferSyntax(const std::string& uid, bool verification) {
  for (const char* accepted : kTransferSyntaxes)
    if (uid == accepted) return !verification || DcmXfer(accepted).isNotEncapsulated();
  return false;
}

// An association's socket under the transfer watch for as long as its commands are
// served; forgotten before DCMTK closes the socket.
struct WatchedConnection {
  WatchedConnection(TransferWatch& w, int fd, std::string label)
      : watch(w), id(fd >= 0 ? w.watch(fd, std::move(label)) : 0) {}
  ~WatchedConnection() { watch.forget(id); }
  WatchedConnection(const WatchedConnection&) = delete;
  WatchedConnection& operator=(const WatchedConnection&) = delete;
  TransferWatch& watch;
  const TransferWatch::Id id;
};

}  // namespace

OFCondition AssociationSession::serve(T_ASC_Association* association) {
  association_handle_ = association;
  socket_ = shared_.sockets.take(association);
  // Released however the association ends (also when DCMTK refuses it).
  struct HostClaim {
    HostClaims& hosts;
    const std::string peer;
    ~HostClaim() { hosts.release(peer); }
  } claim{shared_.hosts, shared_.hosts.take(association)};
  OFCondition result = run(association);
  association_handle_ = nullptr;
  socket_ = -1;
  return result;
}

OFBool AssociationSession::checkCalledAETitleAccepted(const OFString& called_ae) {
  return !shared_.config.check_called_aet || trimmedTitle(called_ae.c_str()) == shared_.config.aet;
}

// DCMTK passes the presentation address here (it may carry more than the IP); use the peer IP.
OFBool AssociationSession::checkCallingHostAccepted(const OFString&) {
  return shared_.policy.hostAllowed(getPeerIP().c_str());
}

OFBool AssociationSession::checkCallingAETitleAccepted(const OFString& calling_ae) {
  return shared_.policy.peerAllowed(trimmedTitle(calling_ae.c_str()), getPeerIP().c_str());
}

void AssociationSession::refuseAssociation(const DcmRefuseReasonType reason) {
  shared_.recordRefusal({0, trimmedTitle(getPeerAETitle().c_str()), trimmedTitle(getCalledAETitle().c_str()),
                         getPeerIP().c_str()},
                        refuseReasonText(reason));
  DcmThreadSCP::refuseAssociation(reason);
}

// DCMTK's association configuration holds at most 128 presentation contexts per
// profile, fewer than the storage SOP classes there are, so contexts are decided
// here and the profile-based negotiation is skipped. Within a context the peer's
// own order wins: it proposes first the syntax it holds the data in, and taking
// that one stores the instance exactly as the peer has it.
void AssociationSession::notifyAssociationRequest(const T_ASC_Parameters& params, DcmSCPActionType&) {
  auto* writable = const_cast<T_ASC_Parameters*>(&params);
  for (int i = 0; i < ASC_countPresentationContexts(writable); ++i) {
    T_ASC_PresentationContext context;
    if (ASC_getPresentationContext(writable, i, &context).bad()) continue;
    const std::string abstract_syntax = context.abstractSyntax;
    const bool verification = abstract_syntax == UID_VerificationSOPClass;
    if (!verification && !isStorageSopClass(abstract_syntax)) {
      ASC_refusePresentationContext(writable, context.presentationContextID, ASC_P_ABSTRACTSYNTAXNOTSUPPORTED);
      continue;
    }
    const char* chosen = nullptr;
    for (int t = 0; t < context.transferSyntaxCount && !chosen; ++t)
      if (isAcceptedTransferSyntax(context.proposedTransferSyntaxes[t], verification))
        chosen = context.proposedTransferSyntaxes[t];
    if (chosen)
      ASC_acceptPresentationContext(writable, context.presentationContextID, chosen, ASC_SC_ROLE_DEFAULT);
    else
      ASC_refusePresentationContext(writable, context.presentationContextID, ASC_P_TRANSFERSYNTAXESNOTSUPPORTED);
  }
}

void AssociationSession::notifyAssociationAcknowledge() {
  association_ = {0, trimmedTitle(getPeerAETitle().c_str()), trimmedTitle(getCalledAETitle().c_str()),
                  getPeerIP().c_str()};
  stats_ = {};
  outcome_ = "interrupted";
  started_ = Clock::now();
  accepted_ = true;
  shared_.active++;
  shared_.total++;
  try {
    association_.id = shared_.sink.associationAccepted(association_);
  } catch (const std::exception& e) {
    shared_.log->error("cannot record association from '{}': {}", association_.calling_aet, e.what());
  }
}

void AssociationSession::notifyAssociationTermination() {
  if (!accepted_) return;
  accepted_ = false;
  shared_.active--;
  stats_.outcome = outcome_;
  stats_.duration_s = std::chrono::duration<double>(Clock::now() - started_).count();
  shared_.log->info("association from '{}' at {}: {} instances, {:.1f} MB, {} failed, {:.2f} s, {}",
                    association_.calling_aet, association_.peer_host, stats_.instances, stats_.bytes / 1e6,
                    stats_.failures, stats_.duration_s, stats_.outcome);
  try {
    shared_.sink.associationEnded(association_, stats_);
  } catch (const std::exception& e) {
    shared_.log->error("cannot record end of association {}: {}", association_.id, e.what());
  }
}

// DCMTK's own loop waits for the next command with the DIMSE timeout and, when
// it aborts, waits up to the ACSE timeout for the peer to close. Here the wait
// for a command is bounded by idle_timeout_s (a message once begun by
// dimse_timeout_s), and an abort closes the connection without waiting.
void AssociationSession::handleAssociation() {
  T_ASC_Association* association = association_handle_;
  if (!association) return;
  WatchedConnection watched(shared_.watch, socket_,
                            "association from '" + association_.calling_aet + "' at " + association_.peer_host);
  watch_id_ = watched.id;
  OFCondition cond = EC_Normal;
  while (cond.good()) {
    T_DIMSE_Message message;
    T_ASC_PresentationContextID presentation = 0;
    shared_.watch.waitingForCommand(watch_id_, Clock::now());
    cond = DIMSE_receiveCommand(association, DIMSE_NONBLOCKING, shared_.config.idle_timeout_s, &presentation,
                                &message, nullptr);
    shared_.watch.working(watch_id_);
    if (cond == DIMSE_NODATAAVAILABLE) {
      shared_.log->warn("association from '{}' at {}: no command for {} s (dicom.idle_timeout_s), aborted",
                        association_.calling_aet, association_.peer_host, shared_.config.idle_timeout_s);
      abortNow();
      return;
    }
    if (cond.good()) {
      DcmPresentationContextInfo info;
      getPresentationContextInfo(association, presentation, info);
      cond = handleIncomingCommand(&message, info);
    }
  }
  if (cond == DUL_PEERREQUESTEDRELEASE) {
    notifyReleaseRequest();
    ASC_acknowledgeRelease(association);
  } else if (cond == DUL_PEERABORTEDASSOCIATION) {
    notifyAbortRequest();
  } else {
    notifyDIMSEError(cond);
    abortNow();
  }
}

OFCondition AssociationSession::handleIncomingCommand(T_DIMSE_Message* message, const DcmPresentationContextInfo& info) {
  if (message->CommandField != DIMSE_C_STORE_RQ) {
    // C-ECHO (or a refusal of another command): DCMTK only sends an answer.
    shared_.watch.sending(watch_id_, Clock::now());
    OFCondition cond = DcmThreadSCP::handleIncomingCommand(message, info);
    shared_.watch.working(watch_id_);
    return cond;
  }
  return handleStore(message->msg.CStoreRQ, info.presentationContextID);
}

// Sends an A-ABORT and closes at once: reading is shut first, so DCMTK does not
// wait for the peer to close its end (a peer that never reads would hold it).
void AssociationSession::abortNow() {
  if (socket_ >= 0) ::shutdown(socket_, SHUT_RD);
  ASC_abortAssociation(association_handle_);
}

OFCondition AssociationSession::respond(T_ASC_PresentationContextID presentation, const T_DIMSE_C_StoreRQ& request,
                                        Uint16 status, const std::string& comment) {
  shared_.watch.sending(watch_id_, Clock::now());
  OFCondition cond;
  if (status == kStatusSuccess) {
    cond = sendSTOREResponse(presentation, request, status);
  } else {
    stats_.failures++;
    DcmDataset detail;
    detail.putAndInsertString(DCM_ErrorComment, comment.substr(0, 64).c_str());
    cond = sendSTOREResponse(presentation, request.MessageID, request.AffectedSOPClassUID,
                             request.AffectedSOPInstanceUID, status, &detail);
  }
  shared_.watch.working(watch_id_);
  return cond;
}

// Receives a data set into `stream`, under the watch's minimum rate.
OFCondition AssociationSession::receiveDataset(SlotWriter& writer, DcmOutputStream& stream,
                                               T_ASC_PresentationContextID* presentation) {
  writer.countInto(shared_.watch, watch_id_);
  shared_.watch.receivingData(watch_id_, Clock::now());
  OFCondition cond = DIMSE_receiveDataSetInFile(association_handle_, DIMSE_NONBLOCKING,
                                                shared_.config.dimse_timeout_s, presentation, &stream, nullptr,
                                                nullptr);
  shared_.watch.working(watch_id_);
  return cond;
}

// Reads the dataset that follows a C-STORE command off the wire and drops it
// (a writer without a file takes every byte and keeps none).
OFCondition AssociationSession::discardDataset() {
  SlotWriter dropper(write_buffer_);
  SlotStream stream(&dropper);
  T_ASC_PresentationContextID presentation = 0;
  return receiveDataset(dropper, stream, &presentation);
}

OFCondition AssociationSession::refuse(T_ASC_PresentationContextID presentation, const T_DIMSE_C_StoreRQ& request,
                                       const std::string& why) {
  OFCondition drained = discardDataset();
  if (drained.bad()) return drained;
  shared_.log->warn("C-STORE {} from '{}' refused (0xA700): {}", request.AffectedSOPInstanceUID,
                    association_.calling_aet, why);
  return respond(presentation, request, kStatusOutOfResources, why);
}

OFCondition AssociationSession::handleStore(T_DIMSE_C_StoreRQ& request, T_ASC_PresentationContextID presentation) {
  if (request.DataSetType == DIMSE_DATASET_NULL) {
    shared_.log->warn("C-STORE {} from '{}' without a dataset: association aborted", request.AffectedSOPInstanceUID,
                      association_.calling_aet);
    return DIMSE_BADMESSAGE;
  }
  std::string why;
  bool accepting = false;
  try {
    accepting = shared_.sink.acceptsInstances(&why);
  } catch (const std::exception& e) {
    shared_.log->error("cannot check free space: {}", e.what());
    why = causeOf(e.what());
  }
  if (!accepting) return refuse(presentation, request, why);

  std::unique_ptr<PendingInstance> pending;
  try {
    pending = shared_.sink.prepareInstance();
  } catch (const std::exception& e) {
    shared_.log->error("C-STORE {}: cannot prepare storage: {}", request.AffectedSOPInstanceUID, e.what());
    return refuse(presentation, request, "cannot prepare storage: " + causeOf(e.what()));
  }
  T_ASC_PresentationContext context;
  if (ASC_findAcceptedPresentationContext(association_handle_->params, presentation, &context).bad()) {
    pending.reset();
    return refuse(presentation, request, "no accepted presentation context");
  }

  // Bit-preserving: the dataset goes to the file exactly as it came off the wire.
  SlotWriter writer(write_buffer_);
  if (!writer.open(pending->file().string())) {
    std::string problem = "cannot write the instance: " + writer.problem();
    pending.reset();
    return refuse(presentation, request, problem);
  }
  writer.limitTo(uint64_t(shared_.config.max_instance_mb) << 20);
  SlotStream stream(&writer);
  OFCondition header = writeMetaHeader(stream, request.AffectedSOPClassUID, request.AffectedSOPInstanceUID,
                                       context.acceptedTransferSyntax,
                                       association_handle_->params->DULparams.callingAPTitle);
  T_ASC_PresentationContextID dataset_presentation = 0;
  OFCondition received = receiveDataset(writer, stream, &dataset_presentation);
  std::string problem;
  bool written = writer.finish(&problem) && header.good();
  if (header.bad() && problem.empty()) problem = header.text();
  if (received.bad()) {
    shared_.log->warn("C-STORE {} from '{}' not received completely: {}", request.AffectedSOPInstanceUID,
                      association_.calling_aet, received.text());
    return received;  // the association cannot continue; the pending file is discarded
  }
  if (dataset_presentation != presentation) {
    shared_.log->warn("C-STORE {} from '{}': command and dataset on different presentation contexts",
                      request.AffectedSOPInstanceUID, association_.calling_aet);
    return makeDcmnetCondition(DIMSEC_INVALIDPRESENTATIONCONTEXTID, OF_error,
                               "DIMSE: Presentation Contexts of Command and Data Set differ");
  }
  if (writer.overLimit()) {
    pending.reset();  // the slot and the part that was written are released
    const std::string reason = "instance of " + std::to_string(writer.bytesTaken() >> 20) +
                               " MB is larger than dicom.max_instance_mb = " +
                               std::to_string(shared_.config.max_instance_mb);
    shared_.log->warn("C-STORE {} from '{}' at {} answered 0xA700: {}", request.AffectedSOPInstanceUID,
                      association_.calling_aet, association_.peer_host, reason);
    return respond(presentation, request, kStatusOutOfResources, reason);
  }
  if (!written) {
    // Nothing half-written stays: the slot file is removed before the answer goes out.
    pending.reset();
    const std::string reason = "cannot write the instance: " + problem;
    shared_.log->warn("C-STORE {} from '{}' answered 0xA700: {}", request.AffectedSOPInstanceUID,
                      association_.calling_aet, reason);
    return respond(presentation, request, kStatusOutOfResources, reason);
  }

  DispositionResult result;
  try {
    result = pending->keep(request.AffectedSOPClassUID, request.AffectedSOPInstanceUID, association_);
  } catch (const std::exception& e) {
    result = {InstanceDisposition::Failed, e.what(), 0};
  }
  Uint16 status = dimseStatusOf(result.disposition);
  if (status == kStatusSuccess) {
    stats_.instances++;
    stats_.bytes += static_cast<int64_t>(result.bytes);
  } else {
    shared_.log->warn("C-STORE {} from '{}' answered 0x{:04X}: {}", request.AffectedSOPInstanceUID,
                      association_.calling_aet, status, result.reason);
  }
  return respond(presentation, request, status, result.reason);
}

}  // namespace volnode
