#pragma once
// What the node and a viewer worker say to each other over their Unix socket:
// one request, one reply, each a JSON header and a byte body, length-prefixed.
#include <map>
#include <optional>
#include <string>

namespace volnode::viewer {

struct ViewerRequest {
  std::string kind;        // "view3d" | "slice" | "prepare" (a series opened ahead, no image)
  std::string series_uid;  // checked by the console: digits and dots
  std::map<std::string, std::string> params;  // the query parameters as given
};

struct ViewerReply {
  int status = 200;           // HTTP status for the console to answer with
  std::string content_type;   // of body when status is 200
  std::string error;          // why, when status is not 200
  std::string parameter;      // the parameter a 400 is about
  std::map<std::string, std::string> headers;  // e.g. X-Orientation-Letters
  std::string body;
};

// Blocking; false when the peer is gone. Bodies over 64 MiB are refused.
bool sendRequest(int fd, const ViewerRequest& request);
std::optional<ViewerRequest> receiveRequest(int fd);
bool sendReply(int fd, const ViewerReply& reply);
// Waits at most timeout_ms for the whole reply (a worker that hangs costs the
// request, never the console thread); nullopt on time-out or a closed socket.
std::optional<ViewerReply> receiveReply(int fd, int timeout_ms);

}  // namespace volnode::viewer
