// DICOM TLS: the listener speaks TLS with certificates from configuration and
// checks the peer's certificate; storescu --enable-tls from the dcmtk package is the peer.
#include <gtest/gtest.h>

#include "support/node_process.hpp"
#include "support/suite_index.hpp"
#include "support/tls_certificates.hpp"

using namespace volnode::test;

namespace {

// A self-signed certificate and key (PEM) named <name>.pem / <name>.key in dir.
void makeCertificate(const std::filesystem::path& dir, const std::string& name) {
  auto result = run({"openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj",
                     "/CN=" + name, "-keyout", (dir / (name + ".key")).string(), "-out",
                     (dir / (name + ".pem")).string()});
  ASSERT_EQ(result.exit_code, 0) << result.output;
}

}  // namespace

TEST(DicomTls, StoreOverTlsWithClientCertificateChecking) {
  TempDir dir;
  makeCertificate(dir.path(), "node");
  makeCertificate(dir.path(), "modality");
  makeCertificate(dir.path(), "stranger");
  NodeProcess node(dir / "node", {noRendering(dir.path()), "dicom.tls=true",
                                  "dicom.tls_cert=" + (dir / "node.pem").string(),
                                  "dicom.tls_key=" + (dir / "node.key").string(),
                                  "dicom.tls_ca=" + (dir / "modality.pem").string(), "dicom.tls_verify_peer=require"});
  auto file = (sharedData() / "ct-chest-transfer-syntaxes" / "implicit_le" / "1-01.dcm").string();
  auto tls_send = [&](const std::string& who) {
    auto argv = node.scu("storescu", {"+tls", (dir / (who + ".key")).string(), (dir / (who + ".pem")).string(),
                                      "+cf", (dir / "node.pem").string()});
    argv.push_back(file);
    return run(argv, std::chrono::seconds(60));
  };
  auto trusted = tls_send("modality");
  EXPECT_EQ(trusted.exit_code, 0) << trusted.output << node.log();
  EXPECT_NE(node.log().find("1 instances"), std::string::npos);

  // A certificate the node does not trust, and plain TCP, are both turned away.
  EXPECT_NE(tls_send("stranger").exit_code, 0);
  auto plain = node.scu("storescu");
  plain.push_back(file);
  EXPECT_NE(run(plain, std::chrono::seconds(60)).exit_code, 0);
  EXPECT_NE(node.log().find("with TLS"), std::string::npos);
}

TEST(DicomTls, MissingKeyStopsStartupWithTheReason) {
  TempDir dir;
  const auto storage = dir / "var";
  auto result = run(withSuiteIndexArgs({VOLNODE_BINARY, "serve", "--set", "storage.dir=" + storage.string(), "--set",
                                        "dicom.port=" + std::to_string(freePort()), "--set",
                                        "console.port=" + std::to_string(freePort()), "--set", "log.file=", "--set",
                                        "dicom.tls=true", "--set",
                                        std::string("pipeline.presets_dir=") + VOLNODE_SOURCE_DIR + "/presets"},
                                       storage),
                    std::chrono::seconds(30));
  EXPECT_NE(result.exit_code, 0);
  EXPECT_NE(result.output.find("dicom.tls_cert and dicom.tls_key are required"), std::string::npos) << result.output;
}

// With dicom.tls_crl the listener refuses a modality whose certificate its CA has
// revoked, and still serves the others that CA signed; a CRL file that cannot be
// read stops start-up naming the key.
TEST(DicomTls, RevokedClientCertificateIsRefusedWhenACrlIsConfigured) {
  TempDir dir;
  TestCa ca(dir / "ca", "hospital-ca");
  const auto server = ca.issue("volnode");
  const auto modality = ca.issue("ct01");
  const auto stolen = ca.issue("ct02");
  const auto crl = ca.revocationList({stolen});
  NodeProcess node(dir / "node", {noRendering(dir.path()), "dicom.tls=true", "dicom.tls_cert=" + server.cert.string(),
                                  "dicom.tls_key=" + server.key.string(), "dicom.tls_ca=" + ca.cert().string(),
                                  "dicom.tls_crl=" + crl.string(), "dicom.tls_verify_peer=require"});
  auto file = (sharedData() / "ct-chest-transfer-syntaxes" / "implicit_le" / "1-01.dcm").string();
  auto tls_send = [&](const TlsIdentity& who) {
    auto argv = node.scu("storescu", {"+tls", who.key.string(), who.cert.string(), "+cf", ca.cert().string()});
    argv.push_back(file);
    return run(argv, std::chrono::seconds(60));
  };
  auto good = tls_send(modality);
  EXPECT_EQ(good.exit_code, 0) << good.output << node.log();
  auto refused = tls_send(stolen);
  EXPECT_NE(refused.exit_code, 0) << "a revoked client certificate was accepted\n" << refused.output;
  EXPECT_TRUE(node.running());

  TempDir other;
  const auto storage = other / "var";
  auto result = run(withSuiteIndexArgs({VOLNODE_BINARY, "serve", "--set", "storage.dir=" + storage.string(), "--set",
                                        "dicom.port=" + std::to_string(freePort()), "--set",
                                        "console.port=" + std::to_string(freePort()), "--set", "log.file=", "--set",
                                        "dicom.tls=true", "--set", "dicom.tls_cert=" + server.cert.string(), "--set",
                                        "dicom.tls_key=" + server.key.string(), "--set",
                                        "dicom.tls_ca=" + ca.cert().string(), "--set",
                                        "dicom.tls_crl=" + (dir / "no-such.crl").string(), "--set",
                                        std::string("pipeline.presets_dir=") + VOLNODE_SOURCE_DIR + "/presets",
                                        // The listener's old key name still works, with a warning in the log.
                                        "--set", "dicom.tls_verify_peers=require"},
                                       storage),
                    std::chrono::seconds(30));
  EXPECT_NE(result.exit_code, 0);
  EXPECT_NE(result.output.find("dicom.tls_crl"), std::string::npos) << result.output;
  EXPECT_NE(result.output.find("dicom.tls_verify_peers is deprecated; call it dicom.tls_verify_peer"), std::string::npos)
      << result.output;
}
