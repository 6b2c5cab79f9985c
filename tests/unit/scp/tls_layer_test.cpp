// The one DICOM TLS factory of the listener and the SCUs: which option sets it
// refuses, with the configuration key in the message, and that it builds a layer
// from real certificates for either role.
#include "tls_layer.hpp"

#include <gtest/gtest.h>

#include <dcmtk/dcmtls/tlslayer.h>

#include "support/process.hpp"
#include "support/tls_certificates.hpp"
#include "volnode/core/error.hpp"

using namespace volnode;
using namespace volnode::test;

namespace {

// The message of the Error(InvalidConfig) makeTlsLayer throws, "" when it throws none.
std::string refusal(const TlsOptions& options) {
  try {
    makeTlsLayer(options);
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), Errc::InvalidConfig) << e.what();
    return e.what();
  }
  return "";
}

class TlsLayer : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir("volnode-tls-layer");
    ca_ = new TestCa(dir_->path(), "test-ca");
    node_ = new TlsIdentity(ca_->issue("volnode"));
  }
  static void TearDownTestSuite() {
    delete node_;
    delete ca_;
    delete dir_;
  }

  static DicomConfig listener() {
    DicomConfig c;
    c.tls = true;
    c.tls_cert = node_->cert.string();
    c.tls_key = node_->key.string();
    c.tls_ca = ca_->cert().string();
    return c;
  }
  static Destination destination() {
    Destination d;
    d.name = "pacs";
    d.aet = "PACS";
    d.host = "127.0.0.1";
    d.tls = true;
    d.tls_ca = ca_->cert().string();
    return d;
  }

  static TempDir* dir_;
  static TestCa* ca_;
  static TlsIdentity* node_;
};

TempDir* TlsLayer::dir_ = nullptr;
TestCa* TlsLayer::ca_ = nullptr;
TlsIdentity* TlsLayer::node_ = nullptr;

}  // namespace

TEST_F(TlsLayer, OptionsComeFromTheListenerAndDestinationSettingsUnderOneSpelling) {
  DicomConfig c = listener();
  c.tls_verify_peer = "check";
  const TlsOptions l = listenerTlsOptions(c);
  EXPECT_EQ(l.role, TlsRole::Acceptor);
  EXPECT_EQ(l.verify, TlsVerify::Check);
  EXPECT_EQ(l.key_prefix, "dicom.");
  EXPECT_EQ(l.cert, c.tls_cert);

  Destination d = destination();
  d.tls_verify_peer = "ignore";
  const TlsOptions r = destinationTlsOptions(d);
  EXPECT_EQ(r.role, TlsRole::Requestor);
  EXPECT_EQ(r.verify, TlsVerify::Ignore);
  EXPECT_EQ(r.key_prefix, "destinations.pacs.");
  EXPECT_EQ(r.verify_host, "127.0.0.1");
  d.tls_verify_host = false;
  EXPECT_EQ(destinationTlsOptions(d).verify_host, "");

  d.tls_verify_peer = "sometimes";
  try {
    destinationTlsOptions(d);
    ADD_FAILURE() << "an unknown verify mode was taken";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("destinations.pacs.tls_verify_peer = \"sometimes\""), std::string::npos)
        << e.what();
  }
}

TEST_F(TlsLayer, BuildsTheListenerAndTheClientLayerFromRealCertificates) {
  for (const char* verify : {"require", "check", "ignore"}) {
    DicomConfig c = listener();
    c.tls_verify_peer = verify;
    EXPECT_NE(makeTlsLayer(listenerTlsOptions(c)), nullptr) << verify;
  }
  DicomConfig with_crl = listener();
  with_crl.tls_crl = ca_->revocationList({}).string();
  EXPECT_NE(makeTlsLayer(listenerTlsOptions(with_crl)), nullptr);

  Destination d = destination();  // no client certificate: optional for a requestor
  EXPECT_NE(makeTlsLayer(destinationTlsOptions(d)), nullptr);
  d.tls_cert = node_->cert.string();
  d.tls_key = node_->key.string();
  EXPECT_NE(makeTlsLayer(destinationTlsOptions(d)), nullptr);
}

TEST_F(TlsLayer, TheListenerNeedsItsCertificateAndKey) {
  DicomConfig c = listener();
  c.tls_key.clear();
  EXPECT_NE(refusal(listenerTlsOptions(c)).find("DICOM TLS: dicom.tls_cert and dicom.tls_key are required with dicom.tls"),
            std::string::npos)
      << refusal(listenerTlsOptions(c));
}

TEST_F(TlsLayer, RequireNeedsTrustedCertificatesWhateverTheRole) {
  DicomConfig c = listener();
  c.tls_ca.clear();
  EXPECT_NE(refusal(listenerTlsOptions(c)).find("dicom.tls_verify_peer = \"require\" needs dicom.tls_ca"),
            std::string::npos);
  c.tls_verify_peer = "ignore";
  EXPECT_EQ(refusal(listenerTlsOptions(c)), "");

  Destination d = destination();
  d.tls_ca.clear();
  const std::string why = refusal(destinationTlsOptions(d));
  EXPECT_NE(why.find("DICOM TLS to pacs: destinations.pacs.tls_verify_peer = \"require\" needs destinations.pacs.tls_ca"),
            std::string::npos)
      << why;
}

TEST_F(TlsLayer, CheckIsRefusedForARequestor) {
  TlsOptions o = destinationTlsOptions(destination());
  o.verify = TlsVerify::Check;
  const std::string why = refusal(o);
  EXPECT_NE(why.find("destinations.pacs.tls_verify_peer = \"check\" is for the listener only"), std::string::npos)
      << why;
}

TEST_F(TlsLayer, UnusableFilesAreNamedWithTheirKey) {
  DicomConfig c = listener();
  c.tls_crl = (dir_->path() / "no-such.crl").string();
  EXPECT_NE(refusal(listenerTlsOptions(c)).find("(dicom.tls_crl)"), std::string::npos);
  c.tls_ca.clear();
  c.tls_verify_peer = "ignore";
  EXPECT_NE(refusal(listenerTlsOptions(c)).find("dicom.tls_crl needs dicom.tls_ca"), std::string::npos);

  Destination d = destination();
  d.tls_ca = (dir_->path() / "no-such-ca.pem").string();
  EXPECT_NE(refusal(destinationTlsOptions(d)).find("(destinations.pacs.tls_ca)"), std::string::npos);
  d = destination();
  d.tls_cert = node_->cert.string();
  d.tls_key = ca_->cert().string();  // not a key at all
  EXPECT_NE(refusal(destinationTlsOptions(d)).find("destinations.pacs.tls_key"), std::string::npos);
  d.tls_key.clear();
  EXPECT_NE(refusal(destinationTlsOptions(d)).find("go together"), std::string::npos);
}
