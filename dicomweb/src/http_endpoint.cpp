#include "http_endpoint.hpp"

#include <openssl/ssl.h>

#include <fstream>

#include "volnode/core/error.hpp"

namespace volnode::dicomweb {

BaseUrl parseBaseUrl(const std::string& url, const std::string& key) {
  auto bad = [&](const std::string& why) {
    throw Error(Errc::InvalidConfig, key + " = \"" + url + "\": " + why);
  };
  BaseUrl base;
  std::string rest;
  if (url.rfind("https://", 0) == 0) {
    base.https = true;
    rest = url.substr(8);
  } else if (url.rfind("http://", 0) == 0) {
    rest = url.substr(7);
  } else {
    bad("must start with http:// or https://");
  }
  auto slash = rest.find('/');
  std::string authority = rest.substr(0, slash);
  base.path = slash == std::string::npos ? "" : rest.substr(slash);
  while (!base.path.empty() && base.path.back() == '/') base.path.pop_back();
  if (authority.find('@') != std::string::npos) bad("credentials do not belong in the url; use username/password_file");
  base.port = base.https ? 443 : 80;
  std::string host = authority;
  if (!authority.empty() && authority.front() == '[') {  // [IPv6]:port
    auto close = authority.find(']');
    if (close == std::string::npos) bad("unclosed '[' in the host");
    host = authority.substr(1, close - 1);
    if (close + 1 < authority.size()) {
      if (authority[close + 1] != ':') bad("expected ':' after ']'");
      authority = "x" + authority.substr(close + 1);  // reuse the port parse below
    } else {
      authority = "x";
    }
  }
  if (auto colon = authority.rfind(':'); colon != std::string::npos) {
    if (host == authority) host = authority.substr(0, colon);
    std::string port = authority.substr(colon + 1);
    if (port.empty() || port.size() > 5 || port.find_first_not_of("0123456789") != std::string::npos) bad("bad port");
    base.port = std::stoi(port);
    if (base.port < 1 || base.port > 65535) bad("port out of range 1-65535");
  }
  if (host.empty()) bad("no host");
  base.host = host;
  return base;
}

std::string readSecretFile(const std::string& path, const std::string& key) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(Errc::InvalidConfig, key + ": cannot read \"" + path + "\"");
  std::string line;
  std::getline(in, line);
  while (!line.empty() && (line.back() == '\r' || line.back() == ' ' || line.back() == '\t')) line.pop_back();
  if (line.empty()) throw Error(Errc::InvalidConfig, key + ": \"" + path + "\" is empty (its first line is the secret)");
  return line;
}

std::unique_ptr<httplib::ClientImpl> makeClient(const Destination& d, const BaseUrl& base,
                                                const std::string& config_key) {
  const std::string prefix = (config_key.empty() ? d.section + "." + d.name : config_key) + ".";
  std::unique_ptr<httplib::ClientImpl> client;
  if (base.https) {
    auto ssl = std::make_unique<httplib::SSLClient>(base.host, base.port);
    if (!d.tls_ca.empty() && !std::ifstream(d.tls_ca))
      throw Error(Errc::InvalidConfig, prefix + "tls_ca: cannot read \"" + d.tls_ca + "\"");
    if (d.tls_verify_host) {
      // httplib verifies the chain and that the certificate names the host.
      if (!d.tls_ca.empty()) ssl->set_ca_cert_path(d.tls_ca.c_str());
      ssl->enable_server_certificate_verification(true);
    } else {
      // The chain is still verified, by OpenSSL during the handshake; only the
      // host name check (httplib's) is left out.
      ssl->enable_server_certificate_verification(false);
      SSL_CTX* ctx = ssl->ssl_context();
      bool loaded = d.tls_ca.empty() ? SSL_CTX_set_default_verify_paths(ctx) == 1
                                     : SSL_CTX_load_verify_locations(ctx, d.tls_ca.c_str(), nullptr) == 1;
      if (!loaded) throw Error(Errc::InvalidConfig, prefix + "tls_ca: \"" + d.tls_ca + "\" holds no usable certificate");
      SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
    }
    client = std::move(ssl);
  } else {
    client = std::make_unique<httplib::ClientImpl>(base.host, base.port);
  }
  client->set_connection_timeout(std::min(d.timeout_s, 30), 0);
  client->set_read_timeout(d.timeout_s, 0);
  client->set_write_timeout(d.timeout_s, 0);
  client->set_keep_alive(true);
  if (!d.username.empty()) client->set_basic_auth(d.username, readSecretFile(d.password_file, prefix + "password_file"));
  if (!d.token_file.empty()) client->set_bearer_token_auth(readSecretFile(d.token_file, prefix + "token_file"));
  return client;
}

std::string describeHttpStatus(int status, const std::string& name, const std::string& config_key) {
  std::string text = "HTTP " + std::to_string(status);
  const std::string prefix = (config_key.empty() ? "destinations." + name : config_key) + ".";
  switch (status) {
    case 400: return text + " Bad Request";
    case 401: return text + " Unauthorized: the credentials were refused (check " + prefix + "username/password_file or token_file)";
    case 403: return text + " Forbidden: these credentials may not store here";
    case 404: return text + " Not Found: no STOW-RS service at this url (check " + prefix + "url)";
    case 409: return text + " Conflict: no instance was stored";
    case 413: return text + " Payload Too Large";
    case 415: return text + " Unsupported Media Type: the server does not take multipart/related; type=\"application/dicom\"";
    case 429: return text + " Too Many Requests";
    case 500: return text + " Internal Server Error";
    case 502: return text + " Bad Gateway";
    case 503: return text + " Service Unavailable";
    case 504: return text + " Gateway Timeout";
    default: return text;
  }
}

std::string describeTransportError(httplib::Error error) {
  switch (error) {
    case httplib::Error::Connection: return "cannot connect";
    case httplib::Error::Read: return "no answer in time (read timeout or connection closed)";
    case httplib::Error::Write: return "the connection broke while sending";
    case httplib::Error::SSLConnection: return "TLS handshake failed";
    case httplib::Error::SSLLoadingCerts: return "cannot load the CA certificates";
    case httplib::Error::SSLServerVerification: return "the server's certificate was refused (not signed by tls_ca, or not naming the host)";
    case httplib::Error::ConnectionTimeout: return "connect timed out";
    default: return "HTTP transport error (" + httplib::to_string(error) + ")";
  }
}

}  // namespace volnode::dicomweb
