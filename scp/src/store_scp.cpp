#include "volnode/scp/store_scp.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <list>
#include <map>
#include <mutex>
#include <thread>
#include <vector>

#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcmetinf.h>
#include <dcmtk/dcmdata/dcostrma.h>
#include <dcmtk/dcmdata/dcuid.h>
#include <dcmtk/dcmdata/dcxfer.h>
#include <dcmtk/dcmnet/dcmlayer.h>
#include <dcmtk/dcmnet/dcmtrans.h>
#include <dcmtk/dcmnet/dimse.h>
#include <dcmtk/dcmnet/diutil.h>
#include <dcmtk/dcmnet/dul.h>
#include <dcmtk/dcmnet/scppool.h>
#include <dcmtk/dcmnet/scpthrd.h>
#include <dcmtk/dcmtls/tlslayer.h>

#include "peer_policy.hpp"
#include "volnode/core/error.hpp"
#include "volnode/core/logging.hpp"
#include "volnode/scp/transfer_watch.hpp"

namespace volnode {
namespace {

using Clock = std::chrono::steady_clock;

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

std::string trimmed(const OFString& text) {
  std::string s = text.c_str();
  auto end = s.find_last_not_of(' ');
  return end == std::string::npos ? std::string() : s.substr(0, end + 1);
}

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

// ---- handing accepted connections to DCMTK -------------------------------------------------
//
// DCMTK 3.6.7 reads an association request only inside ASC_receiveAssociation(),
// which also accepts the TCP connection, and DcmBaseSCPPool::listen() calls it on
// its single listener thread: a caller that connects and then sends nothing (or
// its A-ASSOCIATE-RQ one byte at a time) held every other caller back. So the
// node accepts connections itself, and each connection's TLS handshake and
// association request are read on a thread of their own, under a deadline.
//
// DCMTK takes an already accepted socket only through the process-wide
// dcmExternalSocketHandle, which receiveTransportConnectionTCP() reads once, at
// its start, and then asks the network's transport layer for the connection
// object (before any handshake or read). The handover lock is held from setting
// the handle until that request (HandoverLayer::createConnection), so each
// thread hands over its own socket and the slow part runs concurrently.

std::mutex handover_mutex;
thread_local bool handover_held = false;

void beginHandover(int fd) {
  handover_mutex.lock();
  handover_held = true;
  dcmExternalSocketHandle.set(fd);
}

// Idempotent; only the thread that began the handover ends it.
void endHandover() {
  if (!handover_held) return;
  dcmExternalSocketHandle.set(DCMNET_INVALID_SOCKET);
  handover_held = false;
  handover_mutex.unlock();
}

class HandoverLayer : public DcmTransportLayer {
 public:
  explicit HandoverLayer(DcmTransportLayer* tls) : tls_(tls) {}
  DcmTransportConnection* createConnection(DcmNativeSocketType socket, OFBool secure) override {
    endHandover();  // DCMTK has read the handle: the next connection may be handed over
    return tls_ ? tls_->createConnection(socket, secure) : DcmTransportLayer::createConnection(socket, secure);
  }

 private:
  DcmTransportLayer* tls_;
};

// ---- writing a received dataset ------------------------------------------------------------

// Receives the bytes of one dataset into the slot file. It never reports a failure
// to DCMTK: after a write error (disk full) it keeps taking the rest of the dataset
// off the wire and drops it, so the P-DATA stream stays in step whatever DCMTK does
// with a failed write, and the C-STORE can be answered with a status.
class SlotWriter : public DcmConsumer {
 public:
  // `buffer` gathers small writes (the meta header); it outlives the writer and is reused.
  explicit SlotWriter(std::vector<char>& buffer) : buffer_(buffer) {}
  ~SlotWriter() override {
    if (fd_ >= 0) ::close(fd_);
  }

  bool open(const std::string& path) {
    fd_ = ::open(path.c_str(), O_WRONLY | O_TRUNC | O_CLOEXEC);
    if (fd_ < 0) error_ = errno;
    return fd_ >= 0;
  }
  // Writes what is buffered and closes the file; false (with the reason) when any write failed.
  bool finish(std::string* problem) {
    drain();
    if (fd_ >= 0 && ::close(fd_) != 0 && error_ == 0) error_ = errno;
    fd_ = -1;
    if (error_ != 0) *problem = std::strerror(error_);
    return error_ == 0;
  }
  std::string problem() const { return std::strerror(error_); }
  // Reports each piece of the data set to the watch, which cuts a peer sending too slowly.
  void countInto(TransferWatch& watch, TransferWatch::Id id) {
    watch_ = &watch;
    watch_id_ = id;
  }

  OFBool good() const override { return OFTrue; }
  OFCondition status() const override { return EC_Normal; }
  OFBool isFlushed() const override { return used_ == 0; }
  offile_off_t avail() const override { return offile_off_t(1) << 30; }
  offile_off_t write(const void* data, offile_off_t length) override {
    auto bytes = static_cast<const char*>(data);
    auto size = static_cast<size_t>(length);
    if (watch_) watch_->received(watch_id_, static_cast<int64_t>(size));
    if (size >= buffer_.size() / 2) {
      drain();  // what came before goes first
      put(bytes, size);  // a network fragment: straight to the file
    } else {
      if (size > buffer_.size() - used_) drain();
      std::memcpy(buffer_.data() + used_, bytes, size);
      used_ += size;
    }
    return length;  // taken, even when it could not be written
  }
  void flush() override { drain(); }

 private:
  void drain() {
    if (used_ > 0) put(buffer_.data(), used_);
    used_ = 0;
  }
  void put(const char* data, size_t length) {
    while (length > 0 && error_ == 0 && fd_ >= 0) {
      ssize_t n = ::write(fd_, data, length);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        error_ = n < 0 ? errno : EIO;
        return;
      }
      data += n;
      length -= static_cast<size_t>(n);
    }
  }

  int fd_ = -1;
  int error_ = 0;
  std::vector<char>& buffer_;
  size_t used_ = 0;
  TransferWatch* watch_ = nullptr;
  TransferWatch::Id watch_id_ = 0;
};

class SlotStream : public DcmOutputStream {
 public:
  explicit SlotStream(DcmConsumer* consumer) : DcmOutputStream(consumer) {}
};

// The file meta information DCMTK's own C-STORE receiver writes before the dataset.
OFCondition writeMetaHeader(DcmOutputStream& out, const T_DIMSE_C_StoreRQ& request, const char* transfer_syntax,
                            const char* calling_aet) {
  DcmMetaInfo meta;
  const Uint8 version[2] = {0, 1};
  OFCondition cond = meta.putAndInsertUint32(DCM_FileMetaInformationGroupLength, 0);
  if (cond.good()) cond = meta.putAndInsertUint8Array(DCM_FileMetaInformationVersion, version, 2);
  if (cond.good()) cond = meta.putAndInsertString(DCM_MediaStorageSOPClassUID, request.AffectedSOPClassUID);
  if (cond.good()) cond = meta.putAndInsertString(DCM_MediaStorageSOPInstanceUID, request.AffectedSOPInstanceUID);
  if (cond.good()) cond = meta.putAndInsertString(DCM_TransferSyntaxUID, transfer_syntax);
  if (cond.good()) cond = meta.putAndInsertString(DCM_ImplementationClassUID, OFFIS_IMPLEMENTATION_CLASS_UID);
  if (cond.good())
    cond = meta.putAndInsertString(DCM_ImplementationVersionName, OFFIS_DTK_IMPLEMENTATION_VERSION_NAME2);
  if (cond.good()) cond = meta.putAndInsertString(DCM_SourceApplicationEntityTitle, calling_aet);
  if (cond.good())
    cond = meta.computeGroupLengthAndPadding(EGL_withGL, EPD_noChange, META_HEADER_DEFAULT_TRANSFERSYNTAX,
                                             EET_UndefinedLength);
  if (cond.bad()) return cond;
  meta.transferInit();
  cond = meta.write(out, META_HEADER_DEFAULT_TRANSFERSYNTAX, EET_ExplicitLength, nullptr);
  meta.transferEnd();
  return cond;
}

// ---- associations --------------------------------------------------------------------------

// State shared by the listener and every worker.
struct ScpShared {
  DicomConfig config;
  InstanceSink& sink;
  PeerPolicy policy;
  std::shared_ptr<spdlog::logger> log = moduleLogger("scp");
  std::atomic<int> active{0};
  std::atomic<int64_t> total{0};
  std::atomic<int64_t> refused{0};

  // Counts, logs and records (for the console) an association that was turned away.
  void recordRefusal(const AssociationInfo& info, const std::string& why) {
    refused++;
    log->warn("refused association from '{}' at {} to '{}': {}", info.calling_aet, info.peer_host, info.called_aet,
              why);
    try {
      sink.associationRefused(info, why);
    } catch (const std::exception& e) {
      log->error("cannot record refused association: {}", e.what());
    }
  }

  TransferWatch watch{{std::chrono::seconds(config.idle_timeout_s + config.dimse_timeout_s),
                       std::chrono::seconds(config.dimse_timeout_s), int64_t(config.min_receive_kib_per_s) * 1024,
                       std::chrono::seconds(config.dimse_timeout_s)}};

  // The socket of each association handed to a worker (DCMTK owns and closes it).
  void rememberSocket(const T_ASC_Association* association, int fd) {
    std::lock_guard lock(sockets_mutex);
    sockets[association] = fd;
  }
  int takeSocket(const T_ASC_Association* association) {
    std::lock_guard lock(sockets_mutex);
    auto it = sockets.find(association);
    if (it == sockets.end()) return -1;
    int fd = it->second;
    sockets.erase(it);
    return fd;
  }
  std::mutex sockets_mutex;
  std::map<const T_ASC_Association*, int> sockets;

  // Associations per peer address, for dicom.max_associations_per_host: claimed when
  // a request is handed to a worker; the session takes the claim over while its
  // association is alive (pointers are keys only then) and releases it when it ends.
  bool claimHost(const T_ASC_Association* association, const std::string& peer) {
    std::lock_guard lock(hosts_mutex);
    if (active_by_host[peer] >= config.max_associations_per_host) return false;
    active_by_host[peer]++;
    claims[association] = peer;
    return true;
  }
  std::string takeClaim(const T_ASC_Association* association) {  // "" when none
    std::lock_guard lock(hosts_mutex);
    auto claim = claims.find(association);
    if (claim == claims.end()) return "";
    std::string peer = claim->second;
    claims.erase(claim);
    return peer;
  }
  void releaseHost(const std::string& peer) {
    if (peer.empty()) return;
    std::lock_guard lock(hosts_mutex);
    if (--active_by_host[peer] <= 0) active_by_host.erase(peer);
  }
  std::mutex hosts_mutex;
  std::map<std::string, int> active_by_host;
  std::map<const T_ASC_Association*, std::string> claims;
};

// An association's socket under the transfer watch for as long as its commands are
// served; forgotten before DCMTK closes the socket.
struct WatchedConnection {
  WatchedConnection(TransferWatch& w, int fd, std::string label) : watch(w), id(fd >= 0 ? w.watch(fd, std::move(label)) : 0) {}
  ~WatchedConnection() { watch.forget(id); }
  WatchedConnection(const WatchedConnection&) = delete;
  WatchedConnection& operator=(const WatchedConnection&) = delete;
  TransferWatch& watch;
  const TransferWatch::Id id;
};

// One association, served on a worker thread.
class ScpSession : public DcmThreadSCP {
 public:
  explicit ScpSession(ScpShared& shared) : shared_(shared) {}

  OFCondition serve(T_ASC_Association* association) {
    association_handle_ = association;
    socket_ = shared_.takeSocket(association);
    // Released however the association ends (also when DCMTK refuses it).
    struct HostClaim {
      ScpShared& shared;
      const std::string peer;
      ~HostClaim() { shared.releaseHost(peer); }
    } claim{shared_, shared_.takeClaim(association)};
    OFCondition result = run(association);
    association_handle_ = nullptr;
    socket_ = -1;
    return result;
  }

 protected:
  OFBool checkCalledAETitleAccepted(const OFString& called_ae) override {
    return !shared_.config.check_called_aet || trimmed(called_ae) == shared_.config.aet;
  }
  // DCMTK passes the presentation address here (it may carry more than the IP); use the peer IP.
  OFBool checkCallingHostAccepted(const OFString&) override { return shared_.policy.hostAllowed(getPeerIP().c_str()); }
  OFBool checkCallingAETitleAccepted(const OFString& calling_ae) override {
    return shared_.policy.peerAllowed(trimmed(calling_ae), getPeerIP().c_str());
  }

  void refuseAssociation(const DcmRefuseReasonType reason) override {
    shared_.recordRefusal({0, trimmed(getPeerAETitle()), trimmed(getCalledAETitle()), getPeerIP().c_str()},
                          refuseReasonText(reason));
    DcmThreadSCP::refuseAssociation(reason);
  }

  // DCMTK's association configuration holds at most 128 presentation contexts per
  // profile, fewer than the storage SOP classes there are, so contexts are decided
  // here and the profile-based negotiation is skipped. Within a context the peer's
  // own order wins: it proposes first the syntax it holds the data in, and taking
  // that one stores the instance exactly as the peer has it.
  void notifyAssociationRequest(const T_ASC_Parameters& params, DcmSCPActionType&) override {
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
  OFCondition negotiateAssociation() override { return EC_Normal; }

  void notifyAssociationAcknowledge() override {
    association_ = {0, trimmed(getPeerAETitle()), trimmed(getCalledAETitle()), getPeerIP().c_str()};
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

  void notifyReleaseRequest() override { outcome_ = "released"; }
  void notifyAbortRequest() override { outcome_ = "aborted"; }

  void notifyAssociationTermination() override {
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
  void handleAssociation() override {
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

  OFCondition handleIncomingCommand(T_DIMSE_Message* message, const DcmPresentationContextInfo& info) override {
    if (message->CommandField != DIMSE_C_STORE_RQ) {
      // C-ECHO (or a refusal of another command): DCMTK only sends an answer.
      shared_.watch.sending(watch_id_, Clock::now());
      OFCondition cond = DcmThreadSCP::handleIncomingCommand(message, info);
      shared_.watch.working(watch_id_);
      return cond;
    }
    return handleStore(message->msg.CStoreRQ, info.presentationContextID);
  }

 private:
  // Sends an A-ABORT and closes at once: reading is shut first, so DCMTK does not
  // wait for the peer to close its end (a peer that never reads would hold it).
  void abortNow() {
    if (socket_ >= 0) ::shutdown(socket_, SHUT_RD);
    ASC_abortAssociation(association_handle_);
  }

  OFCondition respond(T_ASC_PresentationContextID presentation, const T_DIMSE_C_StoreRQ& request, Uint16 status,
                      const std::string& comment) {
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
  OFCondition receiveDataset(SlotWriter& writer, DcmOutputStream& stream, T_ASC_PresentationContextID* presentation) {
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
  OFCondition discardDataset() {
    SlotWriter dropper(write_buffer_);
    SlotStream stream(&dropper);
    T_ASC_PresentationContextID presentation = 0;
    return receiveDataset(dropper, stream, &presentation);
  }

  OFCondition refuse(T_ASC_PresentationContextID presentation, const T_DIMSE_C_StoreRQ& request,
                     const std::string& why) {
    OFCondition drained = discardDataset();
    if (drained.bad()) return drained;
    shared_.log->warn("C-STORE {} from '{}' refused (0xA700): {}", request.AffectedSOPInstanceUID,
                      association_.calling_aet, why);
    return respond(presentation, request, kStatusOutOfResources, why);
  }

  OFCondition handleStore(T_DIMSE_C_StoreRQ& request, T_ASC_PresentationContextID presentation) {
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
    SlotStream stream(&writer);
    OFCondition header = writeMetaHeader(stream, request, context.acceptedTransferSyntax,
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

  ScpShared& shared_;
  T_ASC_Association* association_handle_ = nullptr;
  int socket_ = -1;
  TransferWatch::Id watch_id_ = 0;
  std::vector<char> write_buffer_ = std::vector<char>(16 * 1024);
  AssociationInfo association_;
  AssociationStats stats_;
  std::string outcome_ = "interrupted";
  Clock::time_point started_;
  bool accepted_ = false;
};

class ScpWorker : public DcmBaseSCPPool::DcmBaseSCPWorker {
 public:
  ScpWorker(DcmBaseSCPPool& pool, ScpShared& shared) : DcmBaseSCPWorker(pool), session_(shared) {}
  OFCondition setSharedConfig(const DcmSharedSCPConfig& config) override { return session_.setSharedConfig(config); }
  OFBool busy() override { return session_.isConnected(); }

 protected:
  OFCondition workerListen(T_ASC_Association* const association) override {
    // The pool deletes a worker when its association has ended and never joins
    // its thread: detached, the thread's resources go back when it ends.
    ::pthread_detach(::pthread_self());
    try {
      return session_.serve(association);
    } catch (const std::exception& e) {
      moduleLogger("scp")->error("association worker failed: {}", e.what());
      return EC_IllegalCall;
    }
  }

 private:
  ScpSession session_;
};

class ScpPool : public DcmBaseSCPPool {
 public:
  explicit ScpPool(ScpShared& shared) : shared_(shared) {}

  // Snapshot of the configuration every worker gets; after the configuration is complete.
  void prepare() { worker_config_ = std::make_unique<DcmSharedSCPConfig>(getConfig()); }

  // Gives a received association request to a worker. False, with the association
  // untouched, when none is free (`busy`: dicom.max_associations are being served).
  bool hand(T_ASC_Association* association, bool* busy) {
    OFCondition cond = runAssociation(association, *worker_config_);
    *busy = cond == NET_EC_SCPBusy;
    return cond.good();
  }
  // A-ASSOCIATE-RJ (transient: local limit exceeded, or congestion) and the connection closed.
  void refuse(T_ASC_Association* association, bool local_limit) {
    rejectAssociation(association, local_limit ? ASC_REASON_SP_PRES_LOCALLIMITEXCEEDED
                                               : ASC_REASON_SP_PRES_TEMPORARYCONGESTION);
    dropAndDestroyAssociation(association);
  }

 protected:
  DcmBaseSCPWorker* createSCPWorker() override { return new ScpWorker(*this, shared_); }

 private:
  ScpShared& shared_;
  std::unique_ptr<DcmSharedSCPConfig> worker_config_;
};

// A connection whose association request is being read.
struct Handshake {
  std::string peer;
  Clock::time_point deadline;
  std::thread thread;
  std::mutex mutex;
  int watch_fd = -1;  // a duplicate of the socket, so the deadline can shut it down; closed when done
  bool done = false;
  bool expired = false;
  std::atomic<bool> finished{false};
};

int openListenSocket(const std::string& bind, uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0)
    throw Error(Errc::Network, std::string("cannot create the DICOM listener socket: ") + std::strerror(errno));
  int yes = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(port);
  if (::inet_pton(AF_INET, bind.c_str(), &address.sin_addr) != 1) {
    ::close(fd);
    throw Error(Errc::InvalidConfig, "dicom.bind = \"" + bind + "\" is not an IPv4 address");
  }
  if (::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 || ::listen(fd, 64) != 0) {
    int error = errno;
    ::close(fd);
    throw Error(Errc::Network, "cannot listen on DICOM port " + bind + ":" + std::to_string(port) + ": " +
                                   std::strerror(error));
  }
  return fd;
}

std::string addressText(const sockaddr_in& address) {
  char text[INET_ADDRSTRLEN] = {};
  ::inet_ntop(AF_INET, &address.sin_addr, text, sizeof text);
  return text;
}

}  // namespace

// The TLS layer for the listener, from configuration; throws with what is wrong.
std::unique_ptr<DcmTLSTransportLayer> makeTlsLayer(const DicomConfig& c) {
  auto fail = [](const std::string& what) { throw Error(Errc::InvalidConfig, "DICOM TLS: " + what); };
  if (c.tls_cert.empty() || c.tls_key.empty()) fail("dicom.tls_cert and dicom.tls_key are required with dicom.tls");
  auto layer = std::make_unique<DcmTLSTransportLayer>(NET_ACCEPTOR, nullptr, OFTrue);
  if (layer->setTLSProfile(TSP_Profile_BCP195_ND).bad()) fail("cannot select the BCP 195 profile");
  if (layer->activateCipherSuites().bad()) fail("cannot activate the cipher suites");
  if (layer->setPrivateKeyFile(c.tls_key.c_str(), DCF_Filetype_PEM).bad()) fail("cannot load key " + c.tls_key);
  if (layer->setCertificateFile(c.tls_cert.c_str(), DCF_Filetype_PEM).bad()) fail("cannot load certificate " + c.tls_cert);
  if (!layer->checkPrivateKeyMatchesCertificate()) fail(c.tls_key + " does not match " + c.tls_cert);
  if (!c.tls_ca.empty() && layer->addTrustedCertificateFile(c.tls_ca.c_str(), DCF_Filetype_PEM).bad())
    fail("cannot load trusted certificates " + c.tls_ca);
  if (!c.tls_crl.empty()) {
    if (c.tls_ca.empty()) fail("dicom.tls_crl needs dicom.tls_ca (the CAs whose revocation lists it holds)");
    if (layer->addCertificateRevocationList(c.tls_crl.c_str(), DCF_Filetype_PEM).bad() ||
        layer->setCRLverification(TCR_checkLeafCRL).bad())
      fail("cannot load the certificate revocation list " + c.tls_crl + " (dicom.tls_crl)");
  }
  if (c.tls_verify_peers == "require" && c.tls_ca.empty())
    fail("dicom.tls_verify_peers = \"require\" needs dicom.tls_ca (the certificates to trust)");
  layer->setCertificateVerification(c.tls_verify_peers == "require" ? DCV_requireCertificate
                                    : c.tls_verify_peers == "check" ? DCV_checkCertificate
                                                                    : DCV_ignoreCertificate);
  return layer;
}

struct StoreScp::Impl {
  Impl(const DicomConfig& config, InstanceSink& sink)
      : shared{config, sink, PeerPolicy(config.allowed_peers)},
        pool(shared),
        max_negotiating(std::max(32, 4 * config.max_associations)),
        max_negotiating_per_host(std::max(4, max_negotiating / 4)) {}

  void listenLoop();
  void acceptConnections();
  void negotiate(const std::shared_ptr<Handshake>& handshake, int fd);
  void dispatch(T_ASC_Association* association, int fd, const std::string& peer);
  void expireHandshakes(Clock::time_point now);
  void reapHandshakes(bool all);
  int pollTimeoutMs(Clock::time_point now);
  int negotiatingFrom(const std::string& peer) const;

  ScpShared shared;
  ScpPool pool;
  std::unique_ptr<DcmTLSTransportLayer> tls;         // outlives every connection made with it
  std::unique_ptr<HandoverLayer> handover;
  T_ASC_Network* network = nullptr;
  int listen_fd = -1;
  int wake_fd = -1;
  std::thread listener;
  std::atomic<bool> listening{false};
  std::atomic<bool> stopping{false};
  const int max_negotiating;                         // connections whose request is being read, at most
  const int max_negotiating_per_host;                // of those, from one address: one host cannot take them all
  std::atomic<int> negotiating{0};
  std::list<std::shared_ptr<Handshake>> handshakes;  // listener thread only
  Clock::time_point last_overflow_log{};
  Clock::time_point last_host_overflow_log{};
  std::mutex error_mutex;
  std::string last_error;
};

int StoreScp::Impl::pollTimeoutMs(Clock::time_point now) {
  auto wait = std::chrono::milliseconds(1000);
  for (const auto& h : handshakes) {
    std::lock_guard lock(h->mutex);
    if (!h->done && !h->expired)
      wait = std::min(wait, std::chrono::duration_cast<std::chrono::milliseconds>(h->deadline - now) +
                                std::chrono::milliseconds(1));
  }
  return static_cast<int>(std::max<int64_t>(0, wait.count()));
}

void StoreScp::Impl::listenLoop() {
  while (!stopping) {
    pollfd fds[2] = {{listen_fd, POLLIN, 0}, {wake_fd, POLLIN, 0}};
    int ready = ::poll(fds, 2, pollTimeoutMs(Clock::now()));
    if (stopping) break;
    expireHandshakes(Clock::now());
    for (const auto& cut : shared.watch.enforce(Clock::now())) shared.log->warn("{}", cut);
    reapHandshakes(false);
    if (ready > 0 && (fds[0].revents & POLLIN)) acceptConnections();
  }
  ::close(listen_fd);
  listen_fd = -1;
  // Connections still negotiating are cut off; their threads end at once.
  for (const auto& h : handshakes) {
    std::lock_guard lock(h->mutex);
    if (!h->done && h->watch_fd >= 0) ::shutdown(h->watch_fd, SHUT_RDWR);
  }
  reapHandshakes(true);
}

void StoreScp::Impl::acceptConnections() {
  while (true) {
    sockaddr_in address{};
    socklen_t length = sizeof address;
    int fd = ::accept4(listen_fd, reinterpret_cast<sockaddr*>(&address), &length, SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EINTR || errno == ECONNABORTED) continue;
      if (errno != EAGAIN && errno != EWOULDBLOCK) {
        shared.log->error("DICOM listener cannot accept a connection: {}", std::strerror(errno));
        std::this_thread::sleep_for(std::chrono::milliseconds(100));  // e.g. out of file descriptors
      }
      return;
    }
    const std::string peer = addressText(address);
    if (negotiating >= max_negotiating) {
      ::close(fd);
      shared.refused++;
      auto now = Clock::now();
      if (now - last_overflow_log > std::chrono::seconds(10)) {
        last_overflow_log = now;
        shared.log->warn("connection from {} closed at once: {} connections are already negotiating", peer,
                         max_negotiating);
      }
      continue;
    }
    if (negotiatingFrom(peer) >= max_negotiating_per_host) {
      ::close(fd);
      shared.refused++;
      auto now = Clock::now();
      if (now - last_host_overflow_log > std::chrono::seconds(10)) {
        last_host_overflow_log = now;
        shared.log->warn("connection from {} closed at once: {} connections from that address are already negotiating",
                         peer, max_negotiating_per_host);
      }
      continue;
    }
    auto handshake = std::make_shared<Handshake>();
    handshake->peer = peer;
    handshake->deadline = Clock::now() + std::chrono::seconds(shared.config.acse_timeout_s);
    handshake->watch_fd = ::fcntl(fd, F_DUPFD_CLOEXEC, 0);
    if (handshake->watch_fd < 0) {
      shared.log->error("connection from {} closed: {}", peer, std::strerror(errno));
      ::close(fd);
      continue;
    }
    negotiating++;
    try {
      handshake->thread = std::thread([this, handshake, fd] { negotiate(handshake, fd); });
    } catch (const std::exception& e) {
      negotiating--;
      shared.log->error("connection from {} closed: cannot start a thread: {}", peer, e.what());
      ::close(handshake->watch_fd);
      ::close(fd);
      continue;
    }
    handshakes.push_back(std::move(handshake));
  }
}

// On its own thread: the TLS handshake and the A-ASSOCIATE-RQ of one connection.
void StoreScp::Impl::negotiate(const std::shared_ptr<Handshake>& handshake, int fd) {
  T_ASC_Association* association = nullptr;
  beginHandover(fd);
  OFCondition cond = ASC_receiveAssociation(network, &association, shared.config.max_pdu, nullptr, nullptr,
                                            tls ? OFTrue : OFFalse, DUL_NOBLOCK, 1);
  const bool taken = !handover_held;  // DCMTK made a connection of the socket: it closes it
  endHandover();
  bool expired = false;
  {
    std::lock_guard lock(handshake->mutex);
    handshake->done = true;
    expired = handshake->expired;
    ::close(handshake->watch_fd);
    handshake->watch_fd = -1;
  }
  negotiating--;
  // DCMTK also reports success when the connection closed (or was shut down at the
  // deadline) before any request came: then there is no application context.
  const bool requested = cond.good() && !expired && association &&
                         association->params->DULparams.applicationContextName[0] != '\0';
  if (requested) {
    dispatch(association, fd, handshake->peer);
  } else {
    if (!stopping) {
      if (expired || cond == DUL_READTIMEOUT)
        shared.log->warn("connection from {} dropped: no association request within {} s (dicom.acse_timeout_s)",
                         handshake->peer, shared.config.acse_timeout_s);
      else
        shared.log->warn("connection from {} closed before an association: {}", handshake->peer,
                         cond.good() ? "no association request" : cond.text());
    }
    if (association) {
      ASC_dropAssociation(association);
      ASC_destroyAssociation(&association);
    }
    if (!taken) ::close(fd);
  }
  handshake->finished = true;
}

void StoreScp::Impl::dispatch(T_ASC_Association* association, int fd, const std::string& peer) {
  AssociationInfo info{0, trimmed(association->params->DULparams.callingAPTitle),
                       trimmed(association->params->DULparams.calledAPTitle), peer};
  std::string why;
  if (shared.config.max_associations_per_host > 0 && !shared.claimHost(association, peer)) {
    pool.refuse(association, true);
    why = "too many associations from " + peer + " (dicom.max_associations_per_host = " +
          std::to_string(shared.config.max_associations_per_host) + ")";
  } else {
    shared.rememberSocket(association, fd);
    bool busy = false;
    if (pool.hand(association, &busy)) return;
    // Forgotten before the association is destroyed: its address may be reused at once.
    shared.takeSocket(association);
    shared.releaseHost(shared.takeClaim(association));
    pool.refuse(association, busy);
    why = "too many associations (dicom.max_associations = " + std::to_string(shared.config.max_associations) + ")";
  }
  shared.recordRefusal(info, why);
}

int StoreScp::Impl::negotiatingFrom(const std::string& peer) const {
  int count = 0;
  for (const auto& h : handshakes)
    if (h->peer == peer && !h->finished) count++;
  return count;
}

void StoreScp::Impl::expireHandshakes(Clock::time_point now) {
  for (const auto& h : handshakes) {
    std::lock_guard lock(h->mutex);
    if (h->done || h->expired || now < h->deadline) continue;
    h->expired = true;
    ::shutdown(h->watch_fd, SHUT_RDWR);  // the reading thread returns at once
  }
}

void StoreScp::Impl::reapHandshakes(bool all) {
  for (auto it = handshakes.begin(); it != handshakes.end();) {
    if (all || (*it)->finished) {
      (*it)->thread.join();
      it = handshakes.erase(it);
    } else {
      ++it;
    }
  }
}

StoreScp::StoreScp(const DicomConfig& config, InstanceSink& sink) : impl_(std::make_unique<Impl>(config, sink)) {
  DcmSCPConfig& cfg = impl_->pool.getConfig();
  cfg.setAETitle(config.aet.c_str());
  cfg.setPort(config.port);
  cfg.setMaxReceivePDULength(config.max_pdu);
  cfg.setACSETimeout(static_cast<Uint32>(config.acse_timeout_s));
  cfg.setDIMSEBlockingMode(DIMSE_NONBLOCKING);
  cfg.setDIMSETimeout(static_cast<Uint32>(config.dimse_timeout_s));
  cfg.setHostLookupEnabled(OFFalse);
  cfg.setRespondWithCalledAETitle(!config.check_called_aet);
  impl_->pool.setMaxThreads(static_cast<Uint16>(config.max_associations));
  if (config.tls) {
    impl_->tls = makeTlsLayer(config);
    cfg.setTransportLayer(impl_->tls.get());
  }
}

StoreScp::~StoreScp() { stop(); }

void StoreScp::start() {
  const DicomConfig& config = impl_->shared.config;
  impl_->listen_fd = openListenSocket(config.bind, config.port);
  // A valid handle while the network is made: DCMTK then opens no listening socket of its own.
  beginHandover(impl_->listen_fd);
  OFCondition cond = ASC_initializeNetwork(NET_ACCEPTOR, config.port, config.acse_timeout_s, &impl_->network);
  endHandover();
  impl_->handover = std::make_unique<HandoverLayer>(impl_->tls.get());
  if (cond.good()) cond = ASC_setTransportLayer(impl_->network, impl_->handover.get(), 0);
  impl_->wake_fd = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (cond.bad() || impl_->wake_fd < 0) {
    ::close(impl_->listen_fd);
    impl_->listen_fd = -1;
    if (impl_->network) ASC_dropNetwork(&impl_->network);
    if (impl_->wake_fd >= 0) ::close(impl_->wake_fd);
    impl_->wake_fd = -1;
    throw Error(Errc::Network, std::string("cannot start the DICOM listener: ") +
                                   (cond.bad() ? cond.text() : std::strerror(errno)));
  }
  impl_->pool.prepare();
  impl_->listening = true;
  impl_->listener = std::thread([this] {
    try {
      impl_->listenLoop();
    } catch (const std::exception& e) {
      std::lock_guard lock(impl_->error_mutex);
      impl_->last_error = e.what();
      impl_->shared.log->critical("DICOM listener on port {} stopped: {}", impl_->shared.config.port, e.what());
    }
    impl_->listening = false;
  });
  impl_->shared.log->info("DICOM listener '{}' on {}:{}{} (max {} associations, max PDU {})", config.aet,
                          config.bind, config.port, config.tls ? " with TLS" : "", config.max_associations, config.max_pdu);
}

void StoreScp::stop() {
  if (!impl_->listener.joinable()) return;
  impl_->stopping = true;
  uint64_t one = 1;
  [[maybe_unused]] auto written = ::write(impl_->wake_fd, &one, sizeof one);
  impl_->listener.join();
  // Associations in progress end on their own (released, aborted or timed out).
  while (impl_->pool.numThreads(OFFalse) > 0) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  ASC_dropNetwork(&impl_->network);
  ::close(impl_->wake_fd);
  impl_->wake_fd = -1;
  impl_->shared.log->info("DICOM listener stopped");
}

ScpStatus StoreScp::status() const {
  ScpStatus s;
  s.listening = impl_->listening;
  s.active_associations = impl_->shared.active;
  s.associations_total = impl_->shared.total;
  s.associations_refused = impl_->shared.refused;
  std::lock_guard lock(impl_->error_mutex);
  s.last_error = impl_->last_error;
  return s;
}

}  // namespace volnode
