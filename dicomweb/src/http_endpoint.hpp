#pragma once
// One DICOMweb service as an HTTP peer: its base URL split into scheme, host, port and
// path, and an httplib client set up with the destination's TLS and credentials.
#include <memory>
#include <string>

#include <httplib.h>

#include "volnode/core/config.hpp"

namespace volnode::dicomweb {

struct BaseUrl {
  bool https = false;
  std::string host;
  int port = 0;
  std::string path;  // without a trailing '/', "" for the root
};

// Throws Error(InvalidConfig) naming `key` for a URL that is not http(s)://host[:port][/path].
BaseUrl parseBaseUrl(const std::string& url, const std::string& key);

// The first line of a secret file, without the line end. Throws Error(InvalidConfig)
// naming `key` (never the content) when the file cannot be read or is empty.
std::string readSecretFile(const std::string& path, const std::string& key);

// A client for the destination, credentials set; throws Error(InvalidConfig) when
// its url, secret files or CA file cannot be used. `config_key` names the peer in
// messages ("sources.<name>"); "" for "destinations.<name>".
std::unique_ptr<httplib::ClientImpl> makeClient(const Destination& destination, const BaseUrl& base,
                                                const std::string& config_key = "");

// "HTTP 401 Unauthorized" and the like, with a hint for the statuses an
// administrator can do something about.
std::string describeHttpStatus(int status, const std::string& destination_name, const std::string& config_key = "");

// What httplib's transport error means, in words.
std::string describeTransportError(httplib::Error error);

}  // namespace volnode::dicomweb
