#include "worker_pool.hpp"

#include <pthread.h>

#include "association_session.hpp"

namespace volnode {
namespace {

class Worker : public DcmBaseSCPPool::DcmBaseSCPWorker {
 public:
  Worker(DcmBaseSCPPool& pool, ScpShared& shared) : DcmBaseSCPWorker(pool), session_(shared) {}
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
  AssociationSession session_;
};

}  // namespace

WorkerPool::WorkerPool(ScpShared& shared, DcmTransportLayer* tls) : shared_(shared) {
  const DicomConfig& config = shared.config;
  DcmSCPConfig& cfg = getConfig();
  cfg.setAETitle(config.aet.c_str());
  cfg.setPort(config.port);
  cfg.setMaxReceivePDULength(config.max_pdu);
  cfg.setACSETimeout(static_cast<Uint32>(config.acse_timeout_s));
  cfg.setDIMSEBlockingMode(DIMSE_NONBLOCKING);
  cfg.setDIMSETimeout(static_cast<Uint32>(config.dimse_timeout_s));
  cfg.setHostLookupEnabled(OFFalse);
  cfg.setRespondWithCalledAETitle(!config.check_called_aet);
  setMaxThreads(static_cast<Uint16>(config.max_associations));
  if (tls) cfg.setTransportLayer(tls);
}

void WorkerPool::prepare() { worker_config_ = std::make_unique<DcmSharedSCPConfig>(getConfig()); }

bool WorkerPool::hand(T_ASC_Association* association, bool* busy) {
  OFCondition cond = runAssociation(association, *worker_config_);
  *busy = cond == NET_EC_SCPBusy;
  return cond.good();
}

void WorkerPool::refuse(T_ASC_Association* association, bool local_limit) {
  rejectAssociation(association, local_limit ? ASC_REASON_SP_PRES_LOCALLIMITEXCEEDED
                                             : ASC_REASON_SP_PRES_TEMPORARYCONGESTION);
  dropAndDestroyAssociation(association);
}

DcmBaseSCPPool::DcmBaseSCPWorker* WorkerPool::createSCPWorker() { return new Worker(*this, shared_); }

}  // namespace volnode
