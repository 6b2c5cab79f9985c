#pragma once
// Internal to volnode_scp: how a connection the node accepted itself reaches DCMTK,
// and then the session that serves its association.
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
#include <map>
#include <mutex>

#include <dcmtk/dcmnet/dcmlayer.h>

namespace volnode {

// Takes the handover lock and gives `fd` to DCMTK as the next connection's socket.
void beginHandover(int fd);
// Releases the lock. Idempotent; only the thread that began the handover ends it.
void endHandover();
// This thread began a handover that DCMTK has not taken yet.
bool handoverPending();

// The network's transport layer: ends the handover when DCMTK makes the
// connection object, then makes it plain or with `tls`.
class HandoverLayer : public DcmTransportLayer {
 public:
  explicit HandoverLayer(DcmTransportLayer* tls) : tls_(tls) {}
  DcmTransportConnection* createConnection(DcmNativeSocketType socket, OFBool secure) override;

 private:
  DcmTransportLayer* tls_;
};

// The socket of each association handed to a worker (DCMTK owns and closes it),
// so the session can shut it down at once when it aborts. Keys are associations,
// which are valid only while alive: an entry is taken before its association is destroyed.
class AssociationSockets {
 public:
  void remember(const void* association, int fd);
  int take(const void* association);  // -1 when none

 private:
  std::mutex mutex_;
  std::map<const void*, int> sockets_;
};

}  // namespace volnode
