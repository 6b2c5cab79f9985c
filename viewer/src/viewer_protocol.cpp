#include "volnode/viewer/viewer_protocol.hpp"

#include <poll.h>
#include <sys/socket.h>

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstring>

#include <nlohmann/json.hpp>

namespace volnode::viewer {
namespace {

constexpr uint32_t kMaxHeader = 1 << 20;
constexpr uint32_t kMaxBody = 64u << 20;

bool writeAll(int fd, const char* data, size_t size) {
  while (size > 0) {
    ssize_t n = ::send(fd, data, size, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data += n;
    size -= size_t(n);
  }
  return true;
}

// Reads exactly `size` bytes; deadline_ms < 0 waits for ever.
bool readAll(int fd, char* data, size_t size, std::chrono::steady_clock::time_point deadline, bool timed) {
  while (size > 0) {
    if (timed) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) return false;
      pollfd p{fd, POLLIN, 0};
      const int ready = ::poll(&p, 1, int(left.count()));
      if (ready < 0 && errno == EINTR) continue;
      if (ready <= 0) return false;
    }
    ssize_t n = ::recv(fd, data, size, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data += n;
    size -= size_t(n);
  }
  return true;
}

bool sendMessage(int fd, const std::string& header, const std::string& body) {
  if (header.size() > kMaxHeader || body.size() > kMaxBody) return false;
  const uint32_t lengths[2] = {uint32_t(header.size()), uint32_t(body.size())};
  return writeAll(fd, reinterpret_cast<const char*>(&lengths[0]), 4) && writeAll(fd, header.data(), header.size()) &&
         writeAll(fd, reinterpret_cast<const char*>(&lengths[1]), 4) && writeAll(fd, body.data(), body.size());
}

bool receiveMessage(int fd, std::string& header, std::string& body, int timeout_ms) {
  const bool timed = timeout_ms >= 0;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timed ? timeout_ms : 0);
  uint32_t length = 0;
  if (!readAll(fd, reinterpret_cast<char*>(&length), 4, deadline, timed) || length > kMaxHeader) return false;
  header.resize(length);
  if (!readAll(fd, header.data(), length, deadline, timed)) return false;
  if (!readAll(fd, reinterpret_cast<char*>(&length), 4, deadline, timed) || length > kMaxBody) return false;
  body.resize(length);
  return readAll(fd, body.data(), length, deadline, timed);
}

}  // namespace

bool sendRequest(int fd, const ViewerRequest& request) {
  const nlohmann::json header{{"kind", request.kind}, {"series", request.series_uid}, {"params", request.params}};
  return sendMessage(fd, header.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace), "");
}

std::optional<ViewerRequest> receiveRequest(int fd) {
  std::string header, body;
  if (!receiveMessage(fd, header, body, -1)) return std::nullopt;
  auto json = nlohmann::json::parse(header, nullptr, false);
  if (!json.is_object()) return std::nullopt;
  ViewerRequest request;
  try {
    request.kind = json.at("kind").get<std::string>();
    request.series_uid = json.at("series").get<std::string>();
    request.params = json.at("params").get<std::map<std::string, std::string>>();
  } catch (const nlohmann::json::exception&) {
    return std::nullopt;
  }
  return request;
}

bool sendReply(int fd, const ViewerReply& reply) {
  const nlohmann::json header{{"status", reply.status},   {"content_type", reply.content_type},
                              {"error", reply.error},     {"parameter", reply.parameter},
                              {"headers", reply.headers}};
  return sendMessage(fd, header.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace), reply.body);
}

std::optional<ViewerReply> receiveReply(int fd, int timeout_ms) {
  std::string header, body;
  if (!receiveMessage(fd, header, body, timeout_ms)) return std::nullopt;
  auto json = nlohmann::json::parse(header, nullptr, false);
  if (!json.is_object()) return std::nullopt;
  ViewerReply reply;
  try {
    reply.status = json.at("status").get<int>();
    reply.content_type = json.value("content_type", "");
    reply.error = json.value("error", "");
    reply.parameter = json.value("parameter", "");
    reply.headers = json.value("headers", std::map<std::string, std::string>{});
  } catch (const nlohmann::json::exception&) {
    return std::nullopt;
  }
  reply.body = std::move(body);
  return reply;
}

}  // namespace volnode::viewer
