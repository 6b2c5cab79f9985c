#include "scu_connect.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>

namespace volnode::scu_detail {
namespace {

using Clock = std::chrono::steady_clock;

// What awaitConnect() returns when the deadline passed before the connect finished.
constexpr int kDeadlinePassed = -1;

// Waits for a non-blocking connect to finish: 0 when connected, the socket's
// error (errno value) when it failed, or kDeadlinePassed.
int awaitConnect(int fd, bool bounded, Clock::time_point deadline) {
  for (;;) {
    int wait_ms = -1;
    if (bounded) {
      const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now()).count();
      if (left <= 0) return kDeadlinePassed;
      wait_ms = static_cast<int>(left);
    }
    pollfd p{fd, POLLOUT, 0};
    const int ready = ::poll(&p, 1, wait_ms);
    if (ready == 0 || (ready < 0 && errno == EINTR)) continue;  // the loop checks the deadline
    if (ready < 0) return errno;
    int error = 0;
    socklen_t length = sizeof error;
    if (::getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length) != 0) return errno;
    return error;
  }
}

std::string lowerFirst(std::string text) {
  if (!text.empty() && text[0] >= 'A' && text[0] <= 'Z') text[0] = static_cast<char>(text[0] - 'A' + 'a');
  return text;
}

}  // namespace

TcpConnection connectTcp(const std::string& host, int port, int timeout_s) {
  const bool bounded = timeout_s > 0;
  const Clock::time_point deadline = Clock::now() + std::chrono::seconds(bounded ? timeout_s : 0);
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV;
  addrinfo* found = nullptr;
  const int looked_up = ::getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &found);
  if (looked_up != 0) return {-1, "unknown host '" + host + "' (" + ::gai_strerror(looked_up) + ")"};

  std::string error = "no address for host '" + host + "'";
  for (addrinfo* address = found; address != nullptr; address = address->ai_next) {
    const int fd = ::socket(address->ai_family, address->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, address->ai_protocol);
    if (fd < 0) {
      error = lowerFirst(std::strerror(errno));
      continue;
    }
    int result = ::connect(fd, address->ai_addr, address->ai_addrlen) == 0 ? 0 : errno;
    // EINTR: the connect goes on in the background, as with EINPROGRESS.
    if (result == EINPROGRESS || result == EINTR) result = awaitConnect(fd, bounded, deadline);
    if (result == 0) {
      ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) & ~O_NONBLOCK);  // DCMTK reads and writes blocking
      ::freeaddrinfo(found);
      return {fd, ""};
    }
    ::close(fd);
    if (result == kDeadlinePassed) {
      error = "no answer within " + std::to_string(timeout_s) + " s (connect timeout)";
      break;  // the time is spent for every address
    }
    error = lowerFirst(std::strerror(result));
  }
  ::freeaddrinfo(found);
  return {-1, error};
}

ConnectedSocketHandover::ConnectedSocketHandover(int connected, DcmTransportLayer* inner)
    : connected_(connected), inner_(inner) {}

ConnectedSocketHandover::~ConnectedSocketHandover() {
  if (connected_ >= 0) ::close(connected_);
  closeListener();
}

std::string ConnectedSocketHandover::openPlaceholder() {
  listener_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (listener_ < 0) return std::string("cannot open a loopback socket: ") + std::strerror(errno);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = 0;  // any free port
  socklen_t length = sizeof address;
  if (::bind(listener_, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 || ::listen(listener_, 8) != 0 ||
      ::getsockname(listener_, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
    const std::string why = std::string("cannot listen on loopback: ") + std::strerror(errno);
    closeListener();
    return why;
  }
  placeholder_address_ = "127.0.0.1:" + std::to_string(ntohs(address.sin_port));
  return "";
}

DcmTransportConnection* ConnectedSocketHandover::createConnection(DcmNativeSocketType socket, OFBool secure) {
  if (connected_ < 0) return nullptr;  // one connection per association
  // The peer connection takes the descriptor number DCMTK knows; DCMTK's own
  // loopback socket is closed by it, and the listener is no longer needed.
  if (::dup3(connected_, socket, O_CLOEXEC) < 0) return nullptr;
  ::close(connected_);
  connected_ = -1;
  closeListener();
  handed_over_ = true;
  return inner_ != nullptr ? inner_->createConnection(socket, secure) : DcmTransportLayer::createConnection(socket, secure);
}

void ConnectedSocketHandover::closeListener() {
  if (listener_ >= 0) ::close(listener_);
  listener_ = -1;
}

}  // namespace volnode::scu_detail
