// DICOM TLS on the node's own associations: a real `volnode serve` renders a pushed
// series and sends the results to DCMTK's storescp speaking TLS only (client
// certificate required), with certificates from a test CA made with openssl. A
// server whose certificate another CA signed is refused: the send job goes to
// retry with the reason, and the console's destination check says the same.
// Orthanc with DicomTlsEnabled is the PACS of an on-demand render over TLS both ways.
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "support/node_process.hpp"
#include "support/suite_index.hpp"
#include "support/orthanc_process.hpp"
#include "support/synthetic_series.hpp"
#include "support/tls_certificates.hpp"

using namespace volnode::test;
using nlohmann::json;
using namespace std::chrono_literals;

namespace {

// storescp on a free loopback port with TLS only, writing what it receives to dir/received.
class TlsStorescp {
 public:
  TlsStorescp(const std::filesystem::path& dir, const TlsIdentity& identity, const std::filesystem::path& trusted_ca)
      : dir_(dir), port_(freePort()) {
    std::filesystem::create_directories(received());
    process_ = std::make_unique<ChildProcess>(
        std::vector<std::string>{"storescp", "-d", "-aet", "TLSPACS", "-od", received().string(), "+tls",
                                 identity.key.string(), identity.cert.string(), "+cf", trusted_ca.string(),
                                 std::to_string(port_)},
        dir_ / "storescp.log");
    if (!waitForPort(port_, 10000ms)) throw std::runtime_error("storescp +tls did not listen");
  }
  ~TlsStorescp() { process_->terminate(10s); }
  int port() const { return port_; }
  std::filesystem::path received() const { return dir_ / "received"; }
  size_t files() const {
    size_t n = 0;
    for (const auto& e : std::filesystem::directory_iterator(received())) n += e.is_regular_file() ? 1 : 0;
    return n;
  }

 private:
  std::filesystem::path dir_;
  int port_;
  std::unique_ptr<ChildProcess> process_;
};

// A small CT series the default rule renders (VR and MIP spins, key views, model).
WrittenSeries tlsHeadSeries(const std::filesystem::path& dir) {
  SyntheticSeries s;
  s.rows = s.cols = 128;
  s.slices = 40;
  s.slice_spacing = 3.0;
  s.origin = {-64, -64, -60};
  s.value = OrientationPhantom{}.function();
  return writeSyntheticSeries(s, dir);
}

void pushSeries(const NodeProcess& node, const WrittenSeries& series) {
  auto argv = node.scu("storescu");
  for (const auto& f : series.files) argv.push_back(f.string());
  auto sent = run(argv, 120s);
  ASSERT_EQ(sent.exit_code, 0) << sent.output;
}

// The first send job that satisfies `wanted`, or null after `timeout`.
template <typename Pred>
json waitForSendJob(const NodeProcess& node, Pred wanted, std::chrono::seconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    auto response = node.get("/api/jobs?kind=send");
    auto body = json::parse(response.status == 200 ? response.body : "{}", nullptr, false);
    if (body.is_object() && body.contains("jobs"))
      for (const auto& job : body["jobs"])
        if (wanted(job)) return job;
    std::this_thread::sleep_for(250ms);
  }
  return json();
}

json destinationStatus(const NodeProcess& node, const std::string& name) {
  auto body = json::parse(node.get("/api/health").body, nullptr, false);
  if (body.is_object())
    for (const auto& d : body["destinations"])
      if (d.value("name", "") == name) return d;
  return json();
}

std::vector<std::string> tlsDestination(int port, const TlsIdentity& client, const TestCa& ca) {
  return {"destinations.pacs.aet=TLSPACS",
          "destinations.pacs.host=127.0.0.1",
          "destinations.pacs.port=" + std::to_string(port),
          "destinations.pacs.tls=true",
          "destinations.pacs.tls_cert=" + client.cert.string(),
          "destinations.pacs.tls_key=" + client.key.string(),
          "destinations.pacs.tls_ca=" + ca.cert().string(),
          "completion.quiet_s=3",
          "render.spin_frames=8",
          "render.size=256",
          "outputs.reformats=false"};
}

}  // namespace

TEST(DicomTlsScu, ResultsAreSentToAServerSpeakingTlsOnly) {
  TempDir dir;
  TestCa ca(dir / "ca", "test-ca");
  const TlsIdentity server = ca.issue("pacs");
  const TlsIdentity client = ca.issue("volnode");
  TlsStorescp pacs(dir / "pacs", server, ca.cert());
  NodeProcess node(dir / "node", tlsDestination(pacs.port(), client, ca));
  pushSeries(node, tlsHeadSeries(dir / "series"));

  auto done = waitForSendJob(
      node, [](const json& j) { return j.value("state", "") == "succeeded" || j.value("state", "") == "failed"; },
      180s);
  ASSERT_TRUE(done.is_object()) << node.log();
  EXPECT_EQ(done.value("state", ""), "succeeded") << done.dump() << node.log();
  EXPECT_EQ(done.value("attempts", 0), 1);
  EXPECT_EQ(pacs.files(), 4u);  // VR spin, MIP spin, key views, model
  // The negotiated TLS is logged once per peer, with what was verified.
  const std::string log = node.log();
  EXPECT_NE(log.find("TLS with TLSPACS@127.0.0.1:" + std::to_string(pacs.port()) + " (TLS)"), std::string::npos) << log;
  EXPECT_NE(log.find("peer certificate and host name verified"), std::string::npos) << log;
  // The console's destination check (C-ECHO) goes over TLS as well.
  auto status = destinationStatus(node, "pacs");
  EXPECT_TRUE(status.value("reachable", false)) << status.dump();
}

TEST(DicomTlsScu, ServerCertificateFromAnotherCaSendsTheJobToRetryWithTheReason) {
  TempDir dir;
  TestCa ca(dir / "ca", "test-ca");
  TestCa rogue(dir / "rogue", "rogue-ca");
  const TlsIdentity impostor = rogue.issue("impostor");
  const TlsIdentity client = ca.issue("volnode");
  TlsStorescp pacs(dir / "pacs", impostor, ca.cert());
  auto settings = tlsDestination(pacs.port(), client, ca);
  settings.push_back("sending.retry_initial_s=60");  // stays in retry while the test looks
  NodeProcess node(dir / "node", settings);
  pushSeries(node, tlsHeadSeries(dir / "series"));

  auto waiting = waitForSendJob(node, [](const json& j) { return j.value("state", "") == "retry"; }, 180s);
  ASSERT_TRUE(waiting.is_object()) << node.log();
  const std::string error = waiting.value("last_error", "");
  EXPECT_NE(error.find("TLS handshake with TLSPACS@127.0.0.1"), std::string::npos) << error;
  EXPECT_NE(error.find("CN=impostor"), std::string::npos) << error;
  EXPECT_NE(error.find("not signed by a CA in destinations.pacs.tls_ca"), std::string::npos) << error;
  EXPECT_EQ(pacs.files(), 0u);
  // The console shows it on the dashboard (errors) and in the destination check.
  auto errors = json::parse(node.get("/api/errors").body, nullptr, false);
  bool listed = false;
  for (const auto& e : errors["errors"]) listed |= e.value("reason", "").find("TLS handshake") != std::string::npos;
  EXPECT_TRUE(listed) << errors.dump();
  auto status = destinationStatus(node, "pacs");
  EXPECT_FALSE(status.value("reachable", true)) << status.dump();
  EXPECT_NE(status.value("error", "").find("TLS handshake"), std::string::npos) << status.dump();
  EXPECT_NE(node.log().find("TLS handshake with TLSPACS@127.0.0.1"), std::string::npos);
}

TEST(DicomTlsScu, UnreadableCertificateStopsStartUpNamingTheKey) {
  TempDir dir;
  const auto storage = dir / "var";
  auto result = run(withSuiteIndexArgs({VOLNODE_BINARY, "serve", "--set", "storage.dir=" + storage.string(), "--set",
                                        "dicom.port=" + std::to_string(freePort()), "--set",
                                        "console.port=" + std::to_string(freePort()), "--set", "log.file=", "--set",
                                        std::string("pipeline.presets_dir=") + VOLNODE_SOURCE_DIR + "/presets", "--set",
                                        "destinations.pacs.aet=PACS", "--set", "destinations.pacs.host=127.0.0.1",
                                        "--set", "destinations.pacs.tls=true", "--set",
                                        "destinations.pacs.tls_ca=" + (dir / "missing-ca.pem").string()},
                                       storage),
                    30s);
  EXPECT_NE(result.exit_code, 0);
  EXPECT_NE(result.output.find("destinations.pacs.tls_ca"), std::string::npos) << result.output;
}

// Orthanc (Debian's package, DicomTlsEnabled: its DICOM port speaks TLS only, and
// client certificates are required) as the PACS of an on-demand render: volnode
// asks it over TLS (C-FIND, C-MOVE of one series), Orthanc delivers the series to
// volnode's TLS listener, and the results go back over TLS into the same study.
TEST(DicomTlsScu, OrthancSpeakingTlsOnlyIsAskedAndAnsweredOverTls) {
  TempDir dir;
  TestCa ca(dir / "ca", "test-ca");
  const TlsIdentity orthanc_id = ca.issue("orthanc");
  const TlsIdentity node_id = ca.issue("volnode");
  const int node_port = freePort();
  const std::string orthanc_tls = "\"DicomTlsEnabled\": true, \"DicomTlsCertificate\": \"" + orthanc_id.cert.string() +
                                  "\", \"DicomTlsPrivateKey\": \"" + orthanc_id.key.string() +
                                  "\", \"DicomTlsTrustedCertificates\": \"" + ca.cert().string() +
                                  "\", \"DicomTlsRemoteCertificateRequired\": true";
  OrthancProcess orthanc(dir / "orthanc", {{"volnode", "VOLNODE", "127.0.0.1", node_port, true}}, orthanc_tls);
  auto settings = tlsDestination(orthanc.dicomPort(), node_id, ca);
  settings[0] = "destinations.pacs.aet=" + orthanc.aet();
  for (const std::string& more :
       {"dicom.port=" + std::to_string(node_port), std::string("dicom.tls=true"), "dicom.tls_cert=" + node_id.cert.string(),
        "dicom.tls_key=" + node_id.key.string(), "dicom.tls_ca=" + ca.cert().string(),
        std::string("console.token=tls-console-token-0123")})
    settings.push_back(more);
  NodeProcess node(dir / "node", settings);

  // One series of the chest CT, only in Orthanc.
  std::string study, series_uid;
  for (const auto& entry : std::filesystem::directory_iterator(sharedData() / "ct-chest-transfer-syntaxes" / "implicit_le")) {
    std::ifstream in(entry.path(), std::ios::binary);
    std::stringstream bytes;
    bytes << in.rdbuf();
    auto stored = orthanc.post("/instances", bytes.str(), "application/dicom");
    if (stored.status == 200) study = json::parse(stored.body).value("ParentStudy", study);
  }
  ASSERT_FALSE(study.empty());
  auto series = json::parse(orthanc.get("/studies/" + study + "/series").body);
  series_uid = series.at(0)["MainDicomTags"].value("SeriesInstanceUID", "");
  ASSERT_FALSE(series_uid.empty());

  auto accepted = node.post("/api/series/" + series_uid + "/render", "", "tls-console-token-0123");
  ASSERT_EQ(accepted.status, 202) << accepted.body << node.log();
  EXPECT_EQ(json::parse(accepted.body).value("retrieve_state", ""), "retrieving") << accepted.body;

  auto done = waitForSendJob(
      node, [](const json& j) { return j.value("state", "") == "succeeded" || j.value("state", "") == "failed"; },
      180s);
  ASSERT_TRUE(done.is_object()) << node.log();
  EXPECT_EQ(done.value("state", ""), "succeeded") << done.dump();
  // 1 source series + VR spin, MIP spin, key views, model, in the same study.
  EXPECT_EQ(json::parse(orthanc.get("/studies/" + study + "/series").body).size(), 5u);
  const std::string log = node.log();
  EXPECT_NE(log.find("TLS with " + orthanc.aet() + "@127.0.0.1"), std::string::npos) << log;
  EXPECT_NE(log.find("server certificate /CN=orthanc issued by /CN=test-ca"), std::string::npos) << log;
  EXPECT_TRUE(destinationStatus(node, "pacs").value("reachable", false));
}
