#include "socket_handover.hpp"

#include <dcmtk/dcmnet/dcmtrans.h>
#include <dcmtk/dcmnet/dul.h>

namespace volnode {
namespace {

std::mutex handover_mutex;
thread_local bool handover_held = false;

}  // namespace

void beginHandover(int fd) {
  handover_mutex.lock();
  handover_held = true;
  dcmExternalSocketHandle.set(fd);
}

void endHandover() {
  if (!handover_held) return;
  dcmExternalSocketHandle.set(DCMNET_INVALID_SOCKET);
  handover_held = false;
  handover_mutex.unlock();
}

bool handoverPending() { return handover_held; }

DcmTransportConnection* HandoverLayer::createConnection(DcmNativeSocketType socket, OFBool secure) {
  endHandover();  // DCMTK has read the handle: the next connection may be handed over
  return tls_ ? tls_->createConnection(socket, secure) : DcmTransportLayer::createConnection(socket, secure);
}

void AssociationSockets::remember(const void* association, int fd) {
  std::lock_guard lock(mutex_);
  sockets_[association] = fd;
}

int AssociationSockets::take(const void* association) {
  std::lock_guard lock(mutex_);
  auto it = sockets_.find(association);
  if (it == sockets_.end()) return -1;
  int fd = it->second;
  sockets_.erase(it);
  return fd;
}

}  // namespace volnode
