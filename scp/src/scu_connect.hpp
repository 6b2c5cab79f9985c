#pragma once
// Internal to volnode_scp: the TCP connection of an SCU association, made by us
// with that association's own connect timeout, then handed to DCMTK.
//
// Why not DCMTK's connect: DCMTK 3.6.7 connects in requestAssociationTCP()
// (dcmnet/libsrc/dulfsm.cc), which takes its timeout from the process-wide
// dcmConnectionTimeout. Setting that global before each association lets one
// destination's timeout apply to another's connect when threads associate at
// the same time. DCMTK has no way to take a socket on the requesting side:
// dcmExternalSocketHandle is read only when accepting (receiveTransportConnectionTCP),
// and requestAssociationTCP() always creates and connects a socket of its own.
// Its one hook is the network's transport layer, whose createConnection() it
// calls with that socket as soon as it is connected, and before it touches the
// socket otherwise (socket options, TLS handshake, A-ASSOCIATE-RQ).
//
// So: we connect to the peer ourselves (non-blocking connect + poll, with this
// association's timeout), and let DCMTK connect to a one-shot listener of ours
// on loopback, which succeeds at once. In createConnection() we put our
// connection in place of DCMTK's socket (dup3 onto the same descriptor number)
// and close the listener; from then on DCMTK works on the peer connection as if
// it had made it, TLS included. dcmConnectionTimeout is never changed.
#include <memory>
#include <string>

#include <dcmtk/dcmnet/dcmlayer.h>

namespace volnode::scu_detail {

// A connected TCP socket (blocking mode, close-on-exec), or why there is none.
struct TcpConnection {
  int fd = -1;
  std::string error;  // "connection refused", "no answer within 3 s", "unknown host 'x'" ...
};

// Connects to host:port, trying each address the name resolves to, all within
// `timeout_s` seconds (0 or less: no limit). The name lookup itself is not
// bounded (as in DCMTK).
TcpConnection connectTcp(const std::string& host, int port, int timeout_s);

// The transport layer given to DCMTK for one association: hands it `connected`
// in place of the socket DCMTK connects to placeholderAddress(). `inner` is the
// TLS layer for a TLS association, or null for plain TCP.
class ConnectedSocketHandover : public DcmTransportLayer {
 public:
  // Takes ownership of `connected`.
  ConnectedSocketHandover(int connected, DcmTransportLayer* inner);
  ~ConnectedSocketHandover() override;
  ConnectedSocketHandover(const ConnectedSocketHandover&) = delete;
  ConnectedSocketHandover& operator=(const ConnectedSocketHandover&) = delete;

  // Opens the loopback listener DCMTK is to connect to; "" or why it cannot.
  std::string openPlaceholder();
  // "127.0.0.1:port" of that listener, for DCMTK's called presentation address.
  const std::string& placeholderAddress() const { return placeholder_address_; }
  // DCMTK has been given our connection.
  bool handedOver() const { return handed_over_; }

  DcmTransportConnection* createConnection(DcmNativeSocketType socket, OFBool secure) override;

 private:
  void closeListener();

  int connected_ = -1;
  int listener_ = -1;
  DcmTransportLayer* inner_ = nullptr;
  std::string placeholder_address_;
  bool handed_over_ = false;
};

}  // namespace volnode::scu_detail
