#pragma once
// Internal to volnode_scp: one association, served on a worker thread. Decides the
// presentation contexts, answers C-ECHO, and receives each C-STORE into a slot of
// the InstanceSink (the data set as it came off the wire), answering with the
// status of keeping it; bounded by the idle, DIMSE and minimum-rate limits.
#include <chrono>
#include <string>
#include <vector>

#include <dcmtk/dcmnet/scpthrd.h>

#include "scp_shared.hpp"

namespace volnode {

class SlotWriter;

class AssociationSession : public DcmThreadSCP {
 public:
  explicit AssociationSession(ScpShared& shared) : shared_(shared) {}

  // Negotiates and serves `association` (received by the acceptor) until it ends.
  OFCondition serve(T_ASC_Association* association);

 protected:
  OFBool checkCalledAETitleAccepted(const OFString& called_ae) override;
  OFBool checkCallingHostAccepted(const OFString& address) override;
  OFBool checkCallingAETitleAccepted(const OFString& calling_ae) override;
  void refuseAssociation(const DcmRefuseReasonType reason) override;
  void notifyAssociationRequest(const T_ASC_Parameters& params, DcmSCPActionType& action) override;
  OFCondition negotiateAssociation() override { return EC_Normal; }
  void notifyAssociationAcknowledge() override;
  void notifyReleaseRequest() override { outcome_ = "released"; }
  void notifyAbortRequest() override { outcome_ = "aborted"; }
  void notifyAssociationTermination() override;
  void handleAssociation() override;
  OFCondition handleIncomingCommand(T_DIMSE_Message* message, const DcmPresentationContextInfo& info) override;

 private:
  using Clock = std::chrono::steady_clock;

  void abortNow();
  OFCondition respond(T_ASC_PresentationContextID presentation, const T_DIMSE_C_StoreRQ& request, Uint16 status,
                      const std::string& comment);
  OFCondition receiveDataset(SlotWriter& writer, DcmOutputStream& stream, T_ASC_PresentationContextID* presentation);
  OFCondition discardDataset();
  OFCondition refuse(T_ASC_PresentationContextID presentation, const T_DIMSE_C_StoreRQ& request,
                     const std::string& why);
  OFCondition handleStore(T_DIMSE_C_StoreRQ& request, T_ASC_PresentationContextID presentation);

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

}  // namespace volnode
