#pragma once
// Internal to volnode_scp: the threads that serve associations, at most
// dicom.max_associations at once. The acceptor hands each received association
// request to the pool; a worker serves it with an AssociationSession.
#include <memory>

#include <dcmtk/dcmnet/scppool.h>

#include "scp_shared.hpp"

class DcmTransportLayer;

namespace volnode {

class WorkerPool : public DcmBaseSCPPool {
 public:
  // Configured from shared.config; `tls` (may be null) serves every association.
  WorkerPool(ScpShared& shared, DcmTransportLayer* tls);

  // Snapshot of the configuration every worker gets; after the configuration is complete.
  void prepare();

  // Gives a received association request to a worker. False, with the association
  // untouched, when none is free (`busy`: dicom.max_associations are being served).
  bool hand(T_ASC_Association* association, bool* busy);
  // A-ASSOCIATE-RJ (transient: local limit exceeded, or congestion) and the connection closed.
  void refuse(T_ASC_Association* association, bool local_limit);

 protected:
  DcmBaseSCPWorker* createSCPWorker() override;

 private:
  ScpShared& shared_;
  std::unique_ptr<DcmSharedSCPConfig> worker_config_;
};

}  // namespace volnode
