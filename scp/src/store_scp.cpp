#include "volnode/scp/store_scp.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <thread>
#include <vector>

#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcmetinf.h>
#include <dcmtk/dcmdata/dcostrma.h>
#include <dcmtk/dcmdata/dcuid.h>
#include <dcmtk/dcmdata/dcxfer.h>
#include <dcmtk/dcmnet/dimse.h>
#include <dcmtk/dcmnet/diutil.h>
#include <dcmtk/dcmnet/scppool.h>
#include <dcmtk/dcmnet/scpthrd.h>
#include <dcmtk/dcmtls/tlslayer.h>
#include <dcmtk/oflog/oflog.h>

#include "peer_policy.hpp"
#include "volnode/core/error.hpp"
#include "volnode/core/logging.hpp"

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

  OFBool good() const override { return OFTrue; }
  OFCondition status() const override { return EC_Normal; }
  OFBool isFlushed() const override { return used_ == 0; }
  offile_off_t avail() const override { return offile_off_t(1) << 30; }
  offile_off_t write(const void* data, offile_off_t length) override {
    auto bytes = static_cast<const char*>(data);
    auto size = static_cast<size_t>(length);
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

// State shared by the listener and every worker.
struct ScpShared {
  DicomConfig config;
  InstanceSink& sink;
  PeerPolicy policy;
  std::shared_ptr<spdlog::logger> log = moduleLogger("scp");
  std::atomic<int> active{0};
  std::atomic<int64_t> total{0};
  std::atomic<int64_t> refused{0};
};

// One association, served on a worker thread.
class ScpSession : public DcmThreadSCP {
 public:
  explicit ScpSession(ScpShared& shared) : shared_(shared) {}

  OFCondition serve(T_ASC_Association* association) {
    association_handle_ = association;
    OFCondition result = run(association);
    association_handle_ = nullptr;
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
    AssociationInfo info{0, trimmed(getPeerAETitle()), trimmed(getCalledAETitle()), getPeerIP().c_str()};
    std::string why = refuseReasonText(reason);
    shared_.refused++;
    shared_.log->warn("refused association from '{}' at {} to '{}': {}", info.calling_aet, info.peer_host,
                      info.called_aet, why);
    try {
      shared_.sink.associationRefused(info, why);
    } catch (const std::exception& e) {
      shared_.log->error("cannot record refused association: {}", e.what());
    }
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
    started_ = std::chrono::steady_clock::now();
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
    stats_.duration_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - started_).count();
    shared_.log->info("association from '{}' at {}: {} instances, {:.1f} MB, {} failed, {:.2f} s, {}",
                      association_.calling_aet, association_.peer_host, stats_.instances, stats_.bytes / 1e6,
                      stats_.failures, stats_.duration_s, stats_.outcome);
    try {
      shared_.sink.associationEnded(association_, stats_);
    } catch (const std::exception& e) {
      shared_.log->error("cannot record end of association {}: {}", association_.id, e.what());
    }
  }

  OFCondition handleIncomingCommand(T_DIMSE_Message* message, const DcmPresentationContextInfo& info) override {
    if (message->CommandField != DIMSE_C_STORE_RQ) return DcmThreadSCP::handleIncomingCommand(message, info);
    return handleStore(message->msg.CStoreRQ, info.presentationContextID);
  }

 private:
  OFCondition respond(T_ASC_PresentationContextID presentation, const T_DIMSE_C_StoreRQ& request, Uint16 status,
                      const std::string& comment) {
    if (status == kStatusSuccess) return sendSTOREResponse(presentation, request, status);
    stats_.failures++;
    DcmDataset detail;
    detail.putAndInsertString(DCM_ErrorComment, comment.substr(0, 64).c_str());
    return sendSTOREResponse(presentation, request.MessageID, request.AffectedSOPClassUID,
                             request.AffectedSOPInstanceUID, status, &detail);
  }

  // Reads the dataset that follows a C-STORE command off the wire and drops it.
  OFCondition discardDataset() {
    DIC_UL bytes = 0, pdvs = 0;
    return DIMSE_ignoreDataSet(association_handle_, DIMSE_NONBLOCKING, shared_.config.dimse_timeout_s, &bytes,
                               &pdvs);
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
    OFCondition received = DIMSE_receiveDataSetInFile(association_handle_, DIMSE_NONBLOCKING,
                                                      shared_.config.dimse_timeout_s, &dataset_presentation, &stream,
                                                      nullptr, nullptr);
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
  std::vector<char> write_buffer_ = std::vector<char>(16 * 1024);
  AssociationInfo association_;
  AssociationStats stats_;
  std::string outcome_ = "interrupted";
  std::chrono::steady_clock::time_point started_;
  bool accepted_ = false;
};

class ScpPool;

class ScpWorker : public DcmBaseSCPPool::DcmBaseSCPWorker {
 public:
  ScpWorker(DcmBaseSCPPool& pool, ScpShared& shared) : DcmBaseSCPWorker(pool), session_(shared) {}
  OFCondition setSharedConfig(const DcmSharedSCPConfig& config) override { return session_.setSharedConfig(config); }
  OFBool busy() override { return session_.isConnected(); }

 protected:
  OFCondition workerListen(T_ASC_Association* const association) override {
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

 protected:
  DcmBaseSCPWorker* createSCPWorker() override { return new ScpWorker(*this, shared_); }

 private:
  ScpShared& shared_;
};

// DCMTK 3.6.7 reports a busy port only from inside listen(); try it here first
// so that start() can fail with a clear message.
void checkPortFree(uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return;
  int yes = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(port);
  address.sin_addr.s_addr = htonl(INADDR_ANY);
  int rc = ::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address);
  int error = errno;
  ::close(fd);
  if (rc != 0)
    throw Error(Errc::Network, "cannot listen on DICOM port " + std::to_string(port) + ": " + std::strerror(error));
}

}  // namespace

void initDicomNetworking() {
  // Without TCP_NODELAY, Nagle + delayed ACKs stall every C-STORE ~40 ms.
  ::setenv("TCP_NODELAY", "1", 1);
  // DCMTK's own log: errors only; volnode logs what matters itself.
  OFLog::configure(OFLogger::ERROR_LOG_LEVEL);
}

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
  if (c.tls_verify_peers == "require" && c.tls_ca.empty())
    fail("dicom.tls_verify_peers = \"require\" needs dicom.tls_ca (the certificates to trust)");
  layer->setCertificateVerification(c.tls_verify_peers == "require" ? DCV_requireCertificate
                                    : c.tls_verify_peers == "check" ? DCV_checkCertificate
                                                                    : DCV_ignoreCertificate);
  return layer;
}

struct StoreScp::Impl {
  Impl(const DicomConfig& config, InstanceSink& sink) : shared{config, sink, PeerPolicy(config.allowed_peers)}, pool(shared) {}
  ScpShared shared;
  ScpPool pool;
  std::unique_ptr<DcmTLSTransportLayer> tls;  // outlives the pool's use of it
  std::thread listener;
  std::atomic<bool> listening{false};
  std::mutex error_mutex;
  std::string last_error;
};

StoreScp::StoreScp(const DicomConfig& config, InstanceSink& sink) : impl_(std::make_unique<Impl>(config, sink)) {
  DcmSCPConfig& cfg = impl_->pool.getConfig();
  cfg.setAETitle(config.aet.c_str());
  cfg.setPort(config.port);
  cfg.setMaxReceivePDULength(config.max_pdu);
  cfg.setACSETimeout(static_cast<Uint32>(config.acse_timeout_s));
  cfg.setDIMSEBlockingMode(DIMSE_NONBLOCKING);
  // DCMTK waits for the next command with the same timeout as inside a message,
  // so the smaller of the two limits applies to both.
  cfg.setDIMSETimeout(static_cast<Uint32>(std::min(config.dimse_timeout_s, config.idle_timeout_s)));
  // The listener wakes up every second to notice stop().
  cfg.setConnectionBlockingMode(DUL_NOBLOCK);
  cfg.setConnectionTimeout(1);
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
  checkPortFree(impl_->shared.config.port);
  impl_->listening = true;
  impl_->listener = std::thread([this] {
    OFCondition result = impl_->pool.listen();
    impl_->listening = false;
    if (result.bad()) {
      std::lock_guard lock(impl_->error_mutex);
      impl_->last_error = result.text();
      impl_->shared.log->critical("DICOM listener on port {} stopped: {}", impl_->shared.config.port, result.text());
    }
  });
  impl_->shared.log->info("DICOM listener '{}' on port {}{} (max {} associations, max PDU {})",
                          impl_->shared.config.aet, impl_->shared.config.port,
                          impl_->shared.config.tls ? " with TLS" : "", impl_->shared.config.max_associations,
                          impl_->shared.config.max_pdu);
}

void StoreScp::stop() {
  if (!impl_->listener.joinable()) return;
  impl_->pool.stopAfterCurrentAssociations();
  impl_->listener.join();
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
