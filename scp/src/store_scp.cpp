// The listener's parts: the acceptor (port, connections, association requests),
// the worker pool (one thread per association), the association session
// (negotiation, C-ECHO, C-STORE) and the slot writer (the received instance on disk).
#include "volnode/scp/store_scp.hpp"

#include <chrono>
#include <thread>

#include <dcmtk/dcmtls/tlslayer.h>

#include "acceptor.hpp"
#include "scp_shared.hpp"
#include "tls_layer.hpp"
#include "worker_pool.hpp"

namespace volnode {

struct StoreScp::Impl {
  Impl(const DicomConfig& config, InstanceSink& sink)
      : shared(config, sink),
        tls(config.tls ? makeTlsLayer(listenerTlsOptions(config)) : nullptr),
        pool(shared, tls.get()),
        acceptor(shared, pool, tls.get()) {}

  ScpShared shared;
  std::unique_ptr<DcmTLSTransportLayer> tls;  // outlives every connection made with it
  WorkerPool pool;
  Acceptor acceptor;
};

StoreScp::StoreScp(const DicomConfig& config, InstanceSink& sink) : impl_(std::make_unique<Impl>(config, sink)) {}

StoreScp::~StoreScp() { stop(); }

void StoreScp::start() {
  const DicomConfig& config = impl_->shared.config;
  impl_->acceptor.open();
  impl_->pool.prepare();
  impl_->acceptor.start();
  impl_->shared.log->info("DICOM listener '{}' on {}:{}{} (max {} associations, max PDU {})", config.aet,
                          config.bind, config.port, config.tls ? " with TLS" : "", config.max_associations,
                          config.max_pdu);
}

void StoreScp::stop() {
  if (!impl_->acceptor.running()) return;
  impl_->acceptor.stop();
  // Associations in progress end on their own (released, aborted or timed out).
  while (impl_->pool.numThreads(OFFalse) > 0) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  impl_->acceptor.close();
  impl_->shared.log->info("DICOM listener stopped");
}

ScpStatus StoreScp::status() const {
  ScpStatus s;
  s.listening = impl_->acceptor.listening();
  s.active_associations = impl_->shared.active;
  s.associations_total = impl_->shared.total;
  s.associations_refused = impl_->shared.refused;
  s.last_error = impl_->acceptor.lastError();
  return s;
}

}  // namespace volnode
