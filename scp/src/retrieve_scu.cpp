#include "volnode/scp/retrieve_scu.hpp"

#include <cstring>

#include <dcmtk/dcmdata/dcdatset.h>
#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcuid.h>
#include <dcmtk/dcmnet/diutil.h>
#include <dcmtk/ofstd/ofstd.h>

#include "scu_association.hpp"
#include "volnode/core/error.hpp"
#include "volnode/core/logging.hpp"

namespace volnode {

using scu_detail::OpenResult;
using scu_detail::ScuAssociation;
using scu_detail::conditionText;

namespace {

void requireUid(const std::string& uid, const char* what) {
  const bool valid = !uid.empty() && uid.size() <= 64 &&
                     uid.find_first_not_of("0123456789.") == std::string::npos && uid.front() != '.' &&
                     uid.back() != '.';
  if (!valid) throw Error(Errc::InvalidArgument, std::string(what) + " '" + uid + "' is not a DICOM UID");
}

void requireAet(const std::string& aet) {
  if (aet.empty() || aet.size() > 16) throw Error(Errc::InvalidArgument, "move destination AE title '" + aet + "' must have 1 to 16 characters");
}

// Opens an association proposing one Query/Retrieve SOP class; throws Error(Network) if unusable.
T_ASC_PresentationContextID openFor(ScuAssociation& assoc, const char* sop_class) {
  const OpenResult opened = assoc.open({{sop_class, UID_LittleEndianExplicitTransferSyntax},
                                        {sop_class, UID_LittleEndianImplicitTransferSyntax}});
  if (opened == OpenResult::NoneAccepted)
    throw Error(Errc::Network, assoc.peerName() + " does not accept " + scu_detail::uidName(sop_class));
  if (opened != OpenResult::Open) throw Error(Errc::Network, assoc.error());
  return assoc.acceptedContext(sop_class);
}

std::string stringOf(DcmDataset& dataset, const DcmTagKey& tag) {
  OFString value;
  dataset.findAndGetOFStringArray(tag, value);
  return value.c_str();
}

std::optional<int> intOf(DcmDataset& dataset, const DcmTagKey& tag) {
  const std::string text = stringOf(dataset, tag);
  if (text.empty()) return std::nullopt;
  try {
    return std::stoi(text);
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

struct FindContext {
  std::vector<DcmDataset> matches;
};

void collectFindResponse(void* data, T_DIMSE_C_FindRQ*, int, T_DIMSE_C_FindRSP*, DcmDataset* identifiers) {
  if (identifiers != nullptr) static_cast<FindContext*>(data)->matches.emplace_back(*identifiers);
}

// One C-FIND (Study Root) on a fresh association; the identifiers of every match.
std::vector<DcmDataset> studyRootFind(const ScuSettings& settings, const Destination& peer, DcmDataset& query) {
  ScuAssociation assoc(settings, peer);
  const T_ASC_PresentationContextID pcid = openFor(assoc, UID_FINDStudyRootQueryRetrieveInformationModel);
  T_DIMSE_C_FindRQ request;
  std::memset(&request, 0, sizeof(request));
  request.MessageID = assoc.nextMessageId();
  OFStandard::strlcpy(request.AffectedSOPClassUID, UID_FINDStudyRootQueryRetrieveInformationModel,
                      sizeof(request.AffectedSOPClassUID));
  request.DataSetType = DIMSE_DATASET_PRESENT;
  request.Priority = DIMSE_PRIORITY_MEDIUM;
  T_DIMSE_C_FindRSP response;
  std::memset(&response, 0, sizeof(response));
  DcmDataset* detail = nullptr;
  FindContext found;
  int responses = 0;
  OFCondition cond = DIMSE_findUser(assoc.get(), pcid, &request, &query, responses, collectFindResponse, &found,
                                    assoc.blockMode(), assoc.dimseTimeout(), &response, &detail);
  delete detail;
  if (cond.bad()) {
    assoc.drop();
    throw Error(Errc::Network, "C-FIND at " + assoc.peerName() + " failed: " + conditionText(cond));
  }
  assoc.release();
  if (response.DimseStatus != STATUS_Success)
    throw Error(Errc::Network, fmt::format("C-FIND at {} answered {} (0x{:04X})", assoc.peerName(),
                                           DU_cfindStatusString(response.DimseStatus), response.DimseStatus));
  return std::move(found.matches);
}

struct MoveContext {
  int responses = 0;
  T_DIMSE_C_MoveRSP last_pending{};
  bool any_pending = false;
};

void noteMoveResponse(void* data, T_DIMSE_C_MoveRQ*, int count, T_DIMSE_C_MoveRSP* response) {
  auto* context = static_cast<MoveContext*>(data);
  context->responses = count;
  if (response != nullptr && response->DimseStatus == STATUS_Pending) {
    context->last_pending = *response;
    context->any_pending = true;
  }
}

MoveResult studyRootMove(const ScuSettings& settings, const Destination& peer, DcmDataset& identifiers,
                         const std::string& destination_aet, const std::string& what) {
  auto log = moduleLogger("scp");
  ScuAssociation assoc(settings, peer);
  const T_ASC_PresentationContextID pcid = openFor(assoc, UID_MOVEStudyRootQueryRetrieveInformationModel);
  T_DIMSE_C_MoveRQ request;
  std::memset(&request, 0, sizeof(request));
  request.MessageID = assoc.nextMessageId();
  OFStandard::strlcpy(request.AffectedSOPClassUID, UID_MOVEStudyRootQueryRetrieveInformationModel,
                      sizeof(request.AffectedSOPClassUID));
  request.DataSetType = DIMSE_DATASET_PRESENT;
  request.Priority = DIMSE_PRIORITY_MEDIUM;
  OFStandard::strlcpy(request.MoveDestination, destination_aet.c_str(), sizeof(request.MoveDestination));
  T_DIMSE_C_MoveRSP response;
  std::memset(&response, 0, sizeof(response));
  DcmDataset* detail = nullptr;
  DcmDataset* response_ids = nullptr;
  MoveContext progress;
  OFCondition cond = DIMSE_moveUser(assoc.get(), pcid, &request, &identifiers, noteMoveResponse, &progress,
                                    assoc.blockMode(), assoc.dimseTimeout(), nullptr, nullptr, nullptr, &response,
                                    &detail, &response_ids);
  if (cond.bad()) {
    delete detail;
    delete response_ids;
    assoc.drop();
    throw Error(Errc::Network, "C-MOVE of " + what + " from " + assoc.peerName() + " to " + destination_aet +
                                   " failed: " + conditionText(cond));
  }
  assoc.release();

  MoveResult result;
  result.status = response.DimseStatus;
  // Counts of the final response; a peer that leaves them out gets the last pending ones.
  const T_DIMSE_C_MoveRSP& counts =
      (response.opts & O_MOVE_NUMBEROFCOMPLETEDSUBOPERATIONS) || !progress.any_pending ? response : progress.last_pending;
  if (counts.opts & O_MOVE_NUMBEROFCOMPLETEDSUBOPERATIONS) result.completed = counts.NumberOfCompletedSubOperations;
  if (counts.opts & O_MOVE_NUMBEROFFAILEDSUBOPERATIONS) result.failed = counts.NumberOfFailedSubOperations;
  if (counts.opts & O_MOVE_NUMBEROFWARNINGSUBOPERATIONS) result.warning = counts.NumberOfWarningSubOperations;
  if (counts.opts & O_MOVE_NUMBEROFREMAININGSUBOPERATIONS) result.remaining = counts.NumberOfRemainingSubOperations;
  if (response_ids != nullptr) {
    OFString uid;
    for (unsigned long i = 0; response_ids->findAndGetOFString(DCM_FailedSOPInstanceUIDList, uid, i).good(); ++i)
      result.failed_sop_instance_uids.emplace_back(uid.c_str());
  }
  OFString comment;
  std::string comment_text;
  if (detail != nullptr && detail->findAndGetOFString(DCM_ErrorComment, comment).good() && !comment.empty())
    comment_text = std::string(": ") + comment.c_str();
  delete detail;
  delete response_ids;

  result.nothing_matched = result.status == STATUS_Success && !progress.any_pending && result.completed == 0 && result.failed == 0 &&
                           result.warning == 0 && result.failed_sop_instance_uids.empty();
  result.status_text = fmt::format("{} (0x{:04X}){}", DU_cmoveStatusString(result.status), result.status, comment_text);
  if (result.nothing_matched) result.status_text += "; " + peer.aet + " has no instance of " + what;
  log->info("C-MOVE of {} from {} to {}: {}, completed={} failed={} warning={}", what, assoc.peerName(),
            destination_aet, result.status_text, result.completed, result.failed, result.warning);
  return result;
}

}  // namespace

RetrieveScu::RetrieveScu(ScuSettings settings) : settings_(std::move(settings)) {}

std::optional<RemoteStudy> RetrieveScu::findStudy(const Destination& peer, const std::string& study_uid) const {
  requireUid(study_uid, "StudyInstanceUID");
  DcmDataset query;
  query.putAndInsertString(DCM_QueryRetrieveLevel, "STUDY");
  query.putAndInsertString(DCM_StudyInstanceUID, study_uid.c_str());
  for (const DcmTagKey& tag : {DCM_PatientID, DCM_StudyDate, DCM_StudyDescription, DCM_AccessionNumber,
                               DCM_ModalitiesInStudy, DCM_NumberOfStudyRelatedSeries,
                               DCM_NumberOfStudyRelatedInstances})
    query.insertEmptyElement(tag);
  for (DcmDataset& match : studyRootFind(settings_, peer, query)) {
    if (stringOf(match, DCM_StudyInstanceUID) != study_uid) continue;
    RemoteStudy info;
    info.study_instance_uid = study_uid;
    info.patient_id = stringOf(match, DCM_PatientID);
    info.study_date = stringOf(match, DCM_StudyDate);
    info.study_description = stringOf(match, DCM_StudyDescription);
    info.accession_number = stringOf(match, DCM_AccessionNumber);
    info.modalities_in_study = stringOf(match, DCM_ModalitiesInStudy);
    info.number_of_series = intOf(match, DCM_NumberOfStudyRelatedSeries);
    info.number_of_instances = intOf(match, DCM_NumberOfStudyRelatedInstances);
    return info;
  }
  return std::nullopt;
}

std::vector<RemoteSeries> RetrieveScu::findSeries(const Destination& peer, const std::string& study_uid) const {
  requireUid(study_uid, "StudyInstanceUID");
  DcmDataset query;
  query.putAndInsertString(DCM_QueryRetrieveLevel, "SERIES");
  query.putAndInsertString(DCM_StudyInstanceUID, study_uid.c_str());
  for (const DcmTagKey& tag : {DCM_SeriesInstanceUID, DCM_Modality, DCM_SeriesDescription, DCM_SeriesNumber,
                               DCM_NumberOfSeriesRelatedInstances})
    query.insertEmptyElement(tag);
  std::vector<RemoteSeries> series;
  for (DcmDataset& match : studyRootFind(settings_, peer, query)) {
    RemoteSeries info;
    info.study_instance_uid = study_uid;
    info.series_instance_uid = stringOf(match, DCM_SeriesInstanceUID);
    if (info.series_instance_uid.empty()) continue;
    info.modality = stringOf(match, DCM_Modality);
    info.series_description = stringOf(match, DCM_SeriesDescription);
    info.series_number = intOf(match, DCM_SeriesNumber);
    info.number_of_instances = intOf(match, DCM_NumberOfSeriesRelatedInstances);
    series.push_back(std::move(info));
  }
  return series;
}

std::optional<RemoteSeries> RetrieveScu::findSeriesByUid(const Destination& peer, const std::string& series_uid) const {
  requireUid(series_uid, "SeriesInstanceUID");
  DcmDataset query;
  query.putAndInsertString(DCM_QueryRetrieveLevel, "SERIES");
  query.putAndInsertString(DCM_SeriesInstanceUID, series_uid.c_str());
  for (const DcmTagKey& tag : {DCM_StudyInstanceUID, DCM_PatientID, DCM_Modality, DCM_SeriesDescription,
                               DCM_SeriesNumber, DCM_NumberOfSeriesRelatedInstances})
    query.insertEmptyElement(tag);
  for (DcmDataset& match : studyRootFind(settings_, peer, query)) {
    if (stringOf(match, DCM_SeriesInstanceUID) != series_uid) continue;
    RemoteSeries info;
    info.series_instance_uid = series_uid;
    info.study_instance_uid = stringOf(match, DCM_StudyInstanceUID);
    // Study Root C-MOVE at SERIES level needs the study UID too.
    if (info.study_instance_uid.empty())
      throw Error(Errc::Network, peer.aet + " knows series " + series_uid +
                                     " but did not return its StudyInstanceUID, which a C-MOVE needs");
    info.patient_id = stringOf(match, DCM_PatientID);
    info.modality = stringOf(match, DCM_Modality);
    info.series_description = stringOf(match, DCM_SeriesDescription);
    info.series_number = intOf(match, DCM_SeriesNumber);
    info.number_of_instances = intOf(match, DCM_NumberOfSeriesRelatedInstances);
    return info;
  }
  return std::nullopt;
}

// A move that failed before any sub-operation may have failed because the peer has
// nothing to move; ask it (C-FIND) so the result can say so plainly.
void explainEmptyMove(const RetrieveScu& scu, const Destination& peer, const std::string& study_uid,
                      const std::string& series_uid, MoveResult& result) {
  if (result.ok() || result.nothing_matched || result.completed + result.failed + result.warning > 0) return;
  try {
    bool exists = false;
    if (series_uid.empty()) {
      exists = scu.findStudy(peer, study_uid).has_value();
    } else {
      for (const auto& series : scu.findSeries(peer, study_uid))
        if (series.series_instance_uid == series_uid) exists = true;
    }
    if (exists) return;
    result.nothing_matched = true;
    result.status_text += "; " + peer.aet + " has no " +
                          (series_uid.empty() ? "study " + study_uid : "series " + series_uid);
  } catch (const Error&) {
    // The peer cannot answer C-FIND: keep the move's own status.
  }
}

MoveResult RetrieveScu::moveStudy(const Destination& peer, const std::string& study_uid,
                                  const std::string& move_destination_aet) const {
  requireUid(study_uid, "StudyInstanceUID");
  requireAet(move_destination_aet);
  DcmDataset identifiers;
  identifiers.putAndInsertString(DCM_QueryRetrieveLevel, "STUDY");
  identifiers.putAndInsertString(DCM_StudyInstanceUID, study_uid.c_str());
  MoveResult result = studyRootMove(settings_, peer, identifiers, move_destination_aet, "study " + study_uid);
  explainEmptyMove(*this, peer, study_uid, "", result);
  return result;
}

MoveResult RetrieveScu::moveSeries(const Destination& peer, const std::string& study_uid, const std::string& series_uid,
                                   const std::string& move_destination_aet) const {
  requireUid(study_uid, "StudyInstanceUID");
  requireUid(series_uid, "SeriesInstanceUID");
  requireAet(move_destination_aet);
  DcmDataset identifiers;
  identifiers.putAndInsertString(DCM_QueryRetrieveLevel, "SERIES");
  identifiers.putAndInsertString(DCM_StudyInstanceUID, study_uid.c_str());
  identifiers.putAndInsertString(DCM_SeriesInstanceUID, series_uid.c_str());
  MoveResult result = studyRootMove(settings_, peer, identifiers, move_destination_aet, "series " + series_uid);
  explainEmptyMove(*this, peer, study_uid, series_uid, result);
  return result;
}

}  // namespace volnode
