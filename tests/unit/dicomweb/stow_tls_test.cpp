// An https:// DICOMweb destination: the server certificate is checked against tls_ca
// and, unless tls_verify_host = false, for the url's host. The server is cpp-httplib's
// TLS server on loopback with certificates from a test CA; it answers every request
// 503, so an answer proves the handshake passed and nothing was stored anywhere.
// (Debian's Orthanc 1.10.1 crashes on HTTPS requests, so it cannot serve here.)
#include <gtest/gtest.h>
#include <httplib.h>

#include <csignal>
#include <thread>

#include "support/process.hpp"
#include "support/tls_certificates.hpp"
#include "volnode/dicomweb/stow_client.hpp"

using namespace volnode;
using namespace volnode::dicomweb;
using volnode::test::TempDir;
using volnode::test::TestCa;

namespace {

class BusyHttpsServer {
 public:
  BusyHttpsServer(const volnode::test::TlsIdentity& identity)
      : server_(identity.cert.c_str(), identity.key.c_str()) {
    server_.Post(".*", [](const httplib::Request&, httplib::Response& res) { res.status = 503; });
    port_ = server_.bind_to_any_port("127.0.0.1");  // listening from here: the client may connect at once
    thread_ = std::thread([this] { server_.listen_after_bind(); });
  }
  ~BusyHttpsServer() {
    server_.stop();
    thread_.join();
  }
  int port() const { return port_; }

 private:
  httplib::SSLServer server_;
  int port_ = 0;
  std::thread thread_;
};

StowReport storeOne(const std::string& url, const std::filesystem::path& ca, bool verify_host) {
  Destination d;
  d.name = "cloud";
  d.type = DestinationType::DicomWeb;
  d.url = url;
  d.tls_ca = ca.string();
  d.tls_verify_host = verify_host;
  d.timeout_s = 10;
  return StowClient(d).store({volnode::test::sharedData() / "ct-head-gantry-tilt" / "09.dcm"});
}

}  // namespace

TEST(StowTls, ServerCertificateIsVerifiedAgainstTlsCaAndTheHostName) {
  // OpenSSL writes to sockets the peer may have closed; the node ignores SIGPIPE
  // (app/main.cpp), and so must this process.
  std::signal(SIGPIPE, SIG_IGN);
  TempDir dir;
  TestCa ca(dir.path(), "ca"), other_ca(dir.path(), "other-ca");
  {
    BusyHttpsServer server(ca.issue("pacs", "IP:127.0.0.1"));
    const std::string url = "https://127.0.0.1:" + std::to_string(server.port()) + "/dicom-web";
    auto report = storeOne(url, ca.cert(), true);
    EXPECT_EQ(report.http_status, 503) << report.request_error;  // handshake passed, the server answered
    EXPECT_NE(report.request_error.find("HTTP 503"), std::string::npos) << report.request_error;
    report = storeOne(url, other_ca.cert(), true);
    EXPECT_EQ(report.http_status, 0);
    EXPECT_NE(report.request_error.find("certificate"), std::string::npos) << report.request_error;
    EXPECT_EQ(report.files[0].outcome, StowOutcome::Failed);
  }
  // The right CA, but a certificate for another host name.
  BusyHttpsServer server(ca.issue("elsewhere", "DNS:pacs.example.org"));
  const std::string url = "https://127.0.0.1:" + std::to_string(server.port()) + "/dicom-web";
  auto report = storeOne(url, ca.cert(), true);
  EXPECT_EQ(report.http_status, 0);
  EXPECT_NE(report.request_error.find("certificate"), std::string::npos) << report.request_error;
  report = storeOne(url, ca.cert(), false);
  EXPECT_EQ(report.http_status, 503) << report.request_error;
  report = storeOne(url, other_ca.cert(), false);  // without the host check the chain is still verified
  EXPECT_EQ(report.http_status, 0) << report.request_error;
}
