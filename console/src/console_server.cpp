#include "volnode/console/console_server.hpp"

#include <chrono>
#include <fstream>
#include <mutex>
#include <regex>
#include <set>
#include <thread>

#include <httplib.h>
#include <nlohmann/json.hpp>

#include "access.hpp"
#include "auth.hpp"
#include "console_db.hpp"
#include "json_views.hpp"
#include "metrics.hpp"
#include "results.hpp"
#include "volnode/core/clock.hpp"
#include "volnode/core/error.hpp"
#include "volnode/core/files.hpp"
#include "volnode/core/logging.hpp"

#ifndef VOLNODE_CONSOLE_WEB_DIR
#define VOLNODE_CONSOLE_WEB_DIR ""
#endif

namespace volnode {
namespace {

using console::ConsoleDb;

void sendJson(httplib::Response& response, const nlohmann::json& body, int status = 200) {
  response.status = status;
  response.set_header("Cache-Control", "no-store");
  // error_handler_t::replace: text from DICOM data that is not valid UTF-8 never breaks a response.
  response.set_content(body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace), "application/json");
}

void sendError(httplib::Response& response, int status, const std::string& message) {
  sendJson(response, {{"error", message}, {"status", status}}, status);
}

int intParam(const httplib::Request& request, const std::string& name, int fallback, int min, int max) {
  if (!request.has_param(name)) return fallback;
  const std::string text = request.get_param_value(name);
  try {
    size_t used = 0;
    int value = std::stoi(text, &used);
    if (used != text.size() || value < min || value > max) throw std::out_of_range(name);
    return value;
  } catch (const std::exception&) {
    throw Error(Errc::InvalidArgument,
                "query parameter '" + name + "' must be an integer in " + std::to_string(min) + ".." + std::to_string(max));
  }
}

std::string oneOfParam(const httplib::Request& request, const std::string& name, const std::set<std::string>& allowed) {
  std::string value = request.get_param_value(name);
  if (value.empty() || allowed.count(value)) return value;
  std::string list;
  for (const auto& a : allowed) list += (list.empty() ? "" : ", ") + a;
  throw Error(Errc::InvalidArgument, "query parameter '" + name + "' must be one of: " + list);
}

int64_t jobIdOf(const std::string& text) {
  try {
    size_t used = 0;
    long long id = std::stoll(text, &used);
    if (used == text.size() && id > 0) return id;
  } catch (const std::exception&) {
  }
  throw Error(Errc::InvalidArgument, "job id must be a positive integer");
}

// Streams a file (results can be tens of MB) instead of reading it whole.
void sendFile(httplib::Response& res, const std::filesystem::path& path, const std::string& content_type,
              const std::string& download_name) {
  std::error_code ec;
  auto size = std::filesystem::file_size(path, ec);
  if (ec || !std::filesystem::is_regular_file(path, ec)) return sendError(res, 404, "result file is not on disk");
  auto in = std::make_shared<std::ifstream>(path, std::ios::binary);
  if (!*in) return sendError(res, 404, "result file cannot be read");
  res.status = 200;
  res.set_header("Cache-Control", "private, max-age=60");
  if (!download_name.empty())
    res.set_header("Content-Disposition", "attachment; filename=\"" + download_name + "\"");
  res.set_content_provider(static_cast<size_t>(size), content_type,
                           [in](size_t offset, size_t length, httplib::DataSink& sink) {
                             char buffer[64 * 1024];
                             in->seekg(static_cast<std::streamoff>(offset));
                             size_t n = std::min(length, sizeof buffer);
                             in->read(buffer, static_cast<std::streamsize>(n));
                             auto got = static_cast<size_t>(in->gcount());
                             if (got == 0) return false;
                             return sink.write(buffer, got);
                           });
}

std::string htmlEscape(const std::string& text) {
  std::string out;
  for (char c : text) {
    switch (c) {
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '&': out += "&amp;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return out;
}

void sendHtmlMessage(httplib::Response& res, int status, const std::string& title, const std::string& message) {
  res.status = status;
  res.set_header("Cache-Control", "no-store");
  res.set_header("Content-Security-Policy", "default-src 'none'; style-src 'self'");
  res.set_content("<!doctype html><html><head><meta charset=\"utf-8\"><title>volnode: " + htmlEscape(title) +
                      "</title><link rel=\"stylesheet\" href=\"/assets/console.css\"></head><body><main><h1>" +
                      htmlEscape(title) + "</h1><p>" + htmlEscape(message) + "</p><p><a href=\"/\">Dashboard</a></p>"
                      "</main></body></html>",
                  "text/html; charset=utf-8");
}

// The hashes of a page's inline <script> blocks (only the import map), so the
// Content-Security-Policy can forbid every other inline script.
std::string inlineScriptHashes(const std::string& html) {
  std::string hashes;
  size_t at = 0;
  while ((at = html.find("<script", at)) != std::string::npos) {
    size_t open_end = html.find('>', at);
    if (open_end == std::string::npos) break;
    std::string tag = html.substr(at, open_end - at);
    size_t close = html.find("</script>", open_end);
    if (close == std::string::npos) break;
    if (tag.find(" src=") == std::string::npos)
      hashes += " 'sha256-" + console::sha256Base64(std::string_view(html).substr(open_end + 1, close - open_end - 1)) + "'";
    at = close;
  }
  return hashes;
}

std::string minuteKey(std::chrono::system_clock::time_point t) { return isoUtc(t).substr(0, 16); }

// The cookie of a launch session (reads of the launched studies only).
constexpr const char* kSessionCookie = "volnode_launch";
// Shortest console.token / launch secret accepted.
constexpr size_t kMinSecretLength = 16;

const std::set<std::string> kJobStates{"queued", "running", "succeeded", "failed", "retry", "canceled"};
const std::set<std::string> kJobKinds{"route", "render", "send", "retrieve"};

// A route or render job still to finish: the study's results are on their way.
bool producesResults(const Job& job) { return job.kind != JobKind::Send && isActive(job.state); }

}  // namespace

struct ConsoleServer::Impl {
  ConsoleContext context;
  ConsoleConfig& config = context.config;
  Index& index = context.index;
  JobQueue& jobs = context.jobs;
  std::unique_ptr<httplib::Server> server;
  std::unique_ptr<ConsoleDb> db;
  std::filesystem::path web_root;
  std::thread thread;
  int bound_port = 0;
  std::shared_ptr<spdlog::logger> log = moduleLogger("console");

  std::mutex throughput_mutex;
  std::chrono::steady_clock::time_point throughput_at{};
  nlohmann::json throughput_cache;

  console::HostCheck host_check;
  console::FailedAuthLimiter auth_failures;
  console::LaunchSessions sessions;
  // Beyond loopback, or console.read_requires_token: reads of patient data need the
  // token or a launch session.
  bool reads_need_token;
  bool tls;

  explicit Impl(ConsoleContext c)
      : context(std::move(c)),
        host_check(context.config.bind, context.config.allowed_hosts),
        auth_failures(context.auth_max_failures, context.auth_failure_window, context.auth_block),
        sessions(context.launch_session),
        reads_need_token(!console::isLoopbackBind(context.config.bind) || context.config.read_requires_token),
        tls(!context.tls_cert_file.empty() || !context.tls_key_file.empty()) {
    web_root = context.web_root.empty() ? std::filesystem::path(VOLNODE_CONSOLE_WEB_DIR) : context.web_root;
    db = std::make_unique<ConsoleDb>(index.path());
    if (tls) {
      if (context.tls_cert_file.empty() || context.tls_key_file.empty())
        throw Error(Errc::InvalidConfig, "console TLS needs both a certificate and a key file");
      auto ssl = std::make_unique<httplib::SSLServer>(context.tls_cert_file.c_str(), context.tls_key_file.c_str());
      if (!ssl->is_valid())
        throw Error(Errc::InvalidConfig, "console TLS: cannot load certificate " + context.tls_cert_file.string() +
                                             " and key " + context.tls_key_file.string());
      server = std::move(ssl);
    } else {
      server = std::make_unique<httplib::Server>();
    }
  }

  HealthReport healthNow() const { return context.health ? context.health() : HealthReport{}; }

  std::vector<DestinationStatus> destinationsNow() const {
    return context.actions ? context.actions->destinations() : std::vector<DestinationStatus>{};
  }

  // A wrong token was presented (bearer or launch): counted per client address; the
  // failure that blocks the address is logged at warn.
  void failedAuthentication(const httplib::Request& req, const char* what) {
    log->info("{} from {} ({} {})", what, req.remote_addr, req.method, req.path);
    if (auth_failures.fail(req.remote_addr, std::chrono::steady_clock::now()))
      log->warn("{} failed authentications from {} within {} s: its requests with a token are answered 429 for {} s",
                auth_failures.maxFailures(), req.remote_addr, context.auth_failure_window.count(),
                context.auth_block.count());
  }

  void sendUnauthorized(httplib::Response& res, const std::string& message) {
    res.set_header("WWW-Authenticate", "Bearer realm=\"volnode\"");
    sendError(res, 401, message);
  }

  // Mutations need "Authorization: Bearer <console.token>"; none configured: disabled.
  bool authorized(const httplib::Request& req, httplib::Response& res) {
    if (config.token.empty()) {
      sendError(res, 403, "mutating calls are disabled: no console.token is configured");
      return false;
    }
    std::string given = console::bearerToken(req.get_header_value("Authorization"));
    if (given.empty() || !console::constantTimeEquals(given, config.token)) {
      if (!given.empty()) failedAuthentication(req, "wrong bearer token");
      sendUnauthorized(res, given.empty() ? "this call needs Authorization: Bearer <console token>"
                                          : "the bearer token is not the console token");
      return false;
    }
    return true;
  }

  // The study a read of patient data concerns, "" when it is not about one study
  // (lists, the dashboard, settings): what a launch session may read.
  std::string studyOfRead(const httplib::Request& req) {
    static const std::regex study_path(R"(/api/studies/([^/]+)(/results|/timeline)?)");
    static const std::regex series_path(R"(/api/series/([^/]+)(/results)?)");
    static const std::regex job_path(R"(/api/jobs/([0-9]{1,18})(/files/.*)?)");
    std::smatch m;
    if (std::regex_match(req.path, m, study_path)) return m[1];
    if (std::regex_match(req.path, m, series_path)) {
      auto series = index.series(m[1]);
      return series ? series->study_uid : "";
    }
    if (std::regex_match(req.path, m, job_path)) {
      auto job = jobs.get(std::stoll(m[1]));
      return job ? job->study_uid : "";
    }
    if (req.path == "/api/jobs") return req.get_param_value("study");
    return "";
  }

  // Reads under /api (all but /api/health, which holds no patient data) when reads
  // need a token: the console token as bearer, or a launch session for its studies.
  bool readAllowed(const httplib::Request& req, httplib::Response& res) {
    std::string given = console::bearerToken(req.get_header_value("Authorization"));
    if (!given.empty()) {
      if (console::constantTimeEquals(given, config.token)) return true;
      failedAuthentication(req, "wrong bearer token");
      sendUnauthorized(res, "the bearer token is not the console token");
      return false;
    }
    const auto now = std::chrono::steady_clock::now();
    std::string session = console::cookieValue(req.get_header_value("Cookie"), kSessionCookie);
    if (sessions.valid(session, now)) {
      if (sessions.allows(session, studyOfRead(req), now)) return true;
      sendUnauthorized(res, "the launch link opened other studies only; this read needs Authorization: Bearer "
                            "<console token>");
      return false;
    }
    sendUnauthorized(res, "reading patient data needs Authorization: Bearer <console token> (or a launch link "
                          "from the PACS for one study)");
    return false;
  }

  // Before routing (and before any request body is read): the Host header, the
  // lock-out after failed authentications, the token for reads.
  httplib::Server::HandlerResponse checkAccess(const httplib::Request& req, httplib::Response& res) {
    const std::string host = req.get_header_value("Host");
    if (!host_check.allows(host)) {
      log->debug("refused Host '{}' from {}", host.substr(0, 100), req.remote_addr);
      sendError(res, 421,
                "this console does not answer to the host name '" + host.substr(0, 100) +
                    "'; if browsers reach it under that name, add the name to console.allowed_hosts");
      return httplib::Server::HandlerResponse::Handled;
    }
    if (req.has_header("Authorization") || req.path == "/launch") {
      int wait = auth_failures.blockedFor(req.remote_addr, std::chrono::steady_clock::now());
      if (wait > 0) {
        res.set_header("Retry-After", std::to_string(wait));
        const std::string message = "too many failed authentications from this address; try again in " +
                                    std::to_string(wait) + " s";
        if (req.path == "/launch") sendHtmlMessage(res, 429, "Too many attempts", message);
        else sendError(res, 429, message);
        return httplib::Server::HandlerResponse::Handled;
      }
    }
    const bool api_read = (req.method == "GET" || req.method == "HEAD") && req.path.rfind("/api/", 0) == 0 &&
                          req.path != "/api/health";
    if (reads_need_token && api_read && !readAllowed(req, res)) return httplib::Server::HandlerResponse::Handled;
    return httplib::Server::HandlerResponse::Unhandled;
  }

  nlohmann::json healthJson() {
    auto h = healthNow();
    nlohmann::json body = toJson(h, index.counts());
    nlohmann::json dests = nlohmann::json::array();
    bool all_reachable = true;
    for (const auto& d : destinationsNow()) {
      dests.push_back(toJson(d));
      all_reachable = all_reachable && d.reachable;
    }
    body["destinations"] = dests;
    body["destinations_reachable"] = all_reachable;
    return body;
  }

  nlohmann::json jobCounts() {
    nlohmann::json counts = nlohmann::json::object();
    for (const auto& state : kJobStates) counts[state] = 0;
    for (const auto& [state, n] : jobs.countsByState()) counts[state] = n;
    return counts;
  }

  // Per minute over the last hour (60 buckets, zeros included); cached for 5 s so
  // every open dashboard polling does not rescan the instances table.
  nlohmann::json throughput() {
    std::lock_guard lock(throughput_mutex);
    auto now_steady = std::chrono::steady_clock::now();
    if (!throughput_cache.is_null() && now_steady - throughput_at < std::chrono::seconds(5)) return throughput_cache;
    auto now = std::chrono::system_clock::now();
    auto first = now - std::chrono::minutes(59);
    std::map<std::string, console::ThroughputMinute> found;
    for (auto& m : db->throughputSince(minuteKey(first))) found[m.minute] = m;
    nlohmann::json minutes = nlohmann::json::array();
    int64_t instances = 0;
    for (int i = 0; i < 60; ++i) {
      std::string key = minuteKey(first + std::chrono::minutes(i));
      auto it = found.find(key);
      console::ThroughputMinute m = it == found.end() ? console::ThroughputMinute{} : it->second;
      instances += m.instances;
      minutes.push_back({{"minute", key}, {"instances", m.instances}, {"bytes", m.bytes}, {"renders", m.renders},
                         {"sends", m.sends}});
    }
    throughput_cache = {{"minutes", minutes}, {"instances_last_hour", instances}};
    throughput_at = now_steady;
    return throughput_cache;
  }

  nlohmann::json errorsJson(int limit) {
    nlohmann::json out = nlohmann::json::array();
    for (const auto& e : db->recentErrors(limit))
      out.push_back({{"at", e.at}, {"what", e.what}, {"reason", e.reason}, {"job_id", e.job_id},
                     {"job_kind", e.job_kind}, {"StudyInstanceUID", e.study_uid}, {"SeriesInstanceUID", e.series_uid},
                     {"destination", e.destination}, {"peer", e.peer}});
    return out;
  }

  // The latest succeeded render of a series, or null.
  nlohmann::json seriesResults(const std::string& series_uid) {
    auto outputs = jobs.outputsOfSeries(series_uid);
    int64_t job_id = outputs.empty() ? db->latestRenderJob(series_uid) : outputs.front().job_id;
    if (job_id == 0) return nullptr;
    auto body = console::renderResultsJson(context.results_root, job_id, outputs);
    if (auto job = jobs.get(job_id)) {
      body["rule"] = job->rule;
      body["finished_at"] = job->finished_at;
    }
    return body;
  }

  nlohmann::json studyResults(const std::string& study_uid) {
    nlohmann::json series = nlohmann::json::array();
    for (const auto& s : index.seriesOfStudy(study_uid)) {
      auto results = seriesResults(s.series_uid);
      if (results.is_null()) continue;
      results["SeriesInstanceUID"] = s.series_uid;
      results["SeriesDescription"] = s.series_description;
      results["Modality"] = s.modality;
      series.push_back(results);
    }
    return series;
  }

  // The volume as the last render built it, from the "done" transition's reason
  // ("... (512x512x120, 0.70x0.70x2.50 mm...)"), and the acquisition from the first instance.
  nlohmann::json geometry(const std::string& series_uid, const std::vector<SeriesTransition>& transitions) {
    nlohmann::json g = nlohmann::json::object();
    if (auto first = index.firstInstanceAttributes(series_uid)) {
      g["acquisition"] = {{"Rows", first->rows.value_or(0)},
                          {"Columns", first->columns.value_or(0)},
                          {"NumberOfFrames", first->number_of_frames.value_or(1)},
                          {"PixelSpacing", first->pixel_spacing},
                          {"SliceThickness", first->slice_thickness},
                          {"ImageOrientationPatient", first->image_orientation}};
    }
    static const std::regex volume(R"((\d+)x(\d+)x(\d+), ([0-9.]+)x([0-9.]+)x([0-9.]+) mm)");
    for (auto it = transitions.rbegin(); it != transitions.rend(); ++it) {
      std::smatch m;
      if (it->state == "done" && std::regex_search(it->reason, m, volume)) {
        g["volume"] = {{"dimensions", {std::stoi(m[1]), std::stoi(m[2]), std::stoi(m[3])}},
                       {"spacing_mm", {std::stod(m[4]), std::stod(m[5]), std::stod(m[6])}}};
        break;
      }
    }
    return g;
  }

  nlohmann::json timeline(const std::string& study_uid) {
    nlohmann::json events = nlohmann::json::array();
    auto add = [&](const std::string& at, const std::string& milestone, const std::string& source,
                   const std::string& series_uid, int64_t job_id, const std::string& state, const std::string& text) {
      events.push_back({{"at", at}, {"milestone", milestone}, {"source", source}, {"SeriesInstanceUID", series_uid},
                        {"job_id", job_id}, {"state", state}, {"message", text}});
    };
    for (const auto& s : index.seriesOfStudy(study_uid)) {
      bool first = true;
      for (const auto& t : index.seriesTransitions(s.series_uid)) {
        std::string milestone = first && t.state == "receiving" ? "first_instance"
                                : t.state == "complete"          ? "complete"
                                : t.state == "done"              ? "rendered"
                                : t.state == "refused" || t.state == "failed" ? "failed"
                                                                               : "";
        add(t.at, milestone, "series", s.series_uid, 0, t.state, t.reason);
        first = false;
      }
    }
    JobFilter filter;
    filter.study_uid = study_uid;
    filter.limit = 200;
    for (const auto& job : jobs.list(filter))
      for (const auto& e : jobs.events(job.id)) {
        std::string text = std::string(toString(job.kind)) + (job.destination.empty() ? "" : " to " + job.destination) +
                           (e.message.empty() ? "" : ": " + e.message);
        add(e.at, e.state == "failed" ? "failed" : "", "job", job.series_uid, job.id, e.state, text);
      }
    // One entry per destination and render: when the last object was acknowledged.
    std::map<std::pair<std::string, int64_t>, std::pair<std::string, int>> acknowledged;
    for (const auto& d : db->deliveriesOfStudy(study_uid)) {
      auto& entry = acknowledged[{d.destination, d.job_id}];
      entry.first = std::max(entry.first, d.at);
      entry.second++;
    }
    for (const auto& [key, value] : acknowledged)
      add(value.first, "acknowledged", "delivery", "", key.second, "acknowledged",
          key.first + " acknowledged " + std::to_string(value.second) + " object(s) of render job " +
              std::to_string(key.second));
    std::stable_sort(events.begin(), events.end(),
                     [](const nlohmann::json& a, const nlohmann::json& b) { return a["at"] < b["at"]; });
    return events;
  }

  void sendPage(httplib::Response& res, const std::string& name) {
    std::string html;
    try {
      html = readFile(web_root / name);
    } catch (const Error&) {
      // reported below as a missing page
    }
    if (html.empty())
      return sendHtmlMessage(res, 500, "Console pages missing",
                             "The console's web files were not found (" + name + "); check the installation.");
    res.status = 200;
    res.set_header("Cache-Control", "no-store");
    res.set_header("Content-Security-Policy",
                   "default-src 'self'; script-src 'self'" + inlineScriptHashes(html) +
                       "; style-src 'self'; img-src 'self' data: blob:; connect-src 'self'; object-src 'none'; "
                       "base-uri 'none'; form-action 'self'");
    res.set_content(html, "text/html; charset=utf-8");
  }

  void launch(const httplib::Request& req, httplib::Response& res) {
    const std::string study_uid = req.get_param_value("studyUID");
    const std::string token = req.get_param_value("token");
    if (!console::isDicomUid(study_uid))
      return sendHtmlMessage(res, 400, "Cannot open the study", "studyUID must be a DICOM UID (digits and dots).");
    if (context.launch_secret.empty())
      return sendHtmlMessage(res, 403, "Launch is disabled",
                             "No console.launch_secret is configured on this node, so there are no launch links.");
    // The console token never goes into a URL: it would stay in the browser's history
    // and in proxy logs. Only signed, expiring launch tokens open a study.
    if (!config.token.empty() && console::constantTimeEquals(token, config.token)) {
      log->warn("launch from {}: refused the console token in the URL (only signed launch tokens are accepted)",
                req.remote_addr);
      return sendHtmlMessage(res, 401, "Not allowed",
                             "The console token is not accepted in a link. Ask the PACS for a signed launch link "
                             "(see docs/api.md, Launching from a PACS).");
    }
    auto check = console::verifyLaunchToken(context.launch_secret, study_uid, token,
                                            static_cast<int64_t>(unixSecondsNow()));
    if (check == console::LaunchTokenCheck::Expired)
      return sendHtmlMessage(res, 401, "Link expired", "This launch link has expired; open it again from the PACS.");
    if (check != console::LaunchTokenCheck::Valid) {
      if (!token.empty()) failedAuthentication(req, "wrong launch token");
      return sendHtmlMessage(res, 401, "Not allowed", "The launch token is missing or not valid.");
    }
    // The browser that followed the link may read this study (and those it launched
    // before) for a while: an HttpOnly, SameSite=Strict cookie, Secure over HTTPS.
    std::string session = sessions.open(console::cookieValue(req.get_header_value("Cookie"), kSessionCookie), study_uid,
                                        std::chrono::steady_clock::now());
    res.set_header("Set-Cookie", std::string(kSessionCookie) + "=" + session + "; Path=/; Max-Age=" +
                                     std::to_string(context.launch_session.count()) + "; HttpOnly; SameSite=Strict" +
                                     (tls ? "; Secure" : ""));

    const std::string viewer = "/view/" + study_uid;
    if (!studyResults(study_uid).empty()) return res.set_redirect(viewer, 303);
    JobFilter filter;
    filter.study_uid = study_uid;
    filter.limit = 50;
    for (const auto& job : jobs.list(filter))
      if (producesResults(job)) return res.set_redirect(viewer, 303);
    if (!context.actions)
      return sendHtmlMessage(res, 503, "Cannot render", "On-demand rendering is not available on this node.");
    auto result = context.actions->renderStudy(study_uid, "", "");
    log->info("launch: study {} render requested: {} ({})", study_uid, result.accepted ? "accepted" : "refused",
              result.message);
    if (!result.accepted && result.status >= 400)
      return sendHtmlMessage(res, result.status, "Cannot render the study", result.message);
    res.set_redirect(viewer, 303);
  }

  // 404 for a study not held, with the state of its retrieval when one was asked for:
  // the viewer opened by a launch link waits on this and shows a failed C-MOVE.
  void sendStudyNotHeld(httplib::Response& res, const std::string& uid) {
    nlohmann::json body{{"error", "no study with StudyInstanceUID " + uid}};
    if (auto retrieval = context.actions ? context.actions->retrievalOf(uid) : std::nullopt) {
      body["retrieve"] = {{"state", retrieval->state}, {"source", retrieval->source}, {"message", retrieval->message}};
      if (retrieval->state == "failed")
        body["error"] = "study " + uid + " is not held here: retrieving it from " + retrieval->source +
                        " failed: " + retrieval->message;
      else if (retrieval->state == "retrieving")
        body["error"] = "study " + uid + " is being retrieved from " + retrieval->source;
    }
    sendJson(res, body, 404);
  }

  void onDemand(const httplib::Request& req, httplib::Response& res, bool study) {
    if (!authorized(req, res)) return;
    const std::string uid = req.matches[1];
    std::string source, rule;
    if (!req.body.empty()) {
      auto body = nlohmann::json::parse(req.body, nullptr, false);
      if (!body.is_object()) return sendError(res, 400, "the body must be a JSON object: {\"source\": .., \"rule\": ..}");
      if (body.contains("source") && !body["source"].is_string())
        return sendError(res, 400, "\"source\" must be a string");
      if (body.contains("rule") && !body["rule"].is_string()) return sendError(res, 400, "\"rule\" must be a string");
      source = body.value("source", "");
      rule = body.value("rule", "");
    }
    if (!console::isDicomUid(uid))
      return sendError(res, 400, std::string(study ? "StudyInstanceUID" : "SeriesInstanceUID") +
                                     " must be a DICOM UID (digits and dots, at most 64 characters)");
    if (!context.actions) return sendError(res, 503, "on-demand rendering is not available on this node");
    auto r = study ? context.actions->renderStudy(uid, source, rule) : context.actions->renderSeries(uid, source, rule);
    int status = r.status > 0 ? r.status : (r.accepted ? 202 : 500);
    nlohmann::json body{{"accepted", r.accepted}, {"message", r.message}, {"job_ids", r.job_ids},
                        {"retrieve_state", r.retrieve_state}, {"status", status}};
    if (!r.accepted) body["error"] = r.message.empty() ? "render not accepted" : r.message;
    // Where to follow it: the series' state (receiving -> complete -> queued -> processing
    // -> done, with its render job), or the study's results and active jobs; the viewer.
    const std::string study_uid = study ? uid : r.study_uid;
    if (r.accepted) {
      body["StudyInstanceUID"] = study_uid.empty() ? nlohmann::json() : nlohmann::json(study_uid);
      if (!study) body["SeriesInstanceUID"] = uid;
      body["progress_url"] = study ? "/api/studies/" + uid + "/results" : "/api/series/" + uid;
      body["viewer_url"] = study_uid.empty() ? nlohmann::json() : nlohmann::json("/view/" + study_uid);
    }
    sendJson(res, body, status);
  }

  void jobAction(const httplib::Request& req, httplib::Response& res) {
    if (!authorized(req, res)) return;
    int64_t id = jobIdOf(req.matches[1]);
    const std::string action = req.matches[2];
    auto job = jobs.get(id);
    if (!job) return sendError(res, 404, "no job " + std::to_string(id));
    bool done = action == "retry" ? jobs.retryNow(id) : jobs.cancel(id);
    if (!done)
      return sendError(res, 409, "job " + std::to_string(id) + " is " + std::string(toString(job->state)) + "; it cannot be " +
                                     (action == "retry" ? "retried" : "canceled") + " now");
    if (context.actions) context.actions->wakeWorkers();
    log->info("job {} {} by operator", id, action == "retry" ? "queued again" : "canceled");
    sendJson(res, toJson(*jobs.get(id)));
  }

  void routes() {
    auto& s = *server;
    // --- pages (static HTML; every value comes from the JSON API) ---
    s.Get("/", [this](const httplib::Request&, httplib::Response& res) { sendPage(res, "dashboard.html"); });
    s.Get("/studies", [this](const httplib::Request&, httplib::Response& res) { sendPage(res, "studies.html"); });
    s.Get(R"(/studies/([^/]+))", [this](const httplib::Request&, httplib::Response& res) { sendPage(res, "study.html"); });
    s.Get("/jobs", [this](const httplib::Request&, httplib::Response& res) { sendPage(res, "jobs.html"); });
    s.Get(R"(/view/([^/]+))", [this](const httplib::Request&, httplib::Response& res) { sendPage(res, "viewer.html"); });
    s.Get("/settings", [this](const httplib::Request&, httplib::Response& res) { sendPage(res, "settings.html"); });
    s.Get("/favicon.ico", [](const httplib::Request&, httplib::Response& res) { res.status = 204; });
    s.Get("/launch", [this](const httplib::Request& req, httplib::Response& res) { launch(req, res); });

    // --- read API ---
    s.Get("/api/health", [this](const httplib::Request&, httplib::Response& res) { sendJson(res, healthJson()); });

    s.Get("/api/dashboard", [this](const httplib::Request&, httplib::Response& res) {
      sendJson(res, {{"health", healthJson()},
                     {"jobs", jobCounts()},
                     {"errors", errorsJson(10)},
                     {"throughput", throughput()}});
    });

    s.Get("/api/errors", [this](const httplib::Request& req, httplib::Response& res) {
      sendJson(res, {{"errors", errorsJson(intParam(req, "limit", 20, 1, 500))}});
    });

    s.Get("/api/throughput", [this](const httplib::Request&, httplib::Response& res) { sendJson(res, throughput()); });

    s.Get("/api/studies", [this](const httplib::Request& req, httplib::Response& res) {
      StudyQuery query;
      query.text = req.get_param_value("q");
      query.modality = req.get_param_value("modality");
      query.date_from = req.get_param_value("from");
      query.date_to = req.get_param_value("to");
      query.limit = intParam(req, "limit", 100, 1, 1000);
      query.offset = intParam(req, "offset", 0, 0, 100000000);
      nlohmann::json studies = nlohmann::json::array();
      for (const auto& study : index.listStudies(query)) studies.push_back(toJson(study));
      sendJson(res, {{"studies", studies}, {"limit", query.limit}, {"offset", query.offset}});
    });

    s.Get(R"(/api/studies/([^/]+))", [this](const httplib::Request& req, httplib::Response& res) {
      const std::string uid = req.matches[1];
      auto study = index.study(uid);
      if (!study) return sendError(res, 404, "no study with StudyInstanceUID " + uid);
      nlohmann::json body = toJson(*study);
      nlohmann::json series = nlohmann::json::array();
      for (const auto& s : index.seriesOfStudy(uid)) {
        nlohmann::json entry = toJson(s);
        auto results = seriesResults(s.series_uid);
        entry["thumbnail"] = results.is_null() ? nlohmann::json(nullptr) : results["thumbnail"];
        entry["render_job"] = results.is_null() ? nlohmann::json(nullptr) : results["job_id"];
        entry["geometry"] = geometry(s.series_uid, index.seriesTransitions(s.series_uid));
        series.push_back(entry);
      }
      body["series"] = series;
      sendJson(res, body);
    });

    s.Get(R"(/api/studies/([^/]+)/timeline)", [this](const httplib::Request& req, httplib::Response& res) {
      const std::string uid = req.matches[1];
      if (!index.study(uid)) return sendError(res, 404, "no study with StudyInstanceUID " + uid);
      sendJson(res, {{"StudyInstanceUID", uid}, {"events", timeline(uid)}});
    });

    s.Get(R"(/api/studies/([^/]+)/results)", [this](const httplib::Request& req, httplib::Response& res) {
      const std::string uid = req.matches[1];
      auto study = index.study(uid);
      if (!study) return sendStudyNotHeld(res, uid);
      JobFilter filter;
      filter.study_uid = uid;
      filter.limit = 20;
      nlohmann::json active = nlohmann::json::array();
      for (const auto& job : jobs.list(filter))
        if (producesResults(job)) active.push_back(toJson(job));
      sendJson(res, {{"StudyInstanceUID", uid},
                     {"PatientID", study->patient_id},
                     {"PatientName", study->patient_name},
                     {"StudyDate", study->study_date},
                     {"StudyDescription", study->study_description},
                     {"series", studyResults(uid)},
                     {"active_jobs", active}});
    });

    s.Get(R"(/api/series/([^/]+))", [this](const httplib::Request& req, httplib::Response& res) {
      const std::string uid = req.matches[1];
      auto series = index.series(uid);
      if (!series) return sendError(res, 404, "no series with SeriesInstanceUID " + uid);
      nlohmann::json body = toJson(*series);
      if (auto first = index.firstInstanceAttributes(uid)) {
        body["SOPClassUID"] = first->sop_class_uid;
        body["Rows"] = first->rows.value_or(0);
        body["Columns"] = first->columns.value_or(0);
        body["PixelSpacing"] = first->pixel_spacing;
        body["ImageOrientationPatient"] = first->image_orientation;
        body["SliceThickness"] = first->slice_thickness;
        body["TransferSyntaxUID"] = first->transfer_syntax_uid;
        body["PatientID"] = first->patient_id;
        body["PatientName"] = first->patient_name;
      }
      auto transitions = index.seriesTransitions(uid);
      nlohmann::json list = nlohmann::json::array();
      for (const auto& t : transitions) list.push_back(toJson(t));
      body["transitions"] = list;
      body["geometry"] = geometry(uid, transitions);
      sendJson(res, body);
    });

    s.Get(R"(/api/series/([^/]+)/results)", [this](const httplib::Request& req, httplib::Response& res) {
      const std::string uid = req.matches[1];
      if (!index.series(uid)) return sendError(res, 404, "no series with SeriesInstanceUID " + uid);
      auto results = seriesResults(uid);
      if (results.is_null()) return sendError(res, 404, "series " + uid + " has no succeeded render yet");
      results["SeriesInstanceUID"] = uid;
      sendJson(res, results);
    });

    s.Get("/api/jobs", [this](const httplib::Request& req, httplib::Response& res) {
      JobFilter filter;
      if (auto state = oneOfParam(req, "state", kJobStates); !state.empty()) filter.state = parseJobState(state);
      if (auto kind = oneOfParam(req, "kind", kJobKinds); !kind.empty()) filter.kind = parseJobKind(kind);
      filter.study_uid = req.get_param_value("study");
      filter.series_uid = req.get_param_value("series");
      filter.limit = intParam(req, "limit", 100, 1, 1000);
      nlohmann::json list = nlohmann::json::array();
      for (const auto& job : jobs.list(filter)) list.push_back(toJson(job));
      sendJson(res, {{"jobs", list}, {"counts", jobCounts()}, {"limit", filter.limit}});
    });

    s.Get(R"(/api/jobs/([^/]+))", [this](const httplib::Request& req, httplib::Response& res) {
      int64_t id = jobIdOf(req.matches[1]);
      auto job = jobs.get(id);
      if (!job) return sendError(res, 404, "no job " + std::to_string(id));
      nlohmann::json body = toJson(*job);
      nlohmann::json events = nlohmann::json::array();
      for (const auto& e : jobs.events(id)) events.push_back(toJson(e));
      body["events"] = events;
      nlohmann::json outputs = nlohmann::json::array();
      for (const auto& o : jobs.outputs(id)) outputs.push_back(toJson(o));
      body["outputs"] = outputs;
      if (job->kind == JobKind::Render) body["results"] = console::renderResultsJson(context.results_root, id, jobs.outputs(id));
      sendJson(res, body);
    });

    // --- result files: job id + a name checked against the job_outputs table or a strict pattern ---
    s.Get(R"(/api/jobs/([^/]+)/files/dicom/([^/]+))", [this](const httplib::Request& req, httplib::Response& res) {
      int64_t id = jobIdOf(req.matches[1]);
      const std::string sop_uid = req.matches[2];
      if (!console::isDicomUid(sop_uid)) return sendError(res, 400, "not a SOP Instance UID");
      for (const auto& o : jobs.outputs(id)) {
        if (o.sop_uid != sop_uid || o.file_path.empty()) continue;
        auto path = console::insideRoot(context.results_root, o.file_path);
        if (!path) return sendError(res, 404, "result file is outside the results folder");
        return sendFile(res, *path, "application/dicom", o.output_key.substr(0, o.output_key.find(':')) + "-" +
                                                             sop_uid + ".dcm");
      }
      sendError(res, 404, "job " + std::to_string(id) + " has no written output " + sop_uid);
    });

    s.Get(R"(/api/jobs/([^/]+)/files/png/([^/]+))", [this](const httplib::Request& req, httplib::Response& res) {
      int64_t id = jobIdOf(req.matches[1]);
      const std::string name = req.matches[2];
      if (!console::isResultPngName(name)) return sendError(res, 400, "not a result image name");
      if (!db->isRenderJob(id)) return sendError(res, 404, "no render job " + std::to_string(id));
      auto path = console::insideRoot(context.results_root, std::filesystem::path(std::to_string(id)) / "png" / name);
      if (!path) return sendError(res, 404, "no such image");
      sendFile(res, *path, "image/png", req.has_param("download") ? name : "");
    });

    s.Get(R"(/api/jobs/([^/]+)/files/mesh/model\.stl)", [this](const httplib::Request& req, httplib::Response& res) {
      int64_t id = jobIdOf(req.matches[1]);
      if (!db->isRenderJob(id)) return sendError(res, 404, "no render job " + std::to_string(id));
      auto path = console::insideRoot(context.results_root, std::filesystem::path(std::to_string(id)) / "mesh" / "model.stl");
      if (!path) return sendError(res, 404, "no model");
      sendFile(res, *path, "model/stl", req.has_param("download") ? "job-" + std::to_string(id) + "-model.stl" : "");
    });

    s.Get("/api/settings", [this](const httplib::Request&, httplib::Response& res) {
      auto parsed = [](const std::string& text) {
        if (text.empty()) return nlohmann::json(nullptr);
        auto j = nlohmann::json::parse(text, nullptr, false);
        return j.is_discarded() ? nlohmann::json(text) : j;
      };
      sendJson(res, {{"config_toml", context.effective_config_toml},
                     {"rules", parsed(context.rules_json)},
                     {"presets", parsed(context.presets_json)},
                     {"console",
                      {{"bind", config.bind},
                       {"port", bound_port},
                       {"mutations_enabled", !config.token.empty()},
                       {"reads_need_token", reads_need_token},
                       {"allowed_hosts", config.allowed_hosts},
                       {"launch_tokens", !context.launch_secret.empty()},
                       {"tls", !context.tls_cert_file.empty()},
                       {"on_demand_render", context.actions != nullptr}}}});
    });

    s.Get("/metrics", [this](const httplib::Request&, httplib::Response& res) {
      auto text = console::prometheusText(healthNow(), index.counts(), db->metrics(), destinationsNow());
      res.set_header("Cache-Control", "no-store");
      res.set_content(text, "text/plain; version=0.0.4; charset=utf-8");
    });

    // --- mutations (bearer token) ---
    s.Post(R"(/api/studies/([^/]+)/render)",
           [this](const httplib::Request& req, httplib::Response& res) { onDemand(req, res, true); });
    s.Post(R"(/api/series/([^/]+)/render)",
           [this](const httplib::Request& req, httplib::Response& res) { onDemand(req, res, false); });
    s.Post(R"(/api/jobs/([^/]+)/(retry|cancel))",
           [this](const httplib::Request& req, httplib::Response& res) { jobAction(req, res); });
    s.Post("/api/launch-tokens", [this](const httplib::Request& req, httplib::Response& res) {
      if (!authorized(req, res)) return;
      if (context.launch_secret.empty()) return sendError(res, 409, "no launch secret is configured");
      auto body = nlohmann::json::parse(req.body.empty() ? "{}" : req.body, nullptr, false);
      if (!body.is_object() || !body.contains("studyUID") || !body["studyUID"].is_string())
        return sendError(res, 400, "the body must be {\"studyUID\": \"...\", \"ttl_s\": 300}");
      std::string uid = body["studyUID"];
      if (!console::isDicomUid(uid)) return sendError(res, 400, "studyUID must be a DICOM UID");
      int64_t ttl = body.value("ttl_s", int64_t{300});
      if (ttl < 1 || ttl > 86400) return sendError(res, 400, "ttl_s must be in 1..86400");
      int64_t expires = static_cast<int64_t>(unixSecondsNow()) + ttl;
      std::string token = console::signLaunchToken(context.launch_secret, uid, expires);
      sendJson(res, {{"token", token},
                     {"expires", expires},
                     {"url", "/launch?studyUID=" + urlEncode(uid) + "&token=" + urlEncode(token)}},
               201);
    });

    s.Post("/api/launch-sessions/revoke", [this](const httplib::Request& req, httplib::Response& res) {
      if (!authorized(req, res)) return;
      const size_t revoked = sessions.revokeAll(std::chrono::steady_clock::now());
      log->warn("launch sessions revoked by operator: {} ended", revoked);
      sendJson(res, {{"revoked", revoked}});
    });

    // --- static files: the pages' scripts and styles, and three.js from node_modules (no CDN) ---
    s.set_file_extension_and_mimetype_mapping("js", "text/javascript");
    s.set_file_extension_and_mimetype_mapping("mjs", "text/javascript");
    if (!s.set_mount_point("/assets", (web_root / "assets").string()))
      log->warn("console web files not found under {}: pages will not load", web_root.string());
    if (!s.set_mount_point("/vendor/three", (web_root / "node_modules" / "three").string()))
      log->warn("three.js not installed under {} (run npm ci in console/web): the 3D model viewer is unavailable",
                (web_root / "node_modules").string());

    s.set_pre_routing_handler(
        [this](const httplib::Request& req, httplib::Response& res) { return checkAccess(req, res); });

    s.set_post_routing_handler([](const httplib::Request&, httplib::Response& res) {
      res.set_header("X-Content-Type-Options", "nosniff");
      res.set_header("Referrer-Policy", "no-referrer");
    });

    s.set_exception_handler([this](const httplib::Request& req, httplib::Response& res, std::exception_ptr ep) {
      try {
        std::rethrow_exception(ep);
      } catch (const Error& e) {
        int status = e.code() == Errc::InvalidArgument ? 400 : e.code() == Errc::NotFound ? 404 : 500;
        if (status == 500) log->error("{} {}: {}", req.method, req.path, e.what());
        sendError(res, status, e.what());
      } catch (const std::exception& e) {
        log->error("{} {}: {}", req.method, req.path, e.what());
        sendError(res, 500, std::string("internal error: ") + e.what());
      }
    });

    // Unknown paths answer JSON, not httplib's default empty 404.
    s.set_error_handler([](const httplib::Request& req, httplib::Response& res) {
      if (res.body.empty())
        sendError(res, res.status, "no such resource: " + req.method + " " + req.path);
    });
  }
};

ConsoleServer::ConsoleServer(ConsoleContext context) : impl_(std::make_unique<Impl>(std::move(context))) {
  impl_->routes();
  int threads = impl_->config.threads;
  impl_->server->new_task_queue = [threads] { return new httplib::ThreadPool(static_cast<size_t>(threads)); };
  // No request of this API carries more than a small JSON body; refuse the rest
  // before reading it (httplib's default is unlimited).
  impl_->server->set_payload_max_length(64 * 1024);
}

ConsoleServer::~ConsoleServer() { stop(); }

void ConsoleServer::start() {
  const auto& config = impl_->config;
  if (!config.token.empty() && config.token.size() < kMinSecretLength)
    throw Error(Errc::InvalidConfig, "console.token is " + std::to_string(config.token.size()) +
                                         " characters long; use at least " + std::to_string(kMinSecretLength) +
                                         " (e.g. the output of: openssl rand -hex 24)");
  if (!impl_->context.launch_secret.empty() && impl_->context.launch_secret.size() < kMinSecretLength)
    throw Error(Errc::InvalidConfig, "console.launch_secret is " + std::to_string(impl_->context.launch_secret.size()) +
                                         " characters long; use at least " + std::to_string(kMinSecretLength) +
                                         " (e.g. the output of: openssl rand -hex 24)");
  const bool loopback = console::isLoopbackBind(config.bind);
  if (!loopback && config.token.empty())
    throw Error(Errc::InvalidConfig, "console.bind = \"" + config.bind +
                                         "\" exposes the console beyond this machine; set console.token first");
  if (!loopback && !impl_->tls && !config.allow_plain_http)
    throw Error(Errc::InvalidConfig, "console.bind = \"" + config.bind +
                                         "\" without TLS would send the console token and patient data in clear; set "
                                         "console.tls_cert and console.tls_key, or console.allow_plain_http = true on a "
                                         "network you trust");
  if (config.read_requires_token && config.token.empty())
    throw Error(Errc::InvalidConfig, "console.read_requires_token = true needs console.token (nobody could read)");
  int port = impl_->config.port;
  if (port == 0) {
    port = impl_->server->bind_to_any_port(impl_->config.bind.c_str());
    if (port <= 0) port = -1;
  } else if (!impl_->server->bind_to_port(impl_->config.bind.c_str(), port)) {
    port = -1;
  }
  if (port < 0)
    throw Error(Errc::Network, "cannot listen for the console on " + impl_->config.bind + ":" +
                                   std::to_string(impl_->config.port) + " (address in use or not available)");
  impl_->bound_port = port;
  impl_->thread = std::thread([this] { impl_->server->listen_after_bind(); });
  impl_->log->info("console on {}://{}:{}/ (reads of patient data {})", impl_->tls ? "https" : "http",
                   impl_->config.bind, port, impl_->reads_need_token ? "need the token" : "open on loopback");
}

void ConsoleServer::stop() {
  if (!impl_->thread.joinable()) return;
  impl_->server->stop();
  impl_->thread.join();
}

int ConsoleServer::port() const { return impl_->bound_port; }

}  // namespace volnode
