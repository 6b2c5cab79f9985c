#include "volnode/scp/store_scu.hpp"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <map>
#include <mutex>
#include <optional>

#include <dcmtk/dcmdata/dccodec.h>
#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcfilefo.h>
#include <dcmtk/dcmdata/dcmetinf.h>
#include <dcmtk/dcmdata/dcrledrg.h>
#include <dcmtk/dcmdata/dcuid.h>
#include <dcmtk/dcmdata/dcxfer.h>
#include <dcmtk/dcmnet/diutil.h>
#include <dcmtk/dcmtls/tlslayer.h>
#include <dcmtk/ofstd/ofstd.h>

#include "scu_association.hpp"
#include "tls_layer.hpp"
#include "volnode/core/logging.hpp"

namespace volnode {

using scu_detail::OpenResult;
using scu_detail::ProposedContext;
using scu_detail::ScuAssociation;
using scu_detail::conditionText;
using scu_detail::uidName;

std::string_view associationFailureName(AssociationFailure failure) noexcept {
  switch (failure) {
    case AssociationFailure::None: return "none";
    case AssociationFailure::Unreachable: return "unreachable";
    case AssociationFailure::Rejected: return "rejected";
    case AssociationFailure::Tls: return "tls";
    case AssociationFailure::Failed: return "failed";
  }
  return "failed";
}

std::string_view sendOutcomeName(SendOutcome outcome) noexcept {
  switch (outcome) {
    case SendOutcome::Delivered: return "delivered";
    case SendOutcome::Warning: return "warning";
    case SendOutcome::Failed: return "failed";
    case SendOutcome::NotAccepted: return "not_accepted";
  }
  return "failed";
}

std::size_t SendReport::count(SendOutcome outcome) const {
  return static_cast<std::size_t>(
      std::count_if(files.begin(), files.end(), [&](const FileSendResult& f) { return f.outcome == outcome; }));
}

bool SendReport::allDelivered() const {
  return std::all_of(files.begin(), files.end(), [](const FileSendResult& f) {
    return f.outcome == SendOutcome::Delivered || f.outcome == SendOutcome::Warning;
  });
}

namespace {

constexpr std::size_t kMaxContextsPerAssociation = 128;  // odd IDs 1..255

// A file ready to be proposed: what its meta header says.
struct PendingFile {
  std::size_t index;   // into SendReport::files
  std::string sop_class;
  std::string transfer_syntax;
};

AssociationFailure failureOf(OpenResult result) {
  switch (result) {
    case OpenResult::Unreachable: return AssociationFailure::Unreachable;
    case OpenResult::Rejected: return AssociationFailure::Rejected;
    case OpenResult::TlsFailed: return AssociationFailure::Tls;
    case OpenResult::Open:
    case OpenResult::NoneAccepted: return AssociationFailure::None;
    case OpenResult::Failed: return AssociationFailure::Failed;
  }
  return AssociationFailure::Failed;
}

std::string statusHex(uint16_t status) { return fmt::format("0x{:04X}", status); }

SendOutcome outcomeOfStatus(uint16_t status) {
  if (status == STATUS_Success) return SendOutcome::Delivered;
  // 0xB000 coercion of data elements, 0xB006 elements discarded, 0xB007 data set does
  // not match SOP class; 0x0001 is the generic warning of later editions.
  if (status == 0x0001 || (status & 0xF000) == 0xB000) return SendOutcome::Warning;
  return SendOutcome::Failed;
}

std::string statusText(uint16_t status, DcmDataset* detail) {
  std::string text = fmt::format("{} ({})", DU_cstoreStatusString(status), statusHex(status));
  OFString comment;
  if (detail != nullptr && detail->findAndGetOFString(DCM_ErrorComment, comment).good() && !comment.empty())
    text += ": " + std::string(comment.c_str());
  return text;
}

// Registers the decoders that DCMTK's dcmdata carries (RLE); JPEG and JPEG-LS
// decoders live in libraries the application may register itself. Which
// conversions are possible is asked of DcmCodecList at send time.
void registerBuiltInDecoders() {
  static std::once_flag once;
  std::call_once(once, [] { DcmRLEDecoderRegistration::registerCodecs(); });
}

bool canSendUncompressed(const std::string& transfer_syntax) {
  DcmXfer xfer(transfer_syntax.c_str());
  if (xfer.getXfer() == EXS_Unknown) return false;
  if (xfer.isNotEncapsulated()) return true;
  return DcmCodecList::canChangeCoding(xfer.getXfer(), EXS_LittleEndianExplicit);
}

// Reads what the meta header says (falls back to the data set for files without one).
bool inspectFile(const std::filesystem::path& path, FileSendResult& result, std::string& transfer_syntax) {
  DcmFileFormat file;
  OFCondition cond = file.loadFile(path.c_str(), EXS_Unknown, EGL_noChange, DCM_MaxReadLength, ERM_metaOnly);
  if (cond.bad()) {
    result.text = "cannot read DICOM file: " + std::string(cond.text());
    return false;
  }
  OFString sop_class, sop_instance, xfer;
  DcmMetaInfo* meta = file.getMetaInfo();
  meta->findAndGetOFString(DCM_MediaStorageSOPClassUID, sop_class);
  meta->findAndGetOFString(DCM_MediaStorageSOPInstanceUID, sop_instance);
  meta->findAndGetOFString(DCM_TransferSyntaxUID, xfer);
  if (sop_class.empty() || sop_instance.empty() || xfer.empty()) {
    cond = file.loadFile(path.c_str());
    if (cond.bad()) {
      result.text = "cannot read DICOM file: " + std::string(cond.text());
      return false;
    }
    DcmDataset* dataset = file.getDataset();
    dataset->findAndGetOFString(DCM_SOPClassUID, sop_class);
    dataset->findAndGetOFString(DCM_SOPInstanceUID, sop_instance);
    xfer = DcmXfer(dataset->getOriginalXfer()).getXferID();
  }
  result.sop_class_uid = sop_class.c_str();
  result.sop_instance_uid = sop_instance.c_str();
  transfer_syntax = xfer.c_str();
  if (result.sop_class_uid.empty() || result.sop_instance_uid.empty()) {
    result.text = "not a DICOM instance: no SOP Class UID or SOP Instance UID";
    return false;
  }
  if (result.sop_class_uid == UID_MediaStorageDirectoryStorage) {
    result.text = "a DICOMDIR is not an instance that can be stored";
    return false;
  }
  return true;
}

// One association's worth of SOP classes and the contexts proposed for them.
struct Batch {
  std::vector<std::string> sop_classes;
  std::vector<ProposedContext> contexts;
  std::vector<const PendingFile*> files;
};

std::vector<Batch> planBatches(const std::vector<PendingFile>& pending) {
  // Per SOP class, in order of first appearance: the files' own syntaxes, then
  // Explicit and Implicit VR Little Endian.
  std::vector<std::string> classes;
  std::map<std::string, std::vector<std::string>> syntaxes;
  for (const auto& file : pending) {
    auto [it, inserted] = syntaxes.try_emplace(file.sop_class);
    if (inserted) classes.push_back(file.sop_class);
    if (std::find(it->second.begin(), it->second.end(), file.transfer_syntax) == it->second.end())
      it->second.push_back(file.transfer_syntax);
  }
  for (auto& [sop_class, list] : syntaxes)
    for (const char* fallback : {UID_LittleEndianExplicitTransferSyntax, UID_LittleEndianImplicitTransferSyntax})
      if (std::find(list.begin(), list.end(), fallback) == list.end()) list.emplace_back(fallback);

  // Each association also proposes Verification: a peer that takes none of the storage
  // classes offered (e.g. one object of a class it does not store) then accepts the
  // association and refuses those classes, which is remembered, instead of rejecting
  // the association as a whole, which looks like a peer that is down.
  std::vector<Batch> batches;
  auto newBatch = [&batches] {
    batches.emplace_back();
    batches.back().contexts.push_back({UID_VerificationSOPClass, UID_LittleEndianImplicitTransferSyntax});
  };
  std::map<std::string, std::size_t> batch_of_class;
  for (const auto& sop_class : classes) {
    const auto& list = syntaxes[sop_class];
    if (batches.empty() || batches.back().contexts.size() + list.size() > kMaxContextsPerAssociation) newBatch();
    // A class with more syntaxes than fit (impossible in practice) keeps only the first ones.
    for (const auto& ts : list)
      if (batches.back().contexts.size() < kMaxContextsPerAssociation) batches.back().contexts.push_back({sop_class, ts});
    batches.back().sop_classes.push_back(sop_class);
    batch_of_class[sop_class] = batches.size() - 1;
  }
  for (const auto& file : pending) batches[batch_of_class[file.sop_class]].files.push_back(&file);
  return batches;
}

// Where a send spends its time, for the log line that ends it (milliseconds).
struct SendTimes {
  using Clock = std::chrono::steady_clock;
  double open = 0, read = 0, store = 0, release = 0;
  static double since(Clock::time_point start) {
    return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
  }
};

// Sends one file on an open association; returns false when the association is lost.
bool sendOne(ScuAssociation& assoc, const PendingFile& file, FileSendResult& result, std::set<std::string>& refused,
             SendTimes& times) {
  T_ASC_PresentationContextID pcid = assoc.acceptedContext(file.sop_class, file.transfer_syntax);
  if (pcid == 0 && canSendUncompressed(file.transfer_syntax)) {
    pcid = assoc.acceptedContext(file.sop_class, UID_LittleEndianExplicitTransferSyntax);
    if (pcid == 0) pcid = assoc.acceptedContext(file.sop_class, UID_LittleEndianImplicitTransferSyntax);
  }
  if (pcid == 0) {
    if (!assoc.anyAccepted(file.sop_class)) {
      refused.insert(file.sop_class);
      result.outcome = SendOutcome::NotAccepted;
      result.text = assoc.peerName() + " does not accept " + uidName(file.sop_class);
      return true;
    }
    result.outcome = SendOutcome::Failed;
    result.text = fmt::format("{} accepts {} only in {}; this file is {} and cannot be decoded here", assoc.peerName(),
                              uidName(file.sop_class),
                              uidName(assoc.acceptedTransferSyntax(assoc.acceptedContext(file.sop_class))),
                              uidName(file.transfer_syntax));
    return true;
  }
  const std::string wire_syntax = assoc.acceptedTransferSyntax(pcid);

  auto started = SendTimes::Clock::now();
  DcmFileFormat dicom;
  OFCondition cond = dicom.loadFile(result.path.c_str());
  if (cond.bad()) {
    result.outcome = SendOutcome::Failed;
    result.text = "cannot read DICOM file: " + std::string(cond.text());
    return true;
  }
  DcmDataset* dataset = dicom.getDataset();
  if (wire_syntax != file.transfer_syntax) {
    const E_TransferSyntax target = DcmXfer(wire_syntax.c_str()).getXfer();
    if (DcmXfer(dataset->getOriginalXfer()).isEncapsulated()) cond = dataset->chooseRepresentation(target, nullptr);
    if (cond.bad() || !dataset->canWriteXfer(target)) {
      result.outcome = SendOutcome::Failed;
      result.text = fmt::format("cannot convert from {} to {}{}", uidName(file.transfer_syntax), uidName(wire_syntax),
                                cond.bad() ? ": " + std::string(cond.text()) : std::string());
      return true;
    }
  }

  times.read += SendTimes::since(started);
  started = SendTimes::Clock::now();
  T_DIMSE_C_StoreRQ request;
  std::memset(&request, 0, sizeof(request));
  request.MessageID = assoc.nextMessageId();
  OFStandard::strlcpy(request.AffectedSOPClassUID, result.sop_class_uid.c_str(), sizeof(request.AffectedSOPClassUID));
  OFStandard::strlcpy(request.AffectedSOPInstanceUID, result.sop_instance_uid.c_str(),
                      sizeof(request.AffectedSOPInstanceUID));
  request.DataSetType = DIMSE_DATASET_PRESENT;
  request.Priority = DIMSE_PRIORITY_MEDIUM;
  T_DIMSE_C_StoreRSP response;
  std::memset(&response, 0, sizeof(response));
  DcmDataset* detail = nullptr;
  cond = DIMSE_storeUser(assoc.get(), pcid, &request, nullptr, dataset, nullptr, nullptr, assoc.blockMode(),
                         assoc.dimseTimeout(), &response, &detail);
  times.store += SendTimes::since(started);
  if (cond.bad()) {
    delete detail;
    result.outcome = SendOutcome::Failed;
    result.text = "C-STORE to " + assoc.peerName() + " failed: " + conditionText(cond);
    return false;
  }
  result.transfer_syntax_uid = wire_syntax;
  result.status = response.DimseStatus;
  result.has_status = true;
  result.outcome = outcomeOfStatus(response.DimseStatus);
  if (result.outcome != SendOutcome::Delivered) result.text = statusText(response.DimseStatus, detail);
  delete detail;
  return true;
}

}  // namespace

void checkTlsSettings(const Destination& destination) {
  if (destination.tls) makeTlsLayer(destinationTlsOptions(destination));
}

StoreScu::StoreScu(ScuSettings settings) : settings_(std::move(settings)) {}

SendReport StoreScu::send(const Destination& destination, const std::vector<std::filesystem::path>& files,
                          const std::set<std::string>& known_refused) const {
  registerBuiltInDecoders();
  auto log = moduleLogger("scp");
  const auto send_started = SendTimes::Clock::now();
  SendTimes times;
  SendReport report;
  report.files.resize(files.size());

  std::vector<PendingFile> pending;
  for (std::size_t i = 0; i < files.size(); ++i) {
    FileSendResult& result = report.files[i];
    result.path = files[i].string();
    std::string transfer_syntax;
    if (!inspectFile(files[i], result, transfer_syntax)) {
      result.outcome = SendOutcome::Failed;
      continue;
    }
    if (known_refused.count(result.sop_class_uid) != 0) {
      result.outcome = SendOutcome::NotAccepted;
      result.text = destination.aet + " is known to refuse " + uidName(result.sop_class_uid) + "; not proposed";
      continue;
    }
    const auto& allowed = destination.sop_classes;
    if (!allowed.empty() && std::find(allowed.begin(), allowed.end(), result.sop_class_uid) == allowed.end()) {
      result.outcome = SendOutcome::NotAccepted;
      result.text = uidName(result.sop_class_uid) + " is not among the SOP classes configured for destination " +
                    destination.name + "; not proposed";
      continue;
    }
    pending.push_back({i, result.sop_class_uid, transfer_syntax});
  }

  const std::vector<Batch> batches = planBatches(pending);
  for (std::size_t b = 0; b < batches.size(); ++b) {
    const Batch& batch = batches[b];
    auto started = SendTimes::Clock::now();
    ScuAssociation assoc(settings_, destination);
    const OpenResult opened = assoc.open(batch.contexts);
    times.open += SendTimes::since(started);
    if (opened == OpenResult::NoneAccepted) {
      for (const PendingFile* file : batch.files) {
        FileSendResult& result = report.files[file->index];
        result.outcome = SendOutcome::NotAccepted;
        result.text = assoc.peerName() + " does not accept " + uidName(file->sop_class);
        report.refused_sop_classes.insert(file->sop_class);
      }
      continue;
    }
    if (opened != OpenResult::Open) {
      report.association = failureOf(opened);
      report.association_error = assoc.error();
      for (const PendingFile* file : batch.files) {
        report.files[file->index].outcome = SendOutcome::Failed;
        report.files[file->index].text = assoc.error();
      }
      // Unreachable, rejected or a failed handshake now means the same for the next association: stop here.
      if (opened == OpenResult::Unreachable || opened == OpenResult::Rejected || opened == OpenResult::TlsFailed) {
        for (std::size_t later = b + 1; later < batches.size(); ++later)
          for (const PendingFile* file : batches[later].files) {
            report.files[file->index].outcome = SendOutcome::Failed;
            report.files[file->index].text = assoc.error();
          }
        break;
      }
      continue;
    }

    std::string lost;
    for (const PendingFile* file : batch.files) {
      FileSendResult& result = report.files[file->index];
      if (!lost.empty()) {
        result.outcome = SendOutcome::Failed;
        result.text = "not sent: " + lost;
        continue;
      }
      if (!sendOne(assoc, *file, result, report.refused_sop_classes, times)) {
        lost = result.text;
        report.association = AssociationFailure::Failed;
        report.association_error = "association with " + assoc.peerName() + " lost: " + result.text;
        assoc.drop();
      }
    }
    started = SendTimes::Clock::now();
    assoc.release();
    times.release += SendTimes::since(started);
  }

  const auto delivered = report.count(SendOutcome::Delivered);
  const auto warnings = report.count(SendOutcome::Warning);
  const auto failed = report.count(SendOutcome::Failed);
  const auto not_accepted = report.count(SendOutcome::NotAccepted);
  if (report.association != AssociationFailure::None)
    log->warn("C-STORE to {} ({}@{}:{}): {}", destination.name, destination.aet, destination.host, destination.port,
              report.association_error);
  log->info(
      "C-STORE to {} ({}@{}:{}): {} files, delivered={} warning={} failed={} not_accepted={} in {:.0f} ms "
      "(association {:.0f} ms, reading {:.0f} ms, C-STORE {:.0f} ms, release {:.0f} ms)",
      destination.name, destination.aet, destination.host, destination.port, files.size(), delivered, warnings, failed,
      not_accepted, SendTimes::since(send_started), times.open, times.read, times.store, times.release);
  return report;
}

EchoResult StoreScu::echo(const Destination& destination) const {
  EchoResult result;
  ScuAssociation assoc(settings_, destination);
  const OpenResult opened = assoc.open({{UID_VerificationSOPClass, UID_LittleEndianExplicitTransferSyntax},
                                        {UID_VerificationSOPClass, UID_LittleEndianImplicitTransferSyntax}});
  if (opened == OpenResult::NoneAccepted) {
    result.association = AssociationFailure::None;
    result.error = assoc.peerName() + " does not accept the Verification SOP class (C-ECHO)";
    return result;
  }
  if (opened != OpenResult::Open) {
    result.association = failureOf(opened);
    result.error = assoc.error();
    return result;
  }
  DIC_US status = 0;
  DcmDataset* detail = nullptr;
  OFCondition cond =
      DIMSE_echoUser(assoc.get(), assoc.nextMessageId(), assoc.blockMode(), assoc.dimseTimeout(), &status, &detail);
  delete detail;
  if (cond.bad()) {
    result.association = AssociationFailure::Failed;
    result.error = "C-ECHO to " + assoc.peerName() + " failed: " + conditionText(cond);
    assoc.drop();
    return result;
  }
  assoc.release();
  result.status = status;
  result.ok = status == STATUS_Success;
  if (!result.ok) result.error = fmt::format("C-ECHO to {} answered {}", assoc.peerName(), statusHex(status));
  return result;
}

}  // namespace volnode
