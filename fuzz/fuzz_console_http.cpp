// Fuzzes the service console's HTTP surface as a browser or any local process
// reaches it: one ConsoleServer per fuzzer process, on a loopback port the system
// chooses, over a temporary index and job queue holding one study, one series and
// one finished render job with result files. Each input is sent as raw bytes over
// a fresh TCP connection (request line, path, query, headers, body: all fuzzed);
// the write side is then closed and the whole answer read.
//
// The same input also goes straight to the request-text helpers the handlers use
// (bearer token, launch token check, UID and PNG-name checks, results path
// confinement, URL encoding), which is faster than the socket round trip.
//
// Oracles besides sanitizers:
//  - no answer may contain the content of a file outside the web root and the
//    results folder (a sentinel file is planted next to the results folder), unless
//    the request carried that text itself (error answers quote the path);
//  - insideRoot() never returns a path outside the root;
//  - a 5xx answer is counted and the first few are printed (an exception escaped a
//    handler); VOLNODE_FUZZ_5XX_IS_CRASH=1 turns them into crashes.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>

#include "auth.hpp"        // console/src (private helpers, linked from volnode_console)
#include "json_views.hpp"  // urlEncode
#include "results.hpp"     // insideRoot, isDicomUid, isResultPngName
#include "fuzz_support.hpp"
#include "volnode/console/console_server.hpp"
#include "volnode/core/logging.hpp"
#include "volnode/storage/index.hpp"
#include "volnode/storage/job_queue.hpp"

namespace {

using namespace volnode;

constexpr const char* kSentinel = "VOLNODE-FUZZ-SENTINEL-0f3c9a71";
constexpr const char* kToken = "fuzz-console-token";
constexpr const char* kLaunchSecret = "fuzz-launch-secret";

class FakeActions : public NodeActions {
 public:
  OnDemandResult renderStudy(const std::string& uid, const std::string&, const std::string&) override {
    return {uid.size() % 2 == 0, uid.size() % 2 == 0 ? 202 : 404, "fuzz", {1}, ""};
  }
  OnDemandResult renderSeries(const std::string& uid, const std::string& s, const std::string& r) override {
    return renderStudy(uid, s, r);
  }
  void wakeWorkers() override {}
  std::vector<DestinationStatus> destinations() override {
    return {{"pacs", "PACS", "10.0.0.5", 104, true, "2026-01-01T00:00:00.000Z", ""}};
  }
};

struct Fixture {
  std::filesystem::path dir, results;
  std::unique_ptr<Index> index;
  std::unique_ptr<JobQueue> jobs;
  FakeActions actions;
  std::unique_ptr<ConsoleServer> server;
  int port = 0;
};

NewInstance instance(const std::string& sop_uid) {
  NewInstance n;
  n.attributes.patient_id = "P1";
  n.attributes.patient_name = "Doe^Jane";
  n.attributes.study_uid = "1.2.3.1";
  n.attributes.study_date = "20240102";
  n.attributes.accession_number = "ACC1";
  n.attributes.series_uid = "1.2.3.2";
  n.attributes.series_description = "<script>alert(1)</script>";
  n.attributes.sop_uid = sop_uid;
  n.attributes.sop_class_uid = "1.2.840.10008.5.1.4.1.1.2";
  n.attributes.transfer_syntax_uid = "1.2.840.10008.1.2.1";
  n.attributes.modality = "CT";
  n.attributes.rows = 64;
  n.attributes.columns = 64;
  n.file_path = "store/" + sop_uid + ".dcm";
  n.file_size = 1000;
  return n;
}

Fixture& fixture() {
  static Fixture* f = [] {
    auto* f = new Fixture;  // never destroyed: the server thread outlives exit()
    f->dir = fuzz::scratchDir("console");
    f->results = f->dir / "results";
    fuzz::writeBytes(f->dir / "secret.txt", kSentinel);  // outside every served folder
    f->index = std::make_unique<Index>(f->dir / "index.sqlite");
    f->jobs = std::make_unique<JobQueue>(f->dir / "index.sqlite");
    for (int i = 0; i < 3; ++i) f->index->addInstance(instance("1.2.3.2." + std::to_string(i)));
    f->index->setSeriesState("1.2.3.2", SeriesState::Complete, "quiet 2 s");

    int64_t id = f->jobs->enqueue({JobKind::Render, "1.2.3.1", "1.2.3.2", "ct-bundle"});
    f->jobs->claimNext({JobKind::Render}, "fuzz", 60);
    JobOutput spin;
    spin.job_id = id;
    spin.output_key = "vr_spin:ct-bone";
    spin.kind = "vr_spin";
    spin.preset = "ct-bone";
    spin.series_uid = "1.2.9.1";
    spin.sop_uid = "1.2.9.1.1";
    spin.series_number = 9001;
    spin.description = "3D VR Bone spin";
    f->jobs->planOutputs(id, {spin});
    auto job_dir = f->results / std::to_string(id);
    std::filesystem::create_directories(job_dir / "dicom");
    std::filesystem::create_directories(job_dir / "png");
    std::filesystem::create_directories(job_dir / "mesh");
    fuzz::writeBytes(job_dir / "dicom" / "spin.dcm", "DICM-spin");
    fuzz::writeBytes(job_dir / "png" / "ct-bone-anterior.png", "PNG-anterior");
    fuzz::writeBytes(job_dir / "png" / "ct-bone-spin-000.png", "PNG-0");
    fuzz::writeBytes(job_dir / "mesh" / "model.stl", std::string(84, '\0'));
    f->jobs->recordOutputFile(id, spin.output_key, "1.2.840.10008.5.1.4.1.1.7.2",
                              std::to_string(id) + "/dicom/spin.dcm", 9, 2);
    f->jobs->succeed(id, "fuzz");
    f->jobs->enqueue({JobKind::Render, "1.2.3.1", "1.2.3.2", "ct-bundle"});  // a queued one for retry/cancel

    ConsoleConfig config;
    config.port = 0;
    config.token = kToken;
    config.launch_secret = kLaunchSecret;
    config.threads = 2;
    config.allowed_hosts = {"x"};  // the seeds' Host header
    ConsoleContext context{config, *f->index, *f->jobs, [] {
                             HealthReport h;
                             h.version = "fuzz";
                             h.dicom_listening = true;
                             h.render_workers = 1;
                             return h;
                           }};
    context.actions = &f->actions;
    context.results_root = f->results;
    context.effective_config_toml = "[console]\ntoken = \"***\"\n";
    context.rules_json = R"([{"name": "ct-bundle"}])";
    context.presets_json = R"({"ct-bone": {}})";
    context.launch_secret = kLaunchSecret;
    context.auth_max_failures = 0;  // wrong tokens are most inputs: no lock-out, or the handlers behind it go unfuzzed
    f->server = std::make_unique<ConsoleServer>(std::move(context));
    f->server->start();
    f->port = f->server->port();
    return f;
  }();
  return *f;
}

// Sends the raw request, closes the write side, returns everything answered.
std::string httpExchange(int port, std::string_view request) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return {};
  timeval tv{5, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  std::string answer;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) {
    size_t sent = 0;
    while (sent < request.size()) {
      ssize_t n = ::send(fd, request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
      if (n <= 0) break;
      sent += static_cast<size_t>(n);
    }
    ::shutdown(fd, SHUT_WR);
    char buf[16384];
    for (;;) {
      ssize_t n = ::recv(fd, buf, sizeof buf, 0);
      if (n <= 0) break;
      answer.append(buf, static_cast<size_t>(n));
    }
  }
  ::close(fd);
  return answer;
}

void checkHelpers(const std::string& text) {
  (void)console::bearerToken(text);
  (void)console::constantTimeEquals(text, kToken);
  (void)console::verifyLaunchToken(kLaunchSecret, "1.2.3.1", text, 1700000000);
  (void)console::isDicomUid(text);
  std::string preset, view;
  (void)console::isResultPngName(text, &preset, &view);
  (void)urlEncode(text);
  const auto& root = fixture().results;
  if (auto inside = console::insideRoot(root, text)) {
    auto canonical_root = std::filesystem::weakly_canonical(root);
    auto rel = inside->lexically_relative(canonical_root);
    if (rel.empty() || *rel.begin() == "..") {
      std::fprintf(stderr, "insideRoot('%s') escaped the root: %s\n", text.c_str(), inside->c_str());
      std::abort();
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  LogConfig log;
  log.level = "error";
  log.file = "";
  initLogging(log);
  (void)fixture();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static std::atomic<int> server_errors{0};
  static const bool five_xx_is_crash = std::getenv("VOLNODE_FUZZ_5XX_IS_CRASH") != nullptr;
  std::string request(reinterpret_cast<const char*>(data), size);
  checkHelpers(request);

  const std::string answer = httpExchange(fixture().port, request);
  // The mutator learns the sentinel from this very comparison and puts it into requests,
  // and error answers quote the method and path ("no such resource: ..."): only an
  // answer to a request that does not carry the sentinel itself proves a leak.
  if (answer.find(kSentinel) != std::string::npos && request.find(kSentinel) == std::string::npos) {
    std::fprintf(stderr, "the console served a file outside its folders for:\n%s\n", request.c_str());
    std::abort();
  }
  if (answer.rfind("HTTP/1.1 5", 0) == 0 && answer.rfind("HTTP/1.1 503", 0) != 0) {
    int n = ++server_errors;
    if (n <= 5 || five_xx_is_crash) {
      std::fprintf(stderr, "console answered 5xx (%d so far) to:\n%.300s\n--- answer\n%.600s\n", n, request.c_str(),
                   answer.c_str());
    }
    if (five_xx_is_crash) std::abort();
  }
  return 0;
}
