#include "access_gate.hpp"

#include <regex>

#include "auth.hpp"
#include "http_answers.hpp"
#include "volnode/core/logging.hpp"

namespace volnode::console {
namespace {

void answerUnauthorized(httplib::Response& res, const std::string& message) {
  res.set_header("WWW-Authenticate", "Bearer realm=\"volnode\"");
  answerError(res, 401, message);
}

}  // namespace

AccessGate::AccessGate(const ConsoleContext& context)
    : context_(context),
      host_check_(context.config.bind, context.config.allowed_hosts),
      auth_failures_(context.auth_max_failures, context.auth_failure_window, context.auth_block),
      sessions_(context.launch_session),
      reads_need_token_(!isLoopbackBind(context.config.bind) || context.config.read_requires_token),
      log_(moduleLogger("console")) {}

void AccessGate::failedAuthentication(const httplib::Request& req, const char* what) {
  log_->info("{} from {} ({} {})", what, req.remote_addr, req.method, req.path);
  if (auth_failures_.fail(req.remote_addr, std::chrono::steady_clock::now()))
    log_->warn("{} failed authentications from {} within {} s: its requests with a token are answered 429 for {} s",
               auth_failures_.maxFailures(), req.remote_addr, context_.auth_failure_window.count(),
               context_.auth_block.count());
}

bool AccessGate::authorized(const httplib::Request& req, httplib::Response& res) {
  const std::string& token = context_.config.token;
  if (token.empty()) {
    answerError(res, 403, "mutating calls are disabled: no console.token is configured");
    return false;
  }
  std::string given = bearerToken(req.get_header_value("Authorization"));
  if (given.empty() || !constantTimeEquals(given, token)) {
    if (!given.empty()) failedAuthentication(req, "wrong bearer token");
    answerUnauthorized(res, given.empty() ? "this call needs Authorization: Bearer <console token>"
                                          : "the bearer token is not the console token");
    return false;
  }
  return true;
}

// The study a read of patient data concerns, "" when it is not about one study
// (lists, the dashboard, settings): what a launch session may read.
std::string AccessGate::studyOfRead(const httplib::Request& req) {
  static const std::regex study_path(R"(/api/studies/([^/]+)(/results|/timeline)?)");
  static const std::regex series_path(R"(/api/series/([^/]+)(/results|/view3d|/slice)?)");
  static const std::regex job_path(R"(/api/jobs/([0-9]{1,18})(/files/.*)?)");
  static const std::regex dicomweb_study_path(R"(/dicom-web/studies/([^/]+)(/.*)?)");
  std::smatch m;
  if (std::regex_match(req.path, m, study_path)) return m[1];
  if (std::regex_match(req.path, m, dicomweb_study_path)) return m[1];
  // A QIDO-RS search is of one study when it names exactly one (a launch session's viewer does).
  if (req.path == "/dicom-web/studies" || req.path == "/dicom-web/series") {
    std::string uid = req.has_param("StudyInstanceUID") ? req.get_param_value("StudyInstanceUID")
                                                         : req.get_param_value("0020000D");
    return uid.find_first_of(",\\*?") == std::string::npos ? uid : "";
  }
  if (std::regex_match(req.path, m, series_path)) {
    auto series = context_.index.series(m[1]);
    return series ? series->study_uid : "";
  }
  if (std::regex_match(req.path, m, job_path)) {
    auto job = context_.jobs.get(std::stoll(m[1]));
    return job ? job->study_uid : "";
  }
  if (req.path == "/api/jobs") return req.get_param_value("study");
  return "";
}

// Reads under /api (all but /api/health and /api/health/live, which hold no patient data) when reads
// need a token: the console token as bearer, or a launch session for its studies.
bool AccessGate::readAllowed(const httplib::Request& req, httplib::Response& res) {
  std::string given = bearerToken(req.get_header_value("Authorization"));
  if (!given.empty()) {
    if (constantTimeEquals(given, context_.config.token)) return true;
    failedAuthentication(req, "wrong bearer token");
    answerUnauthorized(res, "the bearer token is not the console token");
    return false;
  }
  const auto now = std::chrono::steady_clock::now();
  std::string session = cookieValue(req.get_header_value("Cookie"), kSessionCookie);
  if (sessions_.valid(session, now)) {
    if (sessions_.allows(session, studyOfRead(req), now)) return true;
    // Known, but not for this: a link for study A never reaches study B.
    answerError(res, 403, "the launch link opened other studies only; this read needs Authorization: Bearer "
                          "<console token>");
    return false;
  }
  answerUnauthorized(res, "reading patient data needs Authorization: Bearer <console token> (or a launch link "
                          "from the PACS for one study)");
  return false;
}

httplib::Server::HandlerResponse AccessGate::check(const httplib::Request& req, httplib::Response& res) {
  const std::string host = req.get_header_value("Host");
  if (!host_check_.allows(host)) {
    log_->debug("refused Host '{}' from {}", host.substr(0, 100), req.remote_addr);
    answerError(res, 421,
                "this console does not answer to the host name '" + host.substr(0, 100) +
                    "'; if browsers reach it under that name, add the name to console.allowed_hosts");
    return httplib::Server::HandlerResponse::Handled;
  }
  if (req.has_header("Authorization") || req.path == "/launch") {
    int wait = auth_failures_.blockedFor(req.remote_addr, std::chrono::steady_clock::now());
    if (wait > 0) {
      res.set_header("Retry-After", std::to_string(wait));
      const std::string message =
          "too many failed authentications from this address; try again in " + std::to_string(wait) + " s";
      // /launch is a browser navigation: it gets a page, not JSON.
      if (req.path == "/launch") answerHtmlMessage(res, 429, "Too many attempts", message);
      else answerError(res, 429, message);
      return httplib::Server::HandlerResponse::Handled;
    }
  }
  const bool api_read = (req.method == "GET" || req.method == "HEAD") &&
                        ((req.path.rfind("/api/", 0) == 0 && req.path != "/api/health" &&
                          req.path != "/api/health/live") ||
                         req.path.rfind("/dicom-web/", 0) == 0);
  if (reads_need_token_ && api_read && !readAllowed(req, res)) return httplib::Server::HandlerResponse::Handled;
  return httplib::Server::HandlerResponse::Unhandled;
}

}  // namespace volnode::console
