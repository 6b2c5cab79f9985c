// The console's JSON API, metrics, launch URL and file endpoints against a real
// ConsoleServer on a free port, a temporary index and a fake NodeActions.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <fstream>
#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include <gtest/gtest.h>
#include <httplib.h>
#include <nlohmann/json.hpp>
#include <sqlite3.h>

#include "../../../console/src/access.hpp"
#include "../../../console/src/auth.hpp"
#include "support/process.hpp"
#include "support/suite_index_location.hpp"
#include "volnode/console/console_server.hpp"
#include "volnode/core/clock.hpp"
#include "volnode/core/error.hpp"
#include "volnode/storage/index.hpp"
#include "volnode/storage/job_queue.hpp"

namespace volnode {
namespace {

using nlohmann::json;

const std::string kToken = "secret-token-0123456789";
const std::string kLaunchSecret = "launch-secret-0123456789";
const std::string kStudy = "1.2.3.1";
const std::string kSeries = "1.2.3.2";
const std::string kXss = "<script>alert(1)</script>";

class FakeActions : public NodeActions {
 public:
  OnDemandResult renderStudy(const std::string& study_uid, const std::string& source, const std::string& rule) override {
    std::lock_guard lock(mutex);
    calls.push_back("study " + study_uid + " source=" + source + " rule=" + rule);
    return next;
  }
  OnDemandResult renderSeries(const std::string& series_uid, const std::string& source, const std::string& rule) override {
    std::lock_guard lock(mutex);
    calls.push_back("series " + series_uid + " source=" + source + " rule=" + rule);
    return next;
  }
  void wakeWorkers() override {
    std::lock_guard lock(mutex);
    wakes++;
  }
  std::vector<DestinationStatus> destinations() override {
    return {{"pacs", "PACS", "10.0.0.5", 104, true, "2026-01-01T00:00:00.000Z", ""},
            {"archive", "ARCH", "10.0.0.6", 11112, false, "2026-01-01T00:00:00.000Z", "connection refused", true}};
  }
  std::optional<RetrievalStatus> retrievalOf(const std::string& study_uid) override {
    std::lock_guard lock(mutex);
    auto found = retrievals.find(study_uid);
    if (found == retrievals.end()) return std::nullopt;
    return found->second;
  }
  std::mutex mutex;
  std::vector<std::string> calls;
  std::map<std::string, RetrievalStatus> retrievals;
  int wakes = 0;
  OnDemandResult next{true, 202, "render queued", {7}, ""};
};

NewInstance instance(const std::string& sop_uid, const std::string& series_uid, const std::string& description,
                     const std::string& study_uid = kStudy) {
  NewInstance n;
  n.attributes.patient_id = "P1";
  n.attributes.patient_name = "Doe^Jane";
  n.attributes.study_uid = study_uid;
  n.attributes.study_date = "20240102";
  n.attributes.accession_number = "ACC1";
  n.attributes.series_uid = series_uid;
  n.attributes.series_description = description;
  n.attributes.sop_uid = sop_uid;
  n.attributes.sop_class_uid = "1.2.840.10008.5.1.4.1.1.2";
  n.attributes.transfer_syntax_uid = "1.2.840.10008.1.2.1";
  n.attributes.modality = "CT";
  n.attributes.rows = 64;
  n.attributes.columns = 64;
  n.attributes.pixel_spacing = "0.5\\0.5";
  n.file_path = "store/" + sop_uid + ".dcm";
  n.file_size = 1000;
  return n;
}

void writeFile(const std::filesystem::path& path, const std::string& content) {
  std::filesystem::create_directories(path.parent_path());
  std::ofstream(path, std::ios::binary) << content;
}

// One raw HTTP exchange over loopback (for requests httplib's client will not
// send, such as one without a Host header); bounded by 5 s socket timeouts.
std::string rawExchange(const std::string& address, int port, const std::string& request) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return {};
  timeval tv{5, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  ::inet_pton(AF_INET, address.c_str(), &addr.sin_addr);
  std::string answer;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
      ::send(fd, request.data(), request.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(request.size())) {
    char buf[4096];
    for (;;) {
      ssize_t n = ::recv(fd, buf, sizeof buf, 0);
      if (n <= 0) break;
      answer.append(buf, static_cast<size_t>(n));
    }
  }
  ::close(fd);
  return answer;
}

int statusOf(const std::string& raw) { return raw.size() > 12 ? std::atoi(raw.substr(9, 3).c_str()) : 0; }

struct Reply {
  int status = 0;
  std::string body;
  httplib::Headers headers;
  json parsed() const { return json::parse(body); }
  std::string header(const std::string& name) const {
    auto it = headers.find(name);
    return it == headers.end() ? "" : it->second;
  }
};

class ConsoleApi : public ::testing::Test {
 protected:
  void SetUp() override {
    index = std::make_unique<Index>(test::suiteIndexLocation(dir.path()));
    jobs = std::make_unique<JobQueue>(test::suiteIndexLocation(dir.path()));
    for (int i = 0; i < 3; ++i) index->addInstance(instance("1.2.3.2." + std::to_string(i), kSeries, kXss));
    index->setSeriesState(kSeries, SeriesState::Complete, "quiet 2 s");
  }

  void start(const std::string& token = kToken, bool with_actions = true, const std::string& launch_secret = "") {
    startWith([&](ConsoleConfig& config, ConsoleContext& context) {
      config.token = token;
      context.actions = with_actions ? &actions : nullptr;
      context.launch_secret = launch_secret;
    });
  }

  // The default context (loopback, no token) changed by `tweak` before the server starts.
  void startWith(const std::function<void(ConsoleConfig&, ConsoleContext&)>& tweak) {
    server = std::make_unique<ConsoleServer>(makeContext(tweak));
    server->start();
    host = server_host;
  }

  // Bound beyond loopback (127.0.0.2, which stays on this machine) with a token and
  // plain HTTP explicitly allowed.
  void startExposed(const std::function<void(ConsoleConfig&, ConsoleContext&)>& more = {}) {
    startWith([&](ConsoleConfig& config, ConsoleContext& context) {
      config.bind = "127.0.0.2";
      config.token = kToken;
      config.allow_plain_http = true;
      if (more) more(config, context);
    });
  }

  // The message with which start() refuses the tweaked context.
  std::string startError(const std::function<void(ConsoleConfig&, ConsoleContext&)>& tweak) {
    try {
      ConsoleServer refused(makeContext(tweak));
      refused.start();
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), Errc::InvalidConfig) << e.what();
      return e.what();
    }
    ADD_FAILURE() << "the console started";
    return "";
  }

  ConsoleContext makeContext(const std::function<void(ConsoleConfig&, ConsoleContext&)>& tweak) {
    ConsoleConfig config;
    config.port = 0;
    ConsoleContext context{config, *index, *jobs, [] {
                             HealthReport h;
                             h.version = "test";
                             h.dicom_listening = true;
                             h.dicom_aet = "VOLNODE";
                             h.dicom_bind = "10.1.2.3";
                             h.dicom_tls = true;
                             h.disk_free_mb = 5000;
                             h.min_free_mb = 100;
                             h.render_workers = 1;
                             return h;
                           }};
    context.actions = &actions;
    context.results_root = dir / "results";
    context.effective_config_toml = "[console]\ntoken = \"***\"\n";
    context.rules_json = R"([{"name": "ct-bundle"}])";
    context.presets_json = R"({"ct-bone": {}})";
    tweak(context.config, context);
    server_host = context.config.bind;
    return context;
  }

  // GET with optional extra headers (Authorization, Cookie, Host, ...).
  Reply get(const std::string& path, const httplib::Headers& headers = {}) {
    httplib::Client client(host, server->port());
    client.set_read_timeout(10);
    auto r = client.Get(path.c_str(), headers);
    if (!r) return {};
    return {r->status, r->body, r->headers};
  }

  Reply getWithToken(const std::string& path, const std::string& token = kToken) {
    return get(path, {{"Authorization", "Bearer " + token}});
  }

  Reply post(const std::string& path, const std::string& token = "", const std::string& body = "",
             const httplib::Headers& extra = {}) {
    httplib::Client client(host, server->port());
    client.set_read_timeout(10);
    httplib::Headers headers = extra;
    if (!token.empty()) headers.emplace("Authorization", "Bearer " + token);
    auto r = client.Post(path.c_str(), headers, body, "application/json");
    if (!r) return {};
    return {r->status, r->body, r->headers};
  }

  // A succeeded render job with its files, as the render worker leaves them.
  int64_t renderedJob() {
    index->setSeriesState(kSeries, SeriesState::Complete, "quiet 10 s");
    int64_t id = jobs->enqueue({JobKind::Render, kStudy, kSeries, "ct-bundle"}, SeriesChange{SeriesState::Queued, "rule ct-bundle"});
    EXPECT_TRUE(jobs->claimNext({JobKind::Render}, "w", 60));
    JobOutput spin;
    spin.job_id = id;
    spin.output_key = "vr_spin:ct-bone";
    spin.kind = "vr_spin";
    spin.preset = "ct-bone";
    spin.series_uid = "1.2.9.1";
    spin.sop_uid = "1.2.9.1.1";
    spin.series_number = 9001;
    spin.description = "3D VR Bone spin";
    JobOutput mesh = spin;
    mesh.output_key = "mesh:ct-bone";
    mesh.kind = "mesh";
    mesh.sop_uid = "1.2.9.1.2";
    jobs->planOutputs(id, {spin, mesh});
    auto job_dir = dir / "results" / std::to_string(id);
    writeFile(job_dir / "dicom" / "spin.dcm", "DICM-spin");
    writeFile(job_dir / "dicom" / "mesh.dcm", "DICM-mesh");
    writeFile(job_dir / "png" / "ct-bone-anterior.png", "PNG-anterior");
    writeFile(job_dir / "png" / "ct-bone-spin-000.png", "PNG-0");
    writeFile(job_dir / "png" / "ct-bone-spin-001.png", "PNG-1");
    writeFile(job_dir / "png" / "notes.txt", "not listed");
    writeFile(job_dir / "mesh" / "model.stl", std::string(84, '\0'));
    jobs->recordOutputFile(id, spin.output_key, "1.2.840.10008.5.1.4.1.1.7.2", std::to_string(id) + "/dicom/spin.dcm", 9, 2);
    jobs->recordOutputFile(id, mesh.output_key, "1.2.840.10008.5.1.4.1.1.104.3", std::to_string(id) + "/dicom/mesh.dcm", 9, 0);
    jobs->succeed(id, "w", {"", SeriesChange{SeriesState::Done, "2 objects rendered in 3 s (64x64x3, 0.50x0.50x1.00 mm)"}, {}});
    return id;
  }

  std::string server_host = "127.0.0.1";
  std::string host = "127.0.0.1";
  test::TempDir dir{"volnode-console-test"};
  std::unique_ptr<Index> index;
  std::unique_ptr<JobQueue> jobs;
  FakeActions actions;
  std::unique_ptr<ConsoleServer> server;
};

TEST_F(ConsoleApi, HealthReportsListenerDiskRenderAndDestinations) {
  start();
  auto r = get("/api/health");
  ASSERT_EQ(r.status, 200);
  auto body = r.parsed();
  EXPECT_EQ(body["status"], "ok");
  EXPECT_EQ(body["dicom"]["listening"], true);
  EXPECT_EQ(body["storage"]["disk_free_mb"], 5000);
  EXPECT_EQ(body["render"]["workers"], 1);
  EXPECT_EQ(body["index"]["instances"], 3);
  ASSERT_EQ(body["destinations"].size(), 2u);
  EXPECT_EQ(body["destinations"][1]["error"], "connection refused");
  EXPECT_EQ(body["destinations_reachable"], false);
  // Whether DICOM traffic is encrypted, for the listener and each destination.
  EXPECT_EQ(body["dicom"]["bind"], "10.1.2.3");
  EXPECT_EQ(body["dicom"]["tls"], true);
  EXPECT_EQ(body["destinations"][0]["tls"], false);
  EXPECT_EQ(body["destinations"][1]["tls"], true);
}

// What the start-up reconciliation of index and store found is in the health
// report; indexed files missing from the store make the node degraded.
TEST_F(ConsoleApi, HealthShowsTheStartUpReconciliationAndMissingFilesDegradeIt) {
  start();
  EXPECT_FALSE(get("/api/health").parsed().contains("recovery"));
  server->stop();
  for (int64_t missing : {0, 2}) {
    startWith([&](ConsoleConfig&, ConsoleContext& context) {
      auto base = context.health;
      context.health = [base, missing] {
        HealthReport h = base();
        RecoveryReport r;
        r.files = 40;
        r.indexed = 30;
        r.missing_count = missing;
        if (missing) r.missing = {"ab/cd/1.dcm", "ab/cd/2.dcm"};
        h.recovery = r;
        return h;
      };
    });
    auto body = get("/api/health").parsed();
    ASSERT_TRUE(body.contains("recovery")) << body.dump();
    EXPECT_EQ(body["recovery"]["indexed"], 30);
    EXPECT_EQ(body["recovery"]["missing"].size(), static_cast<size_t>(missing));
    EXPECT_NE(body["recovery"]["summary"].get<std::string>().find("30 instance(s)"), std::string::npos);
    EXPECT_EQ(body["status"], missing ? "degraded" : "ok");
    server->stop();
  }
}

// The liveness probe's answer: the process serves HTTP, whatever /api/health reports
// (a degraded node is not restarted for it).
TEST_F(ConsoleApi, LivenessAnswersWhileTheHealthIsDegraded) {
  startWith([](ConsoleConfig&, ConsoleContext& context) {
    auto base = context.health;
    context.health = [base] {
      HealthReport h = base();
      RecoveryReport r;
      r.missing_count = 1;
      r.missing = {"ab/cd/1.dcm"};
      h.recovery = r;
      return h;
    };
  });
  EXPECT_EQ(get("/api/health").parsed()["status"], "degraded");
  auto live = get("/api/health/live");
  EXPECT_EQ(live.status, 200);
  EXPECT_EQ(live.parsed()["status"], "alive");
}

TEST_F(ConsoleApi, StudiesListFiltersAndRejectsBadParameters) {
  start();
  auto r = get("/api/studies?q=p1&modality=CT&from=20240101&to=20240131");
  ASSERT_EQ(r.status, 200);
  ASSERT_EQ(r.parsed()["studies"].size(), 1u);
  EXPECT_EQ(r.parsed()["studies"][0]["AccessionNumber"], "ACC1");
  EXPECT_EQ(get("/api/studies?q=nobody").parsed()["studies"].size(), 0u);
  EXPECT_EQ(get("/api/studies?limit=0").status, 400);
  EXPECT_EQ(get("/api/studies?offset=x").status, 400);
  auto missing = get("/api/studies/9.9.9");
  EXPECT_EQ(missing.status, 404);
  EXPECT_TRUE(missing.parsed().contains("error"));
}

TEST_F(ConsoleApi, StudyAndSeriesCarryStateReasonGeometryAndTransitions) {
  start();
  renderedJob();
  auto study = get("/api/studies/" + kStudy).parsed();
  ASSERT_EQ(study["series"].size(), 1u);
  auto s = study["series"][0];
  EXPECT_EQ(s["SeriesInstanceUID"], kSeries);
  EXPECT_EQ(s["Modality"], "CT");
  EXPECT_EQ(s["instances"], 3);
  EXPECT_EQ(s["state"], "done");
  EXPECT_EQ(s["geometry"]["volume"]["dimensions"], json({64, 64, 3}));
  EXPECT_EQ(s["geometry"]["acquisition"]["Rows"], 64);
  EXPECT_NE(s["thumbnail"].get<std::string>().find("ct-bone-anterior.png"), std::string::npos);
  auto series = get("/api/series/" + kSeries).parsed();
  EXPECT_GE(series["transitions"].size(), 3u);
  EXPECT_EQ(get("/api/series/4.4.4").status, 404);
}

TEST_F(ConsoleApi, DicomTextComesBackAsJsonStringsNeverAsMarkup) {
  start();
  auto r = get("/api/series/" + kSeries);
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(r.parsed()["SeriesDescription"], kXss);
  EXPECT_EQ(r.header("Content-Type"), "application/json");
  EXPECT_EQ(r.header("X-Content-Type-Options"), "nosniff");
  // Error messages that echo request text are JSON too.
  auto e = get("/api/studies/%3Cscript%3Ealert(1)%3C%2Fscript%3E");
  EXPECT_EQ(e.status, 404);
  EXPECT_EQ(e.header("Content-Type"), "application/json");
  EXPECT_NE(e.parsed()["error"].get<std::string>().find(kXss), std::string::npos);
}

TEST_F(ConsoleApi, JobsListFilterDetailAndValidation) {
  start();
  int64_t done = renderedJob();
  int64_t queued = jobs->enqueue({JobKind::Send, kStudy, kSeries, "ct-bundle", "pacs"});
  auto all = get("/api/jobs").parsed();
  EXPECT_EQ(all["jobs"].size(), 2u);
  EXPECT_EQ(all["counts"]["succeeded"], 1);
  auto sends = get("/api/jobs?kind=send&state=queued&study=" + kStudy).parsed();
  ASSERT_EQ(sends["jobs"].size(), 1u);
  EXPECT_EQ(sends["jobs"][0]["id"], queued);
  EXPECT_EQ(sends["jobs"][0]["can_cancel"], true);
  EXPECT_EQ(get("/api/jobs?state=bogus").status, 400);
  EXPECT_EQ(get("/api/jobs?kind=x").status, 400);
  EXPECT_EQ(get("/api/jobs?limit=5000").status, 400);
  auto detail = get("/api/jobs/" + std::to_string(done)).parsed();
  EXPECT_EQ(detail["state"], "succeeded");
  EXPECT_GE(detail["events"].size(), 3u);
  ASSERT_EQ(detail["outputs"].size(), 2u);
  EXPECT_EQ(detail["outputs"][0]["url"], "/api/jobs/" + std::to_string(done) + "/files/dicom/1.2.9.1.1");
  EXPECT_EQ(get("/api/jobs/999").status, 404);
  EXPECT_EQ(get("/api/jobs/abc").status, 400);
}

// An on-demand retrieval is a job of its own kind, listed and filtered like the others.
TEST_F(ConsoleApi, RetrieveJobsAreListedByTheirKind) {
  start();
  jobs->enqueue({JobKind::Send, kStudy, kSeries, "ct-bundle", "pacs"});
  int64_t retrieve = jobs->enqueue({JobKind::Retrieve, kStudy, "", "", "pacs"});
  auto listed = get("/api/jobs?kind=retrieve").parsed();
  ASSERT_EQ(listed["jobs"].size(), 1u);
  EXPECT_EQ(listed["jobs"][0]["id"], retrieve);
  EXPECT_EQ(listed["jobs"][0]["kind"], "retrieve");
  EXPECT_EQ(listed["jobs"][0]["destination"], "pacs");
}

TEST_F(ConsoleApi, MutationsNeedTheBearerToken) {
  start();
  int64_t id = jobs->enqueue({JobKind::Render, kStudy, kSeries, "ct-bundle"});
  for (const std::string& path : std::vector<std::string>{"/api/jobs/" + std::to_string(id) + "/cancel", "/api/jobs/" + std::to_string(id) + "/retry",
                                 "/api/studies/" + kStudy + "/render", "/api/series/" + kSeries + "/render",
                                 std::string("/api/launch-tokens")}) {
    auto missing = post(path);
    EXPECT_EQ(missing.status, 401) << path;
    EXPECT_TRUE(missing.parsed().contains("error")) << path;
    EXPECT_EQ(post(path, "wrong-token").status, 401) << path;
  }
  EXPECT_EQ(jobs->get(id)->state, JobState::Queued);
  EXPECT_TRUE(actions.calls.empty());
}

// What `curl -X POST -H "Authorization: Bearer T" URL` sends: no body and no
// Content-Length. Returns the status line's code.
int rawPostWithoutContentLength(const std::string& host, int port, const std::string& path, const std::string& token) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(uint16_t(port));
  ::inet_pton(AF_INET, host.c_str(), &address.sin_addr);
  timeval timeout{10, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
    ::close(fd);
    return -1;
  }
  std::string request = "POST " + path + " HTTP/1.1\r\nHost: " + host + ":" + std::to_string(port) +
                        "\r\nUser-Agent: curl/7.88.1\r\nAccept: */*\r\n";
  if (!token.empty()) request += "Authorization: Bearer " + token + "\r\n";
  request += "Connection: close\r\n\r\n";
  (void)::send(fd, request.data(), request.size(), MSG_NOSIGNAL);
  char reply[64] = {};
  const ssize_t got = ::recv(fd, reply, sizeof reply - 1, 0);
  ::close(fd);
  if (got < 12) return -1;
  return std::atoi(reply + 9);  // "HTTP/1.1 202 ..."
}

TEST_F(ConsoleApi, APostWithoutABodyAsCurlSendsItIsAccepted) {
  start();
  const std::string path = "/api/studies/" + kStudy + "/render";
  EXPECT_EQ(rawPostWithoutContentLength(host, server->port(), path, ""), 401);
  // Without the token nothing else is looked at, not even the UID.
  EXPECT_EQ(rawPostWithoutContentLength(host, server->port(), "/api/studies/not-a-uid/render", ""), 401);
  EXPECT_EQ(rawPostWithoutContentLength(host, server->port(), path, kToken), 202);
  ASSERT_EQ(actions.calls.size(), 1u);
  EXPECT_EQ(actions.calls[0], "study " + kStudy + " source= rule=");
}

TEST_F(ConsoleApi, MutationsAreDisabledWithoutAConfiguredToken) {
  start("");
  int64_t id = jobs->enqueue({JobKind::Render, kStudy, kSeries, "ct-bundle"});
  auto r = post("/api/jobs/" + std::to_string(id) + "/cancel", "anything");
  EXPECT_EQ(r.status, 403);
  EXPECT_TRUE(r.parsed().contains("error"));
  EXPECT_EQ(post("/api/studies/" + kStudy + "/render").status, 403);
  EXPECT_EQ(jobs->get(id)->state, JobState::Queued);
}

TEST_F(ConsoleApi, CancelAndRetryChangeTheJobAndWakeTheWorkers) {
  start();
  int64_t id = jobs->enqueue({JobKind::Render, kStudy, kSeries, "ct-bundle"});
  auto path = "/api/jobs/" + std::to_string(id);
  EXPECT_EQ(post(path + "/retry", kToken).status, 409);  // queued: nothing to retry
  auto canceled = post(path + "/cancel", kToken);
  ASSERT_EQ(canceled.status, 200);
  EXPECT_EQ(canceled.parsed()["state"], "canceled");
  auto retried = post(path + "/retry", kToken);
  ASSERT_EQ(retried.status, 200);
  EXPECT_EQ(retried.parsed()["state"], "queued");
  EXPECT_EQ(actions.wakes, 2);
  EXPECT_EQ(post("/api/jobs/999/cancel", kToken).status, 404);
}

TEST_F(ConsoleApi, OnDemandRenderPassesSourceAndRule) {
  start();
  auto r = post("/api/studies/" + kStudy + "/render", kToken, R"({"source": "pacs", "rule": "ct-bundle"})");
  ASSERT_EQ(r.status, 202);
  EXPECT_EQ(r.parsed()["job_ids"], json({7}));
  EXPECT_EQ(post("/api/series/" + kSeries + "/render", kToken).status, 202);
  ASSERT_EQ(actions.calls.size(), 2u);
  EXPECT_EQ(actions.calls[0], "study " + kStudy + " source=pacs rule=ct-bundle");
  EXPECT_EQ(actions.calls[1], "series " + kSeries + " source= rule=");
  EXPECT_EQ(post("/api/studies/" + kStudy + "/render", kToken, "not json").status, 400);
  EXPECT_EQ(post("/api/studies/" + kStudy + "/render", kToken, R"({"rule": 5})").status, 400);
  actions.next = {false, 404, "study 9.9 is not held and no source knows it", {}, "failed"};
  auto refused = post("/api/studies/9.9/render", kToken);
  EXPECT_EQ(refused.status, 404);
  EXPECT_EQ(refused.parsed()["error"], "study 9.9 is not held and no source knows it");
}

TEST_F(ConsoleApi, OnDemandSeriesRenderSaysWhichStudyAndWhereToFollowIt) {
  start();
  actions.next = {true, 202, "retrieving series 1.2.3.2 from pacs", {}, "retrieving", kStudy};
  auto r = post("/api/series/" + kSeries + "/render", kToken, R"({"source": "pacs"})");
  ASSERT_EQ(r.status, 202) << r.body;
  auto body = r.parsed();
  EXPECT_EQ(body["retrieve_state"], "retrieving");
  EXPECT_EQ(body["job_ids"], json::array());
  EXPECT_EQ(body["StudyInstanceUID"], kStudy);
  EXPECT_EQ(body["SeriesInstanceUID"], kSeries);
  EXPECT_EQ(body["progress_url"], "/api/series/" + kSeries);
  EXPECT_EQ(body["viewer_url"], "/view/" + kStudy);
  auto study = post("/api/studies/" + kStudy + "/render", kToken).parsed();
  EXPECT_EQ(study["progress_url"], "/api/studies/" + kStudy + "/results");
  EXPECT_EQ(study["viewer_url"], "/view/" + kStudy);

  // Not a UID: refused before anything is asked of the node or a PACS.
  const size_t calls = actions.calls.size();
  EXPECT_EQ(post("/api/series/not-a-uid/render", kToken).status, 400);
  EXPECT_EQ(post("/api/studies/1.2.3.x/render", kToken).status, 400);
  EXPECT_EQ(actions.calls.size(), calls);

  actions.next = {false, 404, "series 9.9 is neither held here nor known to pacs", {}, "", ""};
  auto unknown = post("/api/series/9.9/render", kToken);
  EXPECT_EQ(unknown.status, 404);
  EXPECT_EQ(unknown.parsed()["error"], "series 9.9 is neither held here nor known to pacs");
  EXPECT_FALSE(unknown.parsed().contains("progress_url"));
}

// The viewer of a launched study waits on its results: while the study is not held
// the 404 says whether a retrieval runs or why it failed (a failed C-MOVE happens
// after the launch was answered, so nothing else would show it).
TEST_F(ConsoleApi, ResultsOfAStudyNotHeldTellTheStateOfItsRetrieval) {
  start();
  auto plain = getWithToken("/api/studies/9.8.7/results");
  EXPECT_EQ(plain.status, 404);
  EXPECT_EQ(plain.parsed()["error"], "no study with StudyInstanceUID 9.8.7");
  EXPECT_FALSE(plain.parsed().contains("retrieve"));

  actions.retrievals["9.8.7"] = {"retrieving", "", "pacs"};
  auto running = getWithToken("/api/studies/9.8.7/results").parsed();
  EXPECT_EQ(running["retrieve"]["state"], "retrieving");
  EXPECT_EQ(running["error"], "study 9.8.7 is being retrieved from pacs");

  actions.retrievals["9.8.7"] = {"failed", "C-MOVE refused: 0xA801 (move destination unknown)", "pacs"};
  auto failed = getWithToken("/api/studies/9.8.7/results");
  EXPECT_EQ(failed.status, 404);
  EXPECT_EQ(failed.parsed()["retrieve"]["state"], "failed");
  EXPECT_EQ(failed.parsed()["retrieve"]["message"], "C-MOVE refused: 0xA801 (move destination unknown)");
  EXPECT_EQ(failed.parsed()["error"],
            "study 9.8.7 is not held here: retrieving it from pacs failed: C-MOVE refused: 0xA801 (move destination "
            "unknown)");
}

// Every error of the API, whoever decides it (a handler, a parameter check, the
// access check, httplib itself), has one shape: {"error": "...", "status": <HTTP status>}.
TEST_F(ConsoleApi, EveryErrorAnswersTheSameShape) {
  start();
  const int64_t queued = jobs->enqueue({JobKind::Render, kStudy, "1.2.3.77", "ct-bundle"});
  actions.retrievals["9.8.6"] = {"failed", "C-MOVE refused", "pacs"};
  std::vector<std::pair<std::string, Reply>> errors{
      {"unknown path", get("/api/nothing")},
      {"study not held", get("/api/studies/9.8.7/results")},
      {"study not held, retrieval failed", get("/api/studies/9.8.6/results")},
      {"unknown series", get("/api/series/4.4.4")},
      {"bad parameter", get("/api/jobs?limit=5000")},
      {"bad job id", get("/api/jobs/abc")},
      {"file of no render job", get("/api/jobs/" + std::to_string(queued) + "/files/mesh/model.stl")},
      {"no token", post("/api/jobs/" + std::to_string(queued) + "/cancel")},
      {"state conflict", post("/api/jobs/" + std::to_string(queued) + "/retry", kToken)},
      {"body too large", post("/api/launch-tokens", kToken, std::string(70 * 1024, 'x'))},
      {"wrong Host", get("/api/health", {{"Host", "evil.example"}})},
  };
  actions.next = {false, 404, "study 9.9 is not held and no source knows it", {}, ""};
  errors.emplace_back("on-demand refused", post("/api/studies/9.9/render", kToken));
  for (const auto& [what, reply] : errors) {
    ASSERT_GE(reply.status, 400) << what;
    EXPECT_NE(reply.header("Content-Type").find("application/json"), std::string::npos) << what;
    auto body = json::parse(reply.body, nullptr, false);
    ASSERT_TRUE(body.is_object()) << what << ": " << reply.body;
    ASSERT_TRUE(body.contains("error") && body["error"].is_string()) << what << ": " << reply.body;
    EXPECT_FALSE(body["error"].get<std::string>().empty()) << what;
    EXPECT_EQ(body["status"], reply.status) << what << ": " << reply.body;
  }
}

TEST_F(ConsoleApi, OnDemandRenderWithoutActionsIsUnavailable) {
  start(kToken, false);
  EXPECT_EQ(post("/api/studies/" + kStudy + "/render", kToken).status, 503);
}

TEST_F(ConsoleApi, ResultsListImagesMeshAndDicomWithUrlsThatDownload) {
  start();
  int64_t id = renderedJob();
  auto r = get("/api/series/" + kSeries + "/results");
  ASSERT_EQ(r.status, 200);
  auto body = r.parsed();
  EXPECT_EQ(body["job_id"], id);
  ASSERT_EQ(body["images"].size(), 1u);
  EXPECT_EQ(body["images"][0]["preset"], "ct-bone");
  EXPECT_EQ(body["images"][0]["spin"].size(), 2u);
  EXPECT_TRUE(body["images"][0]["views"].contains("anterior"));
  EXPECT_EQ(get(body["images"][0]["spin"][1]).body, "PNG-1");
  EXPECT_EQ(get(body["images"][0]["views"]["anterior"]).header("Content-Type"), "image/png");
  auto stl = get(body["mesh"]["url"]);
  EXPECT_EQ(stl.status, 200);
  EXPECT_EQ(stl.body.size(), 84u);
  auto dcm = get(body["outputs"][0]["url"]);
  EXPECT_EQ(dcm.status, 200);
  EXPECT_EQ(dcm.body, "DICM-spin");
  EXPECT_EQ(dcm.header("Content-Type"), "application/dicom");
  auto study = get("/api/studies/" + kStudy + "/results").parsed();
  ASSERT_EQ(study["series"].size(), 1u);
  EXPECT_EQ(study["series"][0]["SeriesDescription"], kXss);
  EXPECT_EQ(get("/api/studies/9.9/results").status, 404);
}

TEST_F(ConsoleApi, FileEndpointsRefusePathTraversal) {
  start();
  int64_t id = renderedJob();
  writeFile(dir / "secret.txt", "SECRET");
  const std::string job = "/api/jobs/" + std::to_string(id);
  const std::vector<std::string> attempts = {
      job + "/files/png/..%2F..%2Fsecret.txt",
      job + "/files/png/..%2Fdicom%2Fspin.dcm",
      job + "/files/png/notes.txt",
      job + "/files/png/%2E%2E",
      job + "/files/png/ct-bone-anterior.png%00.txt",
      job + "/files/dicom/..%2F..%2Fsecret.txt",
      job + "/files/dicom/1.2.9.9.9",
      job + "/files/mesh/..%2F..%2Fsecret.txt",
      "/api/jobs/..%2F..%2Fsecret.txt/files/mesh/model.stl",
      "/api/jobs/-1/files/mesh/model.stl",
      "/api/jobs/" + std::to_string(id) + "/../../secret.txt",
      "/assets/..%2F..%2F..%2Fsecret.txt",
      "/vendor/three/..%2F..%2F..%2F..%2Fsecret.txt",
  };
  for (const auto& path : attempts) {
    auto r = get(path);
    EXPECT_TRUE(r.status == 400 || r.status == 404) << path << " -> " << r.status;
    EXPECT_EQ(r.body.find("SECRET"), std::string::npos) << path;
  }
  // Even a job_outputs row that points outside the results folder is not served.
  jobs->recordOutputFile(id, "mesh:ct-bone", "1.2", "../secret.txt", 6, 0);
  EXPECT_EQ(get(job + "/files/dicom/1.2.9.1.2").status, 404);
}

TEST_F(ConsoleApi, TimelineHasTheMilestonesOfAStudy) {
  start();
  int64_t id = renderedJob();
  jobs->recordDelivery("pacs", "1.2.9.1.1", 0, "");
  jobs->recordDelivery("pacs", "1.2.9.1.2", 0, "");
  auto body = get("/api/studies/" + kStudy + "/timeline").parsed();
  std::vector<std::string> milestones;
  for (const auto& e : body["events"])
    if (!e["milestone"].get<std::string>().empty()) milestones.push_back(e["milestone"]);
  EXPECT_EQ(milestones, (std::vector<std::string>{"first_instance", "complete", "rendered", "acknowledged"}));
  // A series' entries say which series (its number, else its UID, and its description).
  for (const auto& e : body["events"])
    if (e["milestone"] == "first_instance") {
      EXPECT_EQ(e["message"], "series " + kSeries + " (" + kXss + "): first instance received");
    }
  auto last = body["events"].back();
  EXPECT_EQ(last["job_id"], id);
  EXPECT_NE(last["message"].get<std::string>().find("pacs acknowledged 2"), std::string::npos);
  EXPECT_EQ(get("/api/studies/9.9/timeline").status, 404);
}

TEST_F(ConsoleApi, DashboardHasCountersErrorsRefusalsAndThroughput) {
  start();
  int64_t failed = jobs->enqueue({JobKind::Send, kStudy, kSeries, "ct-bundle", "pacs", "{}", 0, 1});
  jobs->claimNext({JobKind::Send}, "w", 60);
  jobs->fail(failed, "w", "C-STORE to PACS@10.0.0.5:104 failed: association rejected", 1);
  index->setSeriesState(kSeries, SeriesState::Refused, "not a volume: 3 single frames without geometry");
  auto body = get("/api/dashboard").parsed();
  EXPECT_EQ(body["jobs"]["failed"], 1);
  EXPECT_EQ(body["throughput"]["minutes"].size(), 60u);
  EXPECT_EQ(body["throughput"]["instances_last_hour"], 3);
  // The failed send is an error; the series a check declined to render is not.
  ASSERT_EQ(body["errors"].size(), 1u);
  EXPECT_EQ(body["errors"][0]["what"], "job");
  ASSERT_EQ(body["refusals"].size(), 1u);
  EXPECT_EQ(body["refusals"][0]["what"], "series");
  EXPECT_EQ(body["refusals"][0]["reason"], "refused: not a volume: 3 single frames without geometry");
  EXPECT_EQ(get("/api/refusals?limit=5").parsed()["refusals"], body["refusals"]);
}

// The cluster view reads the registry of the processes sharing the index: each member
// with its heartbeat, stale ones marked, this node named.
TEST_F(ConsoleApi, ClusterListsEveryMemberWithItsHeartbeatAndMarksTheStale) {
  ClusterMembers members(test::suiteIndexLocation(dir.path()));
  const int64_t self = members.join({"serve", "node-a", 101, 10, 0, "DICOM AE VOLNODE on port 11112"});
  const int64_t worker = members.join({"worker", "render-b", 202, 10, 2, "display :90"});
  const int64_t gone = members.join({"worker", "render-c", 303, 0.5, 2, "display :90"});
  members.heartbeat(worker, {42});
  {
    // render-c's last heartbeat a minute ago: silent for far more than three intervals.
    const std::string age =
        "UPDATE cluster_members SET heartbeat_at = heartbeat_at - 60 WHERE id = " + std::to_string(gone);
    if (test::suiteOnPostgresql()) {
      test::suiteIndexQuery(dir.path(), age);
    } else {
      sqlite3* db = nullptr;
      ASSERT_EQ(sqlite3_open((dir / "index.sqlite").c_str(), &db), SQLITE_OK);
      sqlite3_busy_timeout(db, 5000);
      EXPECT_EQ(sqlite3_exec(db, age.c_str(), nullptr, nullptr, nullptr), SQLITE_OK);
      sqlite3_close(db);
    }
  }
  startWith([&](ConsoleConfig&, ConsoleContext& context) {
    context.cluster = &members;
    context.cluster_self = [self] { return self; };
  });
  auto body = get("/api/cluster").parsed();
  ASSERT_EQ(body["members"].size(), 3u) << body.dump();
  EXPECT_EQ(body["self"], self);
  EXPECT_EQ(body["serve_nodes_alive"], 1);
  EXPECT_EQ(body["worker_processes_alive"], 2);
  EXPECT_EQ(body["stale"], 1);
  const auto& serve = body["members"][0];
  EXPECT_EQ(serve["role"], "serve");
  EXPECT_EQ(serve["state"], "alive");
  EXPECT_EQ(serve["detail"], "DICOM AE VOLNODE on port 11112");
  EXPECT_EQ(serve["heartbeat_at"].get<std::string>().back(), 'Z') << "ISO UTC";
  const auto& busy = body["members"][1];
  EXPECT_EQ(busy["host"], "render-b");
  EXPECT_EQ(busy["current_jobs"], nlohmann::json::array({42}));
  const auto& stale = body["members"][2];
  EXPECT_EQ(stale["host"], "render-c");
  EXPECT_EQ(stale["state"], "stale");
  EXPECT_GE(stale["heartbeat_age_s"].get<double>(), 60.0);
}

TEST_F(ConsoleApi, MetricsArePrometheusText) {
  start();
  renderedJob();
  auto r = get("/metrics");
  ASSERT_EQ(r.status, 200);
  EXPECT_NE(r.header("Content-Type").find("text/plain"), std::string::npos);
  for (const std::string line :
       {"# TYPE volnode_render_duration_seconds histogram", "volnode_render_duration_seconds_bucket{le=\"+Inf\"} 1",
        "volnode_render_duration_seconds_count 1", "volnode_send_duration_seconds_count 0",
        "volnode_series{state=\"done\"} 1", "volnode_jobs{kind=\"render\",state=\"succeeded\"} 1",
        "volnode_destination_reachable{destination=\"archive\"} 0", "volnode_disk_free_bytes ",
        "volnode_index_instances 3", "volnode_received_bytes_total "})
    EXPECT_NE(r.body.find(line), std::string::npos) << line;
}

TEST_F(ConsoleApi, LaunchAcceptsASignedTokenAndRendersWhenNeeded) {
  start(kToken, true, kLaunchSecret);
  httplib::Client client("127.0.0.1", server->port());
  auto launch = [&](const std::string& study, const std::string& token) {
    auto r = client.Get(("/launch?studyUID=" + study + "&token=" + token).c_str());
    return r ? std::make_pair(r->status, r->get_header_value("Location")) : std::make_pair(0, std::string());
  };
  int64_t expires = static_cast<int64_t>(unixSecondsNow()) + 60;
  // No results yet: the render is requested and the browser goes to the viewer.
  auto first = launch(kStudy, console::signLaunchToken(kLaunchSecret, kStudy, expires));
  EXPECT_EQ(first.first, 303);
  EXPECT_EQ(first.second, "/view/" + kStudy);
  ASSERT_EQ(actions.calls.size(), 1u);
  renderedJob();
  auto signed_ok = launch(kStudy, console::signLaunchToken(kLaunchSecret, kStudy, expires));
  EXPECT_EQ(signed_ok.first, 303);
  EXPECT_EQ(actions.calls.size(), 1u);  // results exist: no new render
  EXPECT_EQ(launch(kStudy, console::signLaunchToken(kLaunchSecret, "1.2.3.99", expires)).first, 401);
  EXPECT_EQ(launch(kStudy, console::signLaunchToken("other-secret-0123456789", kStudy, expires)).first, 401);
  EXPECT_EQ(launch(kStudy, console::signLaunchToken(kLaunchSecret, kStudy, expires - 120)).first, 401);
  EXPECT_EQ(launch(kStudy, "").first, 401);
  EXPECT_EQ(launch("%3Cscript%3E", console::signLaunchToken(kLaunchSecret, kStudy, expires)).first, 400);
  // The API mints signed tokens for a PACS that holds the console token.
  auto minted = post("/api/launch-tokens", kToken, R"({"studyUID": ")" + kStudy + R"(", "ttl_s": 60})");
  ASSERT_EQ(minted.status, 201);
  auto url = minted.parsed()["url"].get<std::string>();
  auto r = client.Get(url.c_str());
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 303);
}

// The console token in a URL would stay in browser history and proxy logs.
TEST_F(ConsoleApi, LaunchRefusesTheConsoleTokenInTheUrl) {
  start(kToken, true, kLaunchSecret);
  httplib::Client client("127.0.0.1", server->port());
  auto r = client.Get(("/launch?studyUID=" + kStudy + "&token=" + kToken).c_str());
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 401);
  EXPECT_NE(r->body.find("not accepted in a link"), std::string::npos) << r->body;
  EXPECT_FALSE(r->has_header("Set-Cookie"));
  EXPECT_TRUE(actions.calls.empty());
  // Also when no launch secret is configured: launch links are then off altogether.
  server.reset();
  start(kToken, true, "");
  httplib::Client again("127.0.0.1", server->port());
  auto off = again.Get(("/launch?studyUID=" + kStudy + "&token=" + kToken).c_str());
  ASSERT_TRUE(off);
  EXPECT_EQ(off->status, 403);
  EXPECT_TRUE(actions.calls.empty());
}

TEST_F(ConsoleApi, LaunchIsDisabledWithoutTokenOrSecret) {
  start("");
  httplib::Client client("127.0.0.1", server->port());
  auto r = client.Get(("/launch?studyUID=" + kStudy + "&token=x").c_str());
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 403);
}

TEST_F(ConsoleApi, SettingsShowMaskedConfigRulesAndPresets) {
  start();
  auto body = get("/api/settings").parsed();
  EXPECT_NE(body["config_toml"].get<std::string>().find("***"), std::string::npos);
  EXPECT_EQ(body["rules"][0]["name"], "ct-bundle");
  EXPECT_TRUE(body["presets"].contains("ct-bone"));
  EXPECT_EQ(body["console"]["mutations_enabled"], true);
}

TEST_F(ConsoleApi, PagesAreServedWithAContentSecurityPolicy) {
  start();
  for (const std::string& page :
       std::vector<std::string>{"/", "/studies", "/jobs", "/settings", "/studies/" + kStudy, "/view/" + kStudy}) {
    auto r = get(page);
    ASSERT_EQ(r.status, 200) << page;
    EXPECT_NE(r.header("Content-Type").find("text/html"), std::string::npos) << page;
    EXPECT_NE(r.header("Content-Security-Policy").find("script-src 'self'"), std::string::npos) << page;
    EXPECT_EQ(r.header("Content-Security-Policy").find("unsafe-inline"), std::string::npos) << page;
  }
  EXPECT_EQ(get("/assets/common.js").status, 200);
  EXPECT_EQ(get("/view/" + kStudy).body.find("cdn"), std::string::npos);
  auto unknown = get("/api/nothing");
  EXPECT_EQ(unknown.status, 404);
  EXPECT_TRUE(unknown.parsed().contains("error"));
}

TEST_F(ConsoleApi, ServesHttpsWithTheConfiguredCertificate) {
  auto made = test::run({"openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=localhost", "-days",
                         "1", "-keyout", (dir / "key.pem").string(), "-out", (dir / "cert.pem").string()},
                        std::chrono::seconds(60));
  if (made.exit_code != 0) GTEST_SKIP() << "openssl cannot make a test certificate: " << made.output;
  ConsoleConfig config;
  config.port = 0;
  ConsoleContext context{config, *index, *jobs, [] { return HealthReport{}; }};
  context.tls_cert_file = dir / "cert.pem";
  context.tls_key_file = dir / "key.pem";
  ConsoleServer tls(std::move(context));
  tls.start();
  httplib::SSLClient client("127.0.0.1", tls.port());
  client.enable_server_certificate_verification(false);
  auto r = client.Get("/api/health");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  httplib::Client plain("127.0.0.1", tls.port());
  plain.set_read_timeout(2);
  auto refused = plain.Get("/api/health");
  EXPECT_TRUE(!refused || refused->status != 200);
  ConsoleContext broken{config, *index, *jobs, [] { return HealthReport{}; }};
  broken.tls_cert_file = dir / "missing.pem";
  broken.tls_key_file = dir / "key.pem";
  EXPECT_THROW(ConsoleServer{std::move(broken)}, Error);
}

// --- Host header (DNS rebinding) ---

TEST_F(ConsoleApi, HostHeaderMustNameThisConsole) {
  startWith([](ConsoleConfig& config, ConsoleContext&) {
    config.token = kToken;
    config.allowed_hosts = {"volnode.hospital.local"};
  });
  const std::string port = std::to_string(server->port());
  for (const std::string& name : std::vector<std::string>{"127.0.0.1:" + port, "127.0.0.1", "localhost:" + port, "LocalHost", "[::1]:" + port,
                                  "[0:0:0:0:0:0:0:1]", "volnode.hospital.local", "Volnode.Hospital.Local:" + port})
    EXPECT_EQ(get("/api/studies", {{"Host", name}}).status, 200) << name;
  for (const std::string& name : std::vector<std::string>{"evil.example", "evil.example:" + port, "volnode.hospital.local.evil.example",
                                  "127.0.0.1.nip.io", "127.0.0.1:80x", "user@127.0.0.1", "::1", "127.0.0.2", ""}) {
    auto r = get("/api/studies", {{"Host", name}});
    EXPECT_EQ(r.status, 421) << name;
    EXPECT_NE(r.body.find("console.allowed_hosts"), std::string::npos) << name << ": " << r.body;
    EXPECT_EQ(r.body.find("Doe"), std::string::npos) << name;
  }
  // Pages, static files, metrics and mutations are refused the same way (a
  // mutation before its token or body is looked at).
  for (const std::string& path : std::vector<std::string>{"/", "/view/" + kStudy, "/assets/common.js", "/metrics", "/api/health"})
    EXPECT_EQ(get(path, {{"Host", "evil.example"}}).status, 421) << path;
  EXPECT_EQ(post("/api/studies/" + kStudy + "/render", kToken, "{}", {{"Host", "evil.example"}}).status, 421);
  EXPECT_TRUE(actions.calls.empty());
  // HTTP/1.0 without a Host header.
  EXPECT_EQ(statusOf(rawExchange("127.0.0.1", server->port(), "GET /api/studies HTTP/1.0\r\n\r\n")), 421);
  EXPECT_EQ(statusOf(rawExchange("127.0.0.1", server->port(), "GET /api/studies HTTP/1.0\r\nHost: localhost\r\n\r\n")),
            200);
}

TEST_F(ConsoleApi, ExposedConsoleAnswersToItsBindAddressAndAllowedNamesOnly) {
  startExposed([](ConsoleConfig& config, ConsoleContext&) { config.allowed_hosts = {"volnode.hospital.local"}; });
  const std::string port = std::to_string(server->port());
  EXPECT_EQ(get("/api/health", {{"Host", "127.0.0.2:" + port}}).status, 200);
  EXPECT_EQ(get("/api/health", {{"Host", "volnode.hospital.local:" + port}}).status, 200);
  // Bound to one address, the loopback names are not names of this console.
  EXPECT_EQ(get("/api/health", {{"Host", "localhost:" + port}}).status, 421);
  EXPECT_EQ(get("/api/health", {{"Host", "127.0.0.1:" + port}}).status, 421);
}

// --- Reads of patient data ---

std::vector<std::string> patientDataReads(int64_t job) {
  const std::string j = "/api/jobs/" + std::to_string(job);
  return {"/api/studies",
          "/api/studies?q=Doe",
          "/api/studies/" + kStudy,
          "/api/studies/" + kStudy + "/timeline",
          "/api/studies/" + kStudy + "/results",
          "/api/series/" + kSeries,
          "/api/series/" + kSeries + "/results",
          "/api/jobs",
          "/api/jobs?study=" + kStudy,
          j,
          j + "/files/png/ct-bone-anterior.png",
          j + "/files/png/ct-bone-spin-001.png",
          j + "/files/dicom/1.2.9.1.1",
          j + "/files/mesh/model.stl",
          "/api/dashboard",
          "/api/errors",
          "/api/throughput",
          "/api/settings"};
}

TEST_F(ConsoleApi, BeyondLoopbackEveryReadOfPatientDataNeedsTheToken) {
  startExposed([](ConsoleConfig&, ConsoleContext& context) { context.auth_max_failures = 0; });
  int64_t id = renderedJob();
  for (const auto& path : patientDataReads(id)) {
    auto none = get(path);
    EXPECT_EQ(none.status, 401) << path;
    EXPECT_EQ(none.header("WWW-Authenticate"), "Bearer realm=\"volnode\"") << path;
    EXPECT_EQ(none.body.find("Doe"), std::string::npos) << path;
    EXPECT_EQ(none.body.find("PNG"), std::string::npos) << path;
    EXPECT_EQ(get(path, {{"Authorization", "Basic " + kToken}}).status, 401) << path;
    EXPECT_EQ(getWithToken(path, "wrong-token-0123456789").status, 401) << path;
    EXPECT_EQ(getWithToken(path).status, 200) << path;
  }
  EXPECT_EQ(getWithToken("/api/studies").parsed()["studies"][0]["PatientName"], "Doe^Jane");
  // Open: the pages and their scripts (no data in them), the health summary and the
  // metrics, which carry no patient data.
  for (const std::string& path : std::vector<std::string>{"/", "/studies", "/studies/" + kStudy, "/view/" + kStudy, "/assets/common.js"})
    EXPECT_EQ(get(path).status, 200) << path;
  for (const std::string& path : std::vector<std::string>{"/api/health", "/metrics"}) {
    auto open = get(path);
    EXPECT_EQ(open.status, 200) << path;
    for (const std::string& identifier : std::vector<std::string>{std::string("Doe"), std::string("Jane"), std::string("P1\""),
                                          std::string("ACC1"), kStudy, kSeries, std::string("1.2.9.1"), kXss})
      EXPECT_EQ(open.body.find(identifier), std::string::npos) << path << " holds " << identifier;
  }
}

TEST_F(ConsoleApi, OnLoopbackReadsAreOpenUnlessReadRequiresToken) {
  start();
  int64_t id = renderedJob();
  for (const auto& path : patientDataReads(id)) EXPECT_EQ(get(path).status, 200) << path;
  EXPECT_EQ(get("/api/settings").parsed()["console"]["reads_need_token"], false);
  server.reset();
  startWith([](ConsoleConfig& config, ConsoleContext&) {
    config.token = kToken;
    config.read_requires_token = true;
  });
  for (const auto& path : patientDataReads(id)) {
    EXPECT_EQ(get(path).status, 401) << path;
    EXPECT_EQ(getWithToken(path).status, 200) << path;
  }
  EXPECT_EQ(get("/api/health").status, 200);
  EXPECT_EQ(get("/api/health/live").status, 200);
  EXPECT_EQ(getWithToken("/api/settings").parsed()["console"]["reads_need_token"], true);
  // Without a token nobody could read: refused at start-up.
  auto message = startError([](ConsoleConfig& config, ConsoleContext&) { config.read_requires_token = true; });
  EXPECT_NE(message.find("console.read_requires_token"), std::string::npos) << message;
}

TEST_F(ConsoleApi, ASignedLaunchLinkOpensItsStudyOnlyForTheBrowserThatFollowedIt) {
  startExposed([](ConsoleConfig&, ConsoleContext& context) {
    context.launch_secret = kLaunchSecret;
    context.launch_session = std::chrono::seconds(2);
  });
  const std::string other_study = "1.2.4.1", other_series = "1.2.4.2";
  index->addInstance(instance("1.2.4.2.0", other_series, "other series", other_study));
  int64_t id = renderedJob();
  int64_t other_job = jobs->enqueue({JobKind::Render, other_study, other_series, "ct-bundle"});
  const int64_t expires = static_cast<int64_t>(unixSecondsNow()) + 60;
  auto link = [&](const std::string& study) {
    return "/launch?studyUID=" + study + "&token=" + console::signLaunchToken(kLaunchSecret, study, expires);
  };
  auto launched = get(link(kStudy));
  ASSERT_EQ(launched.status, 303) << launched.body;
  EXPECT_EQ(launched.header("Location"), "/view/" + kStudy);
  const std::string set_cookie = launched.header("Set-Cookie");
  for (const std::string& attribute : std::vector<std::string>{"volnode_launch=", "; Path=/", "; Max-Age=2", "; HttpOnly", "; SameSite=Strict"})
    EXPECT_NE(set_cookie.find(attribute), std::string::npos) << set_cookie;
  EXPECT_EQ(set_cookie.find("Secure"), std::string::npos) << "plain HTTP: " << set_cookie;
  const std::string cookie = set_cookie.substr(0, set_cookie.find(';'));
  const httplib::Headers browser{{"Cookie", cookie}};

  // What the viewer of that study reads.
  const std::string j = "/api/jobs/" + std::to_string(id);
  for (const std::string& path : std::vector<std::string>{"/api/studies/" + kStudy + "/results", "/api/studies/" + kStudy, "/api/studies/" + kStudy + "/timeline",
        "/api/series/" + kSeries, "/api/series/" + kSeries + "/results", "/api/jobs?study=" + kStudy, j,
        j + "/files/png/ct-bone-spin-000.png", j + "/files/dicom/1.2.9.1.1", j + "/files/mesh/model.stl"})
    EXPECT_EQ(get(path, browser).status, 200) << path;
  // Nothing else: other studies, their series and jobs, lists, the dashboard.
  for (const std::string& path : std::vector<std::string>{"/api/studies", "/api/studies/" + other_study, "/api/studies/" + other_study + "/results",
        "/api/series/" + other_series, "/api/jobs", "/api/jobs?study=" + other_study,
        "/api/jobs/" + std::to_string(other_job), "/api/dashboard", "/api/errors", "/api/settings"}) {
    auto r = get(path, browser);
    EXPECT_EQ(r.status, 403) << path;
    EXPECT_EQ(r.body.find("Doe"), std::string::npos) << path;
  }
  // The cookie is no credential for changes, and an unknown session is nothing.
  EXPECT_EQ(post("/api/studies/" + kStudy + "/render", "", "", browser).status, 401);
  EXPECT_EQ(post("/api/launch-tokens", "", R"({"studyUID": "1.2.4.1"})", browser).status, 401);
  EXPECT_TRUE(actions.calls.empty());
  EXPECT_EQ(get("/api/studies/" + kStudy + "/results", {{"Cookie", "volnode_launch=" + std::string(64, 'a')}}).status,
            401);
  // A second link followed by the same browser adds its study under a new session
  // id; the old id ends.
  auto second = get(link(other_study), browser);
  ASSERT_EQ(second.status, 303);
  const std::string cookie2 = second.header("Set-Cookie").substr(0, second.header("Set-Cookie").find(';'));
  EXPECT_NE(cookie2, cookie);
  EXPECT_EQ(get("/api/studies/" + other_study, {{"Cookie", cookie2}}).status, 200);
  EXPECT_EQ(get("/api/studies/" + kStudy + "/results", {{"Cookie", cookie2}}).status, 200);
  EXPECT_EQ(get("/api/studies/" + kStudy + "/results", browser).status, 401);
  // Sessions are short-lived.
  std::this_thread::sleep_for(std::chrono::milliseconds(2100));
  EXPECT_EQ(get("/api/studies/" + kStudy + "/results", {{"Cookie", cookie2}}).status, 401);
}

// An operator ends every launch session at once (a link was forwarded, a browser
// left open); only with the console token. Following a valid link opens a new one.
TEST_F(ConsoleApi, LaunchSessionsAreRevokedAtOnceByTheOperator) {
  startExposed([](ConsoleConfig&, ConsoleContext& context) { context.launch_secret = kLaunchSecret; });
  const int64_t expires = static_cast<int64_t>(unixSecondsNow()) + 60;
  const std::string link =
      "/launch?studyUID=" + kStudy + "&token=" + console::signLaunchToken(kLaunchSecret, kStudy, expires);
  auto open = [&] {
    auto launched = get(link);
    EXPECT_EQ(launched.status, 303) << launched.body;
    return httplib::Headers{{"Cookie", launched.header("Set-Cookie").substr(0, launched.header("Set-Cookie").find(';'))}};
  };
  const auto first = open(), second = open();
  const std::string results = "/api/studies/" + kStudy + "/results";
  ASSERT_EQ(get(results, first).status, 200);
  ASSERT_EQ(get(results, second).status, 200);

  EXPECT_EQ(post("/api/launch-sessions/revoke").status, 401);
  EXPECT_EQ(post("/api/launch-sessions/revoke", "", "", first).status, 401) << "a session revoked itself and others";
  auto revoked = post("/api/launch-sessions/revoke", kToken);
  ASSERT_EQ(revoked.status, 200) << revoked.body;
  EXPECT_EQ(revoked.parsed()["revoked"], 2);
  EXPECT_EQ(get(results, first).status, 401);
  EXPECT_EQ(get(results, second).status, 401);
  EXPECT_EQ(get(results, open()).status, 200) << "a valid link no longer opens a session after a revocation";
}

// --- Start-up checks ---

TEST_F(ConsoleApi, ExposedBindNeedsTlsOrAnExplicitAllowPlainHttp) {
  auto message = startError([](ConsoleConfig& config, ConsoleContext&) {
    config.bind = "127.0.0.2";
    config.token = kToken;
  });
  EXPECT_NE(message.find("console.allow_plain_http"), std::string::npos) << message;
  EXPECT_NE(message.find("console.tls_cert"), std::string::npos) << message;
  message = startError([](ConsoleConfig& config, ConsoleContext&) {
    config.bind = "0.0.0.0";
    config.token = kToken;
  });
  EXPECT_NE(message.find("console.allow_plain_http"), std::string::npos) << message;
  startExposed();
  EXPECT_EQ(get("/api/health").status, 200);
  server.reset();

  // With TLS no exception is needed; the launch cookie is then Secure.
  auto made = test::run({"openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=localhost", "-days",
                         "1", "-keyout", (dir / "key.pem").string(), "-out", (dir / "cert.pem").string()},
                        std::chrono::seconds(60));
  if (made.exit_code != 0) GTEST_SKIP() << "openssl cannot make a test certificate: " << made.output;
  startWith([&](ConsoleConfig& config, ConsoleContext& context) {
    config.bind = "127.0.0.2";
    config.token = kToken;
    context.launch_secret = kLaunchSecret;
    context.tls_cert_file = dir / "cert.pem";
    context.tls_key_file = dir / "key.pem";
  });
  renderedJob();
  httplib::SSLClient client("127.0.0.2", server->port());
  client.enable_server_certificate_verification(false);
  client.set_read_timeout(10);
  auto launched = client.Get(("/launch?studyUID=" + kStudy + "&token=" +
                              console::signLaunchToken(kLaunchSecret, kStudy, static_cast<int64_t>(unixSecondsNow()) + 60))
                                 .c_str());
  ASSERT_TRUE(launched);
  EXPECT_EQ(launched->status, 303);
  EXPECT_NE(launched->get_header_value("Set-Cookie").find("; Secure"), std::string::npos);
  auto refused = client.Get("/api/studies");
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->status, 401);
  auto read = client.Get("/api/studies", {{"Authorization", "Bearer " + kToken}});
  ASSERT_TRUE(read);
  EXPECT_EQ(read->status, 200);
}

TEST_F(ConsoleApi, ShortTokensAndLaunchSecretsAreRefusedAtStartUp) {
  auto message = startError([](ConsoleConfig& config, ConsoleContext&) { config.token = "fifteen-chars-x"; });
  EXPECT_NE(message.find("console.token"), std::string::npos) << message;
  EXPECT_NE(message.find("at least 16"), std::string::npos) << message;
  EXPECT_EQ(message.find("fifteen-chars-x"), std::string::npos) << "the message repeats the token: " << message;
  message = startError([](ConsoleConfig& config, ConsoleContext& context) {
    config.token = kToken;
    context.launch_secret = "short-secret";
  });
  EXPECT_NE(message.find("console.launch_secret"), std::string::npos) << message;
  EXPECT_EQ(message.find("short-secret"), std::string::npos) << message;
  startWith([](ConsoleConfig& config, ConsoleContext& context) {
    config.token = std::string(16, 't');
    context.launch_secret = std::string(16, 's');
  });
  EXPECT_EQ(get("/api/health").status, 200);
}

// --- Guessing ---

TEST_F(ConsoleApi, FailedAuthenticationsFromOneAddressAreAnswered429ForAWhile) {
  startWith([](ConsoleConfig& config, ConsoleContext& context) {
    config.token = kToken;
    context.launch_secret = kLaunchSecret;
    context.auth_block = std::chrono::seconds(2);
  });
  int64_t id = jobs->enqueue({JobKind::Render, kStudy, kSeries, "ct-bundle"});
  const std::string cancel = "/api/jobs/" + std::to_string(id) + "/cancel";
  // Calls without any token are no guesses: not counted.
  for (int i = 0; i < 15; ++i) EXPECT_EQ(post(cancel).status, 401);
  for (int i = 0; i < 9; ++i) EXPECT_EQ(post(cancel, "wrong-token-0123456789-" + std::to_string(i)).status, 401);
  // The tenth wrong token: still 401, then the address is locked out.
  EXPECT_EQ(post(cancel, "wrong-token-0123456789-last").status, 401);
  auto blocked = post(cancel, kToken);
  EXPECT_EQ(blocked.status, 429);
  EXPECT_FALSE(blocked.header("Retry-After").empty());
  EXPECT_NE(blocked.parsed()["error"].get<std::string>().find("too many failed authentications"), std::string::npos);
  EXPECT_EQ(getWithToken("/api/studies").status, 429);
  const std::string link = "/launch?studyUID=" + kStudy + "&token=" +
                           console::signLaunchToken(kLaunchSecret, kStudy, static_cast<int64_t>(unixSecondsNow()) + 60);
  EXPECT_EQ(get(link).status, 429);
  EXPECT_EQ(jobs->get(id)->state, JobState::Queued);
  // What needs no token still works.
  EXPECT_EQ(get("/api/health").status, 200);
  EXPECT_EQ(get("/api/studies").status, 200);
  // After the lock-out the right token works again.
  std::this_thread::sleep_for(std::chrono::milliseconds(2100));
  EXPECT_EQ(post(cancel, kToken).status, 200);
}

TEST_F(ConsoleApi, WrongLaunchTokensCountAsFailedAuthentications) {
  start(kToken, true, kLaunchSecret);
  const int64_t expires = static_cast<int64_t>(unixSecondsNow()) + 60;
  for (int i = 0; i < 10; ++i) {
    std::string forged = "v1." + std::to_string(expires) + "." + std::string(63, '0') + std::to_string(i);
    EXPECT_EQ(get("/launch?studyUID=" + kStudy + "&token=" + forged).status, 401) << i;
  }
  auto blocked = get("/launch?studyUID=" + kStudy + "&token=" + console::signLaunchToken(kLaunchSecret, kStudy, expires));
  EXPECT_EQ(blocked.status, 429);
  EXPECT_NE(blocked.header("Content-Type").find("text/html"), std::string::npos);
  EXPECT_EQ(post("/api/launch-tokens", kToken, R"({"studyUID": ")" + kStudy + R"("})").status, 429);
  EXPECT_TRUE(actions.calls.empty());
}

// --- Request bodies ---

TEST_F(ConsoleApi, RequestBodiesOver64KiBAreRefusedWith413) {
  start(kToken, true, kLaunchSecret);
  const std::string too_big(64 * 1024 + 1, ' ');
  auto r = post("/api/launch-tokens", kToken, too_big);
  EXPECT_EQ(r.status, 413);
  EXPECT_TRUE(r.parsed().contains("error"));
  // Refused before the token is looked at.
  EXPECT_EQ(post("/api/studies/" + kStudy + "/render", "", too_big).status, 413);
  EXPECT_EQ(post("/api/studies/" + kStudy + "/render", kToken, too_big).status, 413);
  EXPECT_TRUE(actions.calls.empty());
  // A body of exactly 64 KiB is read and handled.
  std::string at_limit = R"({"studyUID": ")" + kStudy + R"(", "ttl_s": 60})";
  at_limit.resize(64 * 1024, ' ');
  EXPECT_EQ(post("/api/launch-tokens", kToken, at_limit).status, 201);
}

TEST(ConsoleAccess, HostHeaderParsing) {
  EXPECT_EQ(console::hostWithoutPort("Example.ORG:8080"), "example.org");
  EXPECT_EQ(console::hostWithoutPort(" localhost "), "localhost");
  EXPECT_EQ(console::hostWithoutPort("[::1]:8080"), "::1");
  EXPECT_EQ(console::hostWithoutPort("[0:0::1]"), "::1");
  EXPECT_EQ(console::hostWithoutPort("::1"), "");
  EXPECT_EQ(console::hostWithoutPort("[::1"), "");
  EXPECT_EQ(console::hostWithoutPort("host:"), "");
  EXPECT_EQ(console::hostWithoutPort("host:123456"), "");
  EXPECT_EQ(console::hostWithoutPort("a@b"), "");
  EXPECT_EQ(console::hostWithoutPort(""), "");
  EXPECT_EQ(console::cookieValue("a=1; volnode_launch=abc ; b=2", "volnode_launch"), "abc");
  EXPECT_EQ(console::cookieValue("xvolnode_launch=abc", "volnode_launch"), "");
  console::HostCheck wildcard("0.0.0.0", {"[FD00::5]", "Volnode.Lan"});
  EXPECT_TRUE(wildcard.allows("localhost:1"));
  EXPECT_TRUE(wildcard.allows("[fd00:0::5]:8443"));
  EXPECT_TRUE(wildcard.allows("volnode.lan"));
  EXPECT_FALSE(wildcard.allows("0.0.0.0"));
  EXPECT_FALSE(wildcard.allows("10.0.0.1"));
}

TEST(ConsoleAccess, FailedAuthLimiterWindowAndBlock) {
  using namespace std::chrono_literals;
  console::FailedAuthLimiter limiter(3, 60s, 60s);
  auto t0 = console::FailedAuthLimiter::Clock::time_point{} + 1000s;
  EXPECT_FALSE(limiter.fail("a", t0));
  EXPECT_FALSE(limiter.fail("a", t0 + 30s));
  EXPECT_FALSE(limiter.fail("a", t0 + 61s));  // the first one fell out of the window
  EXPECT_EQ(limiter.blockedFor("a", t0 + 61s), 0);
  EXPECT_TRUE(limiter.fail("a", t0 + 62s));
  EXPECT_EQ(limiter.blockedFor("a", t0 + 62s), 60);
  EXPECT_EQ(limiter.blockedFor("b", t0 + 62s), 0);  // per address
  EXPECT_EQ(limiter.blockedFor("a", t0 + 122s), 0);
  console::FailedAuthLimiter off(0, 60s, 60s);
  for (int i = 0; i < 100; ++i) EXPECT_FALSE(off.fail("a", t0));
  EXPECT_EQ(off.blockedFor("a", t0), 0);
}

TEST(ConsoleAuth, SignedLaunchTokensAreBoundToStudyAndTime) {
  auto token = console::signLaunchToken("s3cret", "1.2.3", 2000);
  EXPECT_EQ(console::verifyLaunchToken("s3cret", "1.2.3", token, 1999), console::LaunchTokenCheck::Valid);
  EXPECT_EQ(console::verifyLaunchToken("s3cret", "1.2.3", token, 2001), console::LaunchTokenCheck::Expired);
  EXPECT_EQ(console::verifyLaunchToken("s3cret", "1.2.4", token, 1999), console::LaunchTokenCheck::BadSignature);
  EXPECT_EQ(console::verifyLaunchToken("s3cret", "1.2.3", "v1.abc.def", 1999), console::LaunchTokenCheck::Malformed);
  EXPECT_EQ(console::bearerToken("Bearer  abc "), "abc");
  EXPECT_EQ(console::bearerToken("Basic abc"), "");
}


// The interactive view's routes forward the query to the viewer backend (the
// node's viewer worker processes) after the console's own checks, and answer with
// what it says: its image and headers, its 400 naming a parameter, its 503 with
// Retry-After.
class RecordingViewer : public ViewerBackend {
 public:
  ViewerAnswer ask(const std::string& kind, const std::string& series_uid,
                   const std::map<std::string, std::string>& params) override {
    calls.push_back({kind, series_uid, params});
    return next;
  }
  struct Call {
    std::string kind, series_uid;
    std::map<std::string, std::string> params;
  };
  std::vector<Call> calls;
  ViewerAnswer next{200, "image/jpeg", std::string("\xFF\xD8 frame", 8), "", "", {{"X-Orientation-Letters", "R,L,H,F"}}};
};

TEST_F(ConsoleApi, InteractiveViewRequestsGoToTheViewerAfterTheConsolesChecks) {
  RecordingViewer viewer;
  startExposed([&](ConsoleConfig&, ConsoleContext& context) {
    context.viewer = &viewer;
    context.launch_secret = kLaunchSecret;
  });
  auto frame = getWithToken("/api/series/" + kSeries + "/view3d?azimuth=90&preset=ct-bone");
  EXPECT_EQ(frame.status, 200) << frame.body;
  EXPECT_EQ(frame.body, std::string("\xFF\xD8 frame", 8));
  EXPECT_EQ(frame.header("Content-Type"), "image/jpeg");
  EXPECT_EQ(frame.header("X-Orientation-Letters"), "R,L,H,F");
  EXPECT_EQ(frame.header("Cache-Control"), "no-store");
  ASSERT_EQ(viewer.calls.size(), 1u);
  EXPECT_EQ(viewer.calls[0].kind, "view3d");
  EXPECT_EQ(viewer.calls[0].series_uid, kSeries);
  EXPECT_EQ(viewer.calls[0].params, (std::map<std::string, std::string>{{"azimuth", "90"}, {"preset", "ct-bone"}}));

  // Refused before the viewer is asked: no token, a malformed or unknown series, a repeated parameter.
  EXPECT_EQ(get("/api/series/" + kSeries + "/view3d").status, 401);
  EXPECT_EQ(getWithToken("/api/series/1.2.x/slice").status, 400);
  EXPECT_EQ(getWithToken("/api/series/1.2.3.99/slice").status, 404);
  auto repeated = getWithToken("/api/series/" + kSeries + "/slice?plane=axial&plane=coronal");
  EXPECT_EQ(repeated.status, 400);
  EXPECT_EQ(nlohmann::json::parse(repeated.body).value("parameter", ""), "plane");
  EXPECT_EQ(viewer.calls.size(), 1u);

  // The viewer's refusals keep their status, parameter and headers.
  viewer.next = {400, "", "", "zoom: 0 is outside 0.25 .. 16", "zoom", {}};
  auto bad = getWithToken("/api/series/" + kSeries + "/view3d?zoom=0");
  EXPECT_EQ(bad.status, 400);
  auto body = nlohmann::json::parse(bad.body);
  EXPECT_EQ(body.value("parameter", ""), "zoom");
  EXPECT_EQ(body.value("status", 0), 400);
  viewer.next = {503, "", "", "all 2 viewer workers are busy", "", {{"Retry-After", "1"}}};
  auto busy = getWithToken("/api/series/" + kSeries + "/slice");
  EXPECT_EQ(busy.status, 503);
  EXPECT_EQ(busy.header("Retry-After"), "1");

  // A launch link for this study reaches its series' view; one for another study does not.
  viewer.next = ViewerAnswer{200, "image/png", "png", "", "", {}};
  const int64_t expires = static_cast<int64_t>(unixSecondsNow()) + 60;
  const std::string other_study = "1.2.4.1", other_series = "1.2.4.2";
  index->addInstance(instance("1.2.4.2.0", other_series, "other series", other_study));
  auto launched = get("/launch?studyUID=" + other_study + "&token=" + console::signLaunchToken(kLaunchSecret, other_study, expires));
  ASSERT_EQ(launched.status, 303);
  const httplib::Headers browser{{"Cookie", launched.header("Set-Cookie").substr(0, launched.header("Set-Cookie").find(';'))}};
  EXPECT_EQ(get("/api/series/" + other_series + "/slice", browser).status, 200);
  EXPECT_EQ(get("/api/series/" + kSeries + "/view3d", browser).status, 403);
  EXPECT_EQ(get("/api/series/" + kSeries + "/slice", browser).status, 403);
}

// The viewer's counts reach /metrics as the volnode_viewer_* families.
class CountingViewer : public RecordingViewer {
 public:
  ViewerStats stats() const override {
    ViewerStats s;
    s.max_sessions = 2;
    s.busy = 1;
    s.running = 2;
    s.answered["draft"] = {{0.05, 0.08}, {3, 5}, 6, 0.41};
    s.volume_source = {{"memory", 5}, {"disk", 1}};
    s.failed = {{503, 4}};
    s.refused_busy = 4;
    return s;
  }
};

TEST_F(ConsoleApi, MetricsCountTheInteractiveView) {
  CountingViewer viewer;
  startExposed([&](ConsoleConfig&, ConsoleContext& context) { context.viewer = &viewer; });
  auto r = get("/metrics");
  ASSERT_EQ(r.status, 200);
  for (const std::string line :
       {"volnode_viewer_sessions_max 2\n", "volnode_viewer_sessions_active 1\n",
        "volnode_viewer_frames_total{quality=\"draft\"} 6\n", "volnode_viewer_frames_total{quality=\"full\"} 0\n",
        "# TYPE volnode_viewer_frame_seconds histogram\n",
        "volnode_viewer_frame_seconds_bucket{quality=\"draft\",le=\"0.05\"} 3\n",
        "volnode_viewer_frame_seconds_bucket{quality=\"draft\",le=\"0.08\"} 5\n",
        "volnode_viewer_frame_seconds_bucket{quality=\"draft\",le=\"+Inf\"} 6\n",
        "volnode_viewer_frame_seconds_count{quality=\"draft\"} 6\n",
        "volnode_viewer_volume_cache_total{source=\"memory\"} 5\n",
        "volnode_viewer_volume_cache_total{source=\"assembled\"} 0\n", "volnode_viewer_refused_total 4\n",
        "volnode_viewer_errors_total{status=\"503\"} 4\n"})
    EXPECT_NE(r.body.find(line), std::string::npos) << line;
}

TEST_F(ConsoleApi, InteractiveViewWithoutViewerWorkersIs503) {
  start();
  auto r = get("/api/series/" + kSeries + "/view3d");
  EXPECT_EQ(r.status, 503);
}

}  // namespace
}  // namespace volnode
