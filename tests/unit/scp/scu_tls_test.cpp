// The SCUs over DICOM TLS against DCMTK's storescp +tls (BCP 195 non-downgrading,
// client certificate required by default): certificates come from a test CA made
// with openssl; a second CA stands for a server volnode must not trust.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <memory>

#include <dcmtk/dcmnet/dcmtrans.h>

#include "scu_test_support.hpp"
#include "support/tls_certificates.hpp"
#include "volnode/core/error.hpp"
#include "volnode/scp/retrieve_scu.hpp"
#include "volnode/scp/store_scu.hpp"

using namespace volnode;
using namespace volnode::test;

namespace {

class ScuTls : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    initDicomNetworking();
    dir_ = new TempDir("volnode-scutls");
    ca_ = new TestCa(dir_->path() / "ca", "test-ca");
    rogue_ca_ = new TestCa(dir_->path() / "rogue", "rogue-ca");
    server_ = new TlsIdentity(ca_->issue("pacs"));
    client_ = new TlsIdentity(ca_->issue("volnode"));
    impostor_ = new TlsIdentity(rogue_ca_->issue("impostor"));
    elsewhere_ = new TlsIdentity(ca_->issue("elsewhere", "DNS:pacs.example.org"));
  }
  static void TearDownTestSuite() {
    delete elsewhere_;
    delete impostor_;
    delete client_;
    delete server_;
    delete rogue_ca_;
    delete ca_;
    delete dir_;
  }

  // storescp speaking TLS only, with `identity`, trusting client certificates from our CA.
  std::unique_ptr<StorescpProcess> tlsStorescp(const std::string& name, const TlsIdentity& identity,
                                               std::vector<std::string> more = {}) {
    std::vector<std::string> options{"+tls", identity.key.string(), identity.cert.string(), "+cf",
                                     ca_->cert().string()};
    options.insert(options.end(), more.begin(), more.end());
    return std::make_unique<StorescpProcess>(dir_->path() / name, "TLSPACS", options);
  }

  // The destination as configuration makes it: TLS, our client certificate, our CA.
  static Destination tlsDestination(const StorescpProcess& peer) {
    Destination d = peer.destination();
    d.name = "pacs";
    d.tls = true;
    d.tls_cert = client_->cert.string();
    d.tls_key = client_->key.string();
    d.tls_ca = ca_->cert().string();
    return d;
  }

  static std::vector<std::filesystem::path> threeCtFiles() {
    auto files = dicomFilesIn(sharedData() / "ct-chest-transfer-syntaxes" / "implicit_le");
    files.resize(3);
    return files;
  }

  static inline TempDir* dir_ = nullptr;
  static inline TestCa* ca_ = nullptr;
  static inline TestCa* rogue_ca_ = nullptr;
  static inline TlsIdentity* server_ = nullptr;
  static inline TlsIdentity* client_ = nullptr;
  static inline TlsIdentity* impostor_ = nullptr;
  static inline TlsIdentity* elsewhere_ = nullptr;
  StoreScu scu_{testSettings()};
};

}  // namespace

TEST_F(ScuTls, ResultsArriveOverTlsWithOurClientCertificate) {
  auto storescp = tlsStorescp("trusted", *server_);
  const auto files = threeCtFiles();
  const SendReport report = scu_.send(tlsDestination(*storescp), files);
  EXPECT_EQ(report.association, AssociationFailure::None) << report.association_error;
  EXPECT_TRUE(report.allDelivered());
  EXPECT_EQ(receivedIn(storescp->received()).size(), 3u);
  const EchoResult echo = scu_.echo(tlsDestination(*storescp));
  EXPECT_TRUE(echo.ok) << echo.error;
  // storescp's own log shows that it was TLS, not plain TCP.
  EXPECT_NE(readText(storescp->log()).find("TLS"), std::string::npos) << readText(storescp->log());
}

TEST_F(ScuTls, ServerCertificateFromAnotherCaIsRefusedWithTheReason) {
  auto storescp = tlsStorescp("impostor", *impostor_);
  const SendReport report = scu_.send(tlsDestination(*storescp), threeCtFiles());
  EXPECT_EQ(report.association, AssociationFailure::Tls);
  EXPECT_NE(report.association_error.find("TLS handshake with TLSPACS@127.0.0.1"), std::string::npos)
      << report.association_error;
  EXPECT_NE(report.association_error.find("CN=impostor"), std::string::npos) << report.association_error;
  EXPECT_NE(report.association_error.find("destinations.pacs.tls_ca"), std::string::npos) << report.association_error;
  for (const auto& file : report.files) EXPECT_EQ(file.outcome, SendOutcome::Failed);
  EXPECT_TRUE(receivedIn(storescp->received()).empty());

  const EchoResult echo = scu_.echo(tlsDestination(*storescp));
  EXPECT_FALSE(echo.ok);
  EXPECT_EQ(echo.association, AssociationFailure::Tls);
  // On-demand retrieval goes over the same association code: the same reason, thrown.
  try {
    RetrieveScu(testSettings()).findSeriesByUid(tlsDestination(*storescp), "1.2.3.4");
    ADD_FAILURE() << "a C-FIND to an untrusted server succeeded";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), Errc::Network);
    EXPECT_NE(std::string(e.what()).find("TLS handshake"), std::string::npos) << e.what();
  }
}

// destinations.<name>.tls_crl: a server certificate its CA has revoked is refused
// with that reason; the CA's other certificates still pass; a CRL of another CA
// only (ours has none) fails every server with a hint to fetch the right CRL.
TEST_F(ScuTls, ServerCertificateRevokedByTheCrlIsRefusedWithTheReason) {
  const TlsIdentity revoked = ca_->issue("revoked-pacs");
  auto withCrl = [&](const StorescpProcess& peer, const std::filesystem::path& crl) {
    Destination d = tlsDestination(peer);
    d.tls_crl = crl.string();
    return d;
  };
  const auto crl = ca_->revocationList({revoked});

  auto revoked_pacs = tlsStorescp("revoked", revoked);
  const SendReport refused = scu_.send(withCrl(*revoked_pacs, crl), threeCtFiles());
  EXPECT_EQ(refused.association, AssociationFailure::Tls);
  EXPECT_NE(refused.association_error.find("revoked"), std::string::npos) << refused.association_error;
  EXPECT_NE(refused.association_error.find("destinations.pacs.tls_crl"), std::string::npos) << refused.association_error;
  EXPECT_TRUE(receivedIn(revoked_pacs->received()).empty());
  // Without the CRL the same certificate is (still) trusted: the check is the CRL's.
  EXPECT_TRUE(scu_.echo(tlsDestination(*revoked_pacs)).ok);

  auto good_pacs = tlsStorescp("not-revoked", *server_);
  const SendReport delivered = scu_.send(withCrl(*good_pacs, crl), threeCtFiles());
  EXPECT_EQ(delivered.association, AssociationFailure::None) << delivered.association_error;
  EXPECT_TRUE(delivered.allDelivered());

  const EchoResult no_crl_for_our_ca = scu_.echo(withCrl(*good_pacs, rogue_ca_->revocationList({})));
  EXPECT_FALSE(no_crl_for_our_ca.ok);
  EXPECT_NE(no_crl_for_our_ca.error.find("does not cover its CA"), std::string::npos) << no_crl_for_our_ca.error;
}

TEST_F(ScuTls, ServerNotSpeakingTlsIsReportedAsSuch) {
  StorescpProcess plain(dir_->path() / "plain", "PLAIN");
  Destination d = tlsDestination(plain);
  const auto started = std::chrono::steady_clock::now();
  const EchoResult echo = scu_.echo(d);
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(30));
  EXPECT_FALSE(echo.ok);
  EXPECT_EQ(echo.association, AssociationFailure::Tls) << echo.error;
  EXPECT_NE(echo.error.find("TLS handshake with PLAIN@127.0.0.1"), std::string::npos) << echo.error;
  EXPECT_NE(echo.error.find("speak DICOM TLS"), std::string::npos) << echo.error;
}

TEST_F(ScuTls, CertificateForAnotherHostIsRefusedUnlessHostCheckingIsOff) {
  auto storescp = tlsStorescp("elsewhere", *elsewhere_);
  Destination d = tlsDestination(*storescp);
  const EchoResult echo = scu_.echo(d);
  EXPECT_FALSE(echo.ok);
  EXPECT_EQ(echo.association, AssociationFailure::Tls) << echo.error;
  EXPECT_NE(echo.error.find("does not name 127.0.0.1"), std::string::npos) << echo.error;
  d.tls_verify_host = false;
  const EchoResult unchecked = scu_.echo(d);
  EXPECT_TRUE(unchecked.ok) << unchecked.error;
}

TEST_F(ScuTls, ServerRequiringAClientCertificateRefusesUsWithoutOne) {
  auto storescp = tlsStorescp("needs-client-cert", *server_);
  Destination d = tlsDestination(*storescp);
  d.tls_cert.clear();
  d.tls_key.clear();
  const SendReport report = scu_.send(d, threeCtFiles());
  EXPECT_EQ(report.association, AssociationFailure::Tls) << report.association_error;
  EXPECT_FALSE(report.allDelivered());
  EXPECT_NE(report.association_error.find("client certificate"), std::string::npos) << report.association_error;
  EXPECT_NE(report.association_error.find("destinations.pacs.tls_cert"), std::string::npos) << report.association_error;
  EXPECT_TRUE(receivedIn(storescp->received()).empty());
}

TEST_F(ScuTls, VerificationCanBeTurnedOffForTesting) {
  auto storescp = tlsStorescp("unverified", *impostor_);
  Destination d = tlsDestination(*storescp);
  d.tls_ca.clear();
  d.tls_verify_peer = "ignore";
  const EchoResult echo = scu_.echo(d);
  EXPECT_TRUE(echo.ok) << echo.error;
}

TEST_F(ScuTls, UnusableFilesAreConfigurationErrorsNamingTheKey) {
  StorescpProcess plain(dir_->path() / "files", "PLAIN");
  Destination d = tlsDestination(plain);
  EXPECT_NO_THROW(checkTlsSettings(d));
  Destination missing_ca = d;
  missing_ca.tls_ca = (dir_->path() / "no-such-ca.pem").string();
  try {
    checkTlsSettings(missing_ca);
    ADD_FAILURE() << "a missing CA file was accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), Errc::InvalidConfig);
    EXPECT_NE(std::string(e.what()).find("destinations.pacs.tls_ca"), std::string::npos) << e.what();
  }
  Destination wrong_key = d;
  wrong_key.tls_key = server_->key.string();
  try {
    checkTlsSettings(wrong_key);
    ADD_FAILURE() << "a key of another certificate was accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("does not match"), std::string::npos) << e.what();
  }
  // The same problem at send time: the send fails with the reason, nothing is sent.
  const SendReport report = scu_.send(missing_ca, threeCtFiles());
  EXPECT_EQ(report.association, AssociationFailure::Tls);
  EXPECT_NE(report.association_error.find("tls_ca"), std::string::npos) << report.association_error;
  Destination plain_peer = d;
  plain_peer.tls = false;
  EXPECT_NO_THROW(checkTlsSettings(plain_peer));
}

// A server that accepts the TCP connection and then says nothing: the handshake
// is given up. DCMTK 3.6.7's handshake has no timeout of its own; the socket's
// receive timeout (dcmSocketReceiveTimeout, 60 s by default) ends it. The test
// shortens that timeout to 3 s for itself.
TEST_F(ScuTls, SilentServerDuringTheHandshakeIsGivenUp) {
  const Sint32 default_timeout = dcmSocketReceiveTimeout.get();
  dcmSocketReceiveTimeout.set(3);
  const int port = freePort();
  const int listener = ::socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(listener, 0);
  const int yes = 1;
  ::setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<uint16_t>(port));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(listener, reinterpret_cast<sockaddr*>(&address), sizeof(address)), 0);
  ASSERT_EQ(::listen(listener, 4), 0);  // the kernel completes the TCP handshake; nobody reads

  Destination d;
  d.name = "pacs";
  d.aet = "SILENT";
  d.host = "127.0.0.1";
  d.port = static_cast<uint16_t>(port);
  d.tls = true;
  d.tls_ca = ca_->cert().string();
  const auto started = std::chrono::steady_clock::now();
  const EchoResult echo = scu_.echo(d);
  const auto elapsed = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() - started);
  ::close(listener);
  dcmSocketReceiveTimeout.set(default_timeout);
  EXPECT_FALSE(echo.ok);
  EXPECT_EQ(echo.association, AssociationFailure::Tls) << echo.error;
  EXPECT_LE(elapsed.count(), 10) << echo.error;
  EXPECT_NE(echo.error.find("did not answer the TLS handshake"), std::string::npos) << echo.error;
}
