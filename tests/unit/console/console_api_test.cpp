// The console's JSON API, metrics, launch URL and file endpoints against a real
// ConsoleServer on a free port, a temporary index and a fake NodeActions.
#include <fstream>
#include <mutex>
#include <set>

#include <gtest/gtest.h>
#include <httplib.h>
#include <nlohmann/json.hpp>

#include "../../../console/src/auth.hpp"
#include "support/process.hpp"
#include "volnode/console/console_server.hpp"
#include "volnode/core/clock.hpp"
#include "volnode/core/error.hpp"
#include "volnode/storage/index.hpp"
#include "volnode/storage/job_queue.hpp"

namespace volnode {
namespace {

using nlohmann::json;

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
            {"archive", "ARCH", "10.0.0.6", 11112, false, "2026-01-01T00:00:00.000Z", "connection refused"}};
  }
  std::mutex mutex;
  std::vector<std::string> calls;
  int wakes = 0;
  OnDemandResult next{true, 202, "render queued", {7}, ""};
};

NewInstance instance(const std::string& sop_uid, const std::string& series_uid, const std::string& description) {
  NewInstance n;
  n.attributes.patient_id = "P1";
  n.attributes.patient_name = "Doe^Jane";
  n.attributes.study_uid = kStudy;
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
    index = std::make_unique<Index>(dir / "index.sqlite");
    jobs = std::make_unique<JobQueue>(dir / "index.sqlite");
    for (int i = 0; i < 3; ++i) index->addInstance(instance("1.2.3.2." + std::to_string(i), kSeries, kXss));
    index->setSeriesState(kSeries, "complete", "quiet 2 s");
  }

  void start(const std::string& token = "secret-token", bool with_actions = true, const std::string& launch_secret = "") {
    ConsoleConfig config;
    config.port = 0;
    config.token = token;
    ConsoleContext context{config, *index, *jobs, [] {
                             HealthReport h;
                             h.version = "test";
                             h.dicom_listening = true;
                             h.dicom_aet = "VOLNODE";
                             h.disk_free_mb = 5000;
                             h.min_free_mb = 100;
                             h.render_workers = 1;
                             return h;
                           }};
    context.actions = with_actions ? &actions : nullptr;
    context.results_root = dir / "results";
    context.effective_config_toml = "[console]\ntoken = \"***\"\n";
    context.rules_json = R"([{"name": "ct-bundle"}])";
    context.presets_json = R"({"ct-bone": {}})";
    context.launch_secret = launch_secret;
    server = std::make_unique<ConsoleServer>(std::move(context));
    server->start();
  }

  Reply get(const std::string& path) {
    httplib::Client client("127.0.0.1", server->port());
    auto r = client.Get(path.c_str());
    if (!r) return {};
    return {r->status, r->body, r->headers};
  }

  Reply post(const std::string& path, const std::string& token = "", const std::string& body = "") {
    httplib::Client client("127.0.0.1", server->port());
    httplib::Headers headers;
    if (!token.empty()) headers.emplace("Authorization", "Bearer " + token);
    auto r = client.Post(path.c_str(), headers, body, "application/json");
    if (!r) return {};
    return {r->status, r->body, r->headers};
  }

  // A succeeded render job with its files, as the render worker leaves them.
  int64_t renderedJob() {
    int64_t id = jobs->enqueue({"render", kStudy, kSeries, "ct-bundle"});
    EXPECT_TRUE(jobs->claimNext({"render"}, "w", 60));
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
    jobs->succeed(id);
    index->setSeriesState(kSeries, "done", "2 objects rendered in 3 s (64x64x3, 0.50x0.50x1.00 mm)");
    return id;
  }

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
  int64_t queued = jobs->enqueue({"send", kStudy, kSeries, "ct-bundle", "pacs"});
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

TEST_F(ConsoleApi, MutationsNeedTheBearerToken) {
  start();
  int64_t id = jobs->enqueue({"render", kStudy, kSeries, "ct-bundle"});
  for (const std::string& path : std::vector<std::string>{"/api/jobs/" + std::to_string(id) + "/cancel", "/api/jobs/" + std::to_string(id) + "/retry",
                                 "/api/studies/" + kStudy + "/render", "/api/series/" + kSeries + "/render",
                                 std::string("/api/launch-tokens")}) {
    auto missing = post(path);
    EXPECT_EQ(missing.status, 401) << path;
    EXPECT_TRUE(missing.parsed().contains("error")) << path;
    EXPECT_EQ(post(path, "wrong-token").status, 401) << path;
  }
  EXPECT_EQ(jobs->get(id)->state, "queued");
  EXPECT_TRUE(actions.calls.empty());
}

TEST_F(ConsoleApi, MutationsAreDisabledWithoutAConfiguredToken) {
  start("");
  int64_t id = jobs->enqueue({"render", kStudy, kSeries, "ct-bundle"});
  auto r = post("/api/jobs/" + std::to_string(id) + "/cancel", "anything");
  EXPECT_EQ(r.status, 403);
  EXPECT_TRUE(r.parsed().contains("error"));
  EXPECT_EQ(post("/api/studies/" + kStudy + "/render").status, 403);
  EXPECT_EQ(jobs->get(id)->state, "queued");
}

TEST_F(ConsoleApi, CancelAndRetryChangeTheJobAndWakeTheWorkers) {
  start();
  int64_t id = jobs->enqueue({"render", kStudy, kSeries, "ct-bundle"});
  auto path = "/api/jobs/" + std::to_string(id);
  EXPECT_EQ(post(path + "/retry", "secret-token").status, 409);  // queued: nothing to retry
  auto canceled = post(path + "/cancel", "secret-token");
  ASSERT_EQ(canceled.status, 200);
  EXPECT_EQ(canceled.parsed()["state"], "canceled");
  auto retried = post(path + "/retry", "secret-token");
  ASSERT_EQ(retried.status, 200);
  EXPECT_EQ(retried.parsed()["state"], "queued");
  EXPECT_EQ(actions.wakes, 2);
  EXPECT_EQ(post("/api/jobs/999/cancel", "secret-token").status, 404);
}

TEST_F(ConsoleApi, OnDemandRenderPassesSourceAndRule) {
  start();
  auto r = post("/api/studies/" + kStudy + "/render", "secret-token", R"({"source": "pacs", "rule": "ct-bundle"})");
  ASSERT_EQ(r.status, 202);
  EXPECT_EQ(r.parsed()["job_ids"], json({7}));
  EXPECT_EQ(post("/api/series/" + kSeries + "/render", "secret-token").status, 202);
  ASSERT_EQ(actions.calls.size(), 2u);
  EXPECT_EQ(actions.calls[0], "study " + kStudy + " source=pacs rule=ct-bundle");
  EXPECT_EQ(actions.calls[1], "series " + kSeries + " source= rule=");
  EXPECT_EQ(post("/api/studies/" + kStudy + "/render", "secret-token", "not json").status, 400);
  EXPECT_EQ(post("/api/studies/" + kStudy + "/render", "secret-token", R"({"rule": 5})").status, 400);
  actions.next = {false, 404, "study 9.9 is not held and no source knows it", {}, "failed"};
  auto refused = post("/api/studies/9.9/render", "secret-token");
  EXPECT_EQ(refused.status, 404);
  EXPECT_EQ(refused.parsed()["error"], "study 9.9 is not held and no source knows it");
}

TEST_F(ConsoleApi, OnDemandSeriesRenderSaysWhichStudyAndWhereToFollowIt) {
  start();
  actions.next = {true, 202, "retrieving series 1.2.3.2 from pacs", {}, "retrieving", kStudy};
  auto r = post("/api/series/" + kSeries + "/render", "secret-token", R"({"source": "pacs"})");
  ASSERT_EQ(r.status, 202) << r.body;
  auto body = r.parsed();
  EXPECT_EQ(body["retrieve_state"], "retrieving");
  EXPECT_EQ(body["job_ids"], json::array());
  EXPECT_EQ(body["StudyInstanceUID"], kStudy);
  EXPECT_EQ(body["SeriesInstanceUID"], kSeries);
  EXPECT_EQ(body["progress_url"], "/api/series/" + kSeries);
  EXPECT_EQ(body["viewer_url"], "/view/" + kStudy);
  auto study = post("/api/studies/" + kStudy + "/render", "secret-token").parsed();
  EXPECT_EQ(study["progress_url"], "/api/studies/" + kStudy + "/results");
  EXPECT_EQ(study["viewer_url"], "/view/" + kStudy);

  // Not a UID: refused before anything is asked of the node or a PACS.
  const size_t calls = actions.calls.size();
  EXPECT_EQ(post("/api/series/not-a-uid/render", "secret-token").status, 400);
  EXPECT_EQ(post("/api/studies/1.2.3.x/render", "secret-token").status, 400);
  EXPECT_EQ(actions.calls.size(), calls);

  actions.next = {false, 404, "series 9.9 is neither held here nor known to pacs", {}, "", ""};
  auto unknown = post("/api/series/9.9/render", "secret-token");
  EXPECT_EQ(unknown.status, 404);
  EXPECT_EQ(unknown.parsed()["error"], "series 9.9 is neither held here nor known to pacs");
  EXPECT_FALSE(unknown.parsed().contains("progress_url"));
}

TEST_F(ConsoleApi, OnDemandRenderWithoutActionsIsUnavailable) {
  start("secret-token", false);
  EXPECT_EQ(post("/api/studies/" + kStudy + "/render", "secret-token").status, 503);
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
  auto last = body["events"].back();
  EXPECT_EQ(last["job_id"], id);
  EXPECT_NE(last["message"].get<std::string>().find("pacs acknowledged 2"), std::string::npos);
  EXPECT_EQ(get("/api/studies/9.9/timeline").status, 404);
}

TEST_F(ConsoleApi, DashboardHasCountersErrorsAndThroughput) {
  start();
  int64_t failed = jobs->enqueue({"send", kStudy, kSeries, "ct-bundle", "pacs", "{}", 0, 1});
  jobs->claimNext({"send"}, "w", 60);
  jobs->fail(failed, "C-STORE to PACS@10.0.0.5:104 failed: association rejected", 1);
  index->setSeriesState(kSeries, "refused", "not a volume: 3 single frames without geometry");
  auto body = get("/api/dashboard").parsed();
  EXPECT_EQ(body["jobs"]["failed"], 1);
  EXPECT_EQ(body["throughput"]["minutes"].size(), 60u);
  EXPECT_EQ(body["throughput"]["instances_last_hour"], 3);
  ASSERT_GE(body["errors"].size(), 2u);
  std::set<std::string> kinds;
  for (const auto& e : body["errors"]) kinds.insert(e["what"]);
  EXPECT_TRUE(kinds.count("job") && kinds.count("series"));
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

TEST_F(ConsoleApi, LaunchAcceptsTheConsoleTokenOrASignedTokenAndRendersWhenNeeded) {
  start("secret-token", true, "launch-secret");
  httplib::Client client("127.0.0.1", server->port());
  auto launch = [&](const std::string& study, const std::string& token) {
    auto r = client.Get(("/launch?studyUID=" + study + "&token=" + token).c_str());
    return r ? std::make_pair(r->status, r->get_header_value("Location")) : std::make_pair(0, std::string());
  };
  // No results yet: the render is requested and the browser goes to the viewer.
  auto first = launch(kStudy, "secret-token");
  EXPECT_EQ(first.first, 303);
  EXPECT_EQ(first.second, "/view/" + kStudy);
  ASSERT_EQ(actions.calls.size(), 1u);
  renderedJob();
  int64_t expires = static_cast<int64_t>(unixSecondsNow()) + 60;
  auto signed_ok = launch(kStudy, console::signLaunchToken("launch-secret", kStudy, expires));
  EXPECT_EQ(signed_ok.first, 303);
  EXPECT_EQ(actions.calls.size(), 1u);  // results exist: no new render
  EXPECT_EQ(launch(kStudy, console::signLaunchToken("launch-secret", "1.2.3.99", expires)).first, 401);
  EXPECT_EQ(launch(kStudy, console::signLaunchToken("other", kStudy, expires)).first, 401);
  EXPECT_EQ(launch(kStudy, console::signLaunchToken("launch-secret", kStudy, expires - 120)).first, 401);
  EXPECT_EQ(launch(kStudy, "").first, 401);
  EXPECT_EQ(launch("%3Cscript%3E", "secret-token").first, 400);
  // The API mints signed tokens for a PACS that holds the console token.
  auto minted = post("/api/launch-tokens", "secret-token", R"({"studyUID": ")" + kStudy + R"(", "ttl_s": 60})");
  ASSERT_EQ(minted.status, 201);
  auto url = minted.parsed()["url"].get<std::string>();
  auto r = client.Get(url.c_str());
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 303);
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

TEST(ConsoleAuth, SignedLaunchTokensAreBoundToStudyAndTime) {
  auto token = console::signLaunchToken("s3cret", "1.2.3", 2000);
  EXPECT_EQ(console::verifyLaunchToken("s3cret", "1.2.3", token, 1999), console::LaunchTokenCheck::Valid);
  EXPECT_EQ(console::verifyLaunchToken("s3cret", "1.2.3", token, 2001), console::LaunchTokenCheck::Expired);
  EXPECT_EQ(console::verifyLaunchToken("s3cret", "1.2.4", token, 1999), console::LaunchTokenCheck::BadSignature);
  EXPECT_EQ(console::verifyLaunchToken("s3cret", "1.2.3", "v1.abc.def", 1999), console::LaunchTokenCheck::Malformed);
  EXPECT_EQ(console::bearerToken("Bearer  abc "), "abc");
  EXPECT_EQ(console::bearerToken("Basic abc"), "");
}

}  // namespace
}  // namespace volnode
