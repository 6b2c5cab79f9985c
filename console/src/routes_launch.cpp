// Launching from a PACS: a signed, expiring link opens one study in the viewer
// and a read session for it; the operator mints launch tokens and revokes sessions.
#include "auth.hpp"
#include "http_answers.hpp"
#include "json_views.hpp"
#include "results.hpp"
#include "routes.hpp"
#include "volnode/core/clock.hpp"
#include "volnode/core/logging.hpp"

namespace volnode::console {
namespace {

// GET /launch?studyUID=..&token=..: a browser navigation, so refusals are pages.
void launch(RouteContext& routes, const httplib::Request& req, httplib::Response& res) {
  const ConsoleContext& node = routes.node;
  auto log = moduleLogger("console");
  const std::string study_uid = req.get_param_value("studyUID");
  const std::string token = req.get_param_value("token");
  if (!isDicomUid(study_uid))
    return answerHtmlMessage(res, 400, "Cannot open the study", "studyUID must be a DICOM UID (digits and dots).");
  if (node.launch_secret.empty())
    return answerHtmlMessage(res, 403, "Launch is disabled",
                             "No console.launch_secret is configured on this node, so there are no launch links.");
  // The console token never goes into a URL: it would stay in the browser's history
  // and in proxy logs. Only signed, expiring launch tokens open a study.
  if (!node.config.token.empty() && constantTimeEquals(token, node.config.token)) {
    log->warn("launch from {}: refused the console token in the URL (only signed launch tokens are accepted)",
              req.remote_addr);
    return answerHtmlMessage(res, 401, "Not allowed",
                             "The console token is not accepted in a link. Ask the PACS for a signed launch link "
                             "(see docs/api.md, Launching from a PACS).");
  }
  auto check = verifyLaunchToken(node.launch_secret, study_uid, token, static_cast<int64_t>(unixSecondsNow()));
  if (check == LaunchTokenCheck::Expired)
    return answerHtmlMessage(res, 401, "Link expired", "This launch link has expired; open it again from the PACS.");
  if (check != LaunchTokenCheck::Valid) {
    if (!token.empty()) routes.access.failedAuthentication(req, "wrong launch token");
    return answerHtmlMessage(res, 401, "Not allowed", "The launch token is missing or not valid.");
  }
  // The browser that followed the link may read this study (and those it launched
  // before) for a while: an HttpOnly, SameSite=Strict cookie, Secure over HTTPS.
  std::string session = routes.access.sessions().open(cookieValue(req.get_header_value("Cookie"), kSessionCookie),
                                                      study_uid, std::chrono::steady_clock::now());
  res.set_header("Set-Cookie", std::string(kSessionCookie) + "=" + session + "; Path=/; Max-Age=" +
                                   std::to_string(node.launch_session.count()) + "; HttpOnly; SameSite=Strict" +
                                   (routes.tls ? "; Secure" : ""));

  const std::string viewer = "/view/" + study_uid;
  if (!routes.views.studyResults(study_uid).empty()) return res.set_redirect(viewer, 303);
  JobFilter filter;
  filter.study_uid = study_uid;
  filter.limit = 50;
  for (const auto& job : node.jobs.list(filter))
    if (producesResults(job)) return res.set_redirect(viewer, 303);
  if (!node.actions)
    return answerHtmlMessage(res, 503, "Cannot render", "On-demand rendering is not available on this node.");
  auto result = node.actions->renderStudy(study_uid, "", "");
  log->info("launch: study {} render requested: {} ({})", study_uid, result.accepted ? "accepted" : "refused",
            result.message);
  if (!result.accepted && result.status >= 400)
    return answerHtmlMessage(res, result.status, "Cannot render the study", result.message);
  res.set_redirect(viewer, 303);
}

// POST /api/launch-tokens {"studyUID": .., "ttl_s": 300}: a link for a PACS to open.
void mintLaunchToken(RouteContext& routes, const httplib::Request& req, httplib::Response& res) {
  if (!routes.access.authorized(req, res)) return;
  const std::string& secret = routes.node.launch_secret;
  if (secret.empty()) return answerError(res, 409, "no launch secret is configured");
  auto body = nlohmann::json::parse(req.body.empty() ? "{}" : req.body, nullptr, false);
  if (!body.is_object() || !body.contains("studyUID") || !body["studyUID"].is_string())
    return answerError(res, 400, "the body must be {\"studyUID\": \"...\", \"ttl_s\": 300}");
  std::string uid = body["studyUID"];
  if (!isDicomUid(uid)) return answerError(res, 400, "studyUID must be a DICOM UID");
  int64_t ttl = body.value("ttl_s", int64_t{300});
  if (ttl < 1 || ttl > 86400) return answerError(res, 400, "ttl_s must be in 1..86400");
  int64_t expires = static_cast<int64_t>(unixSecondsNow()) + ttl;
  std::string token = signLaunchToken(secret, uid, expires);
  answerJson(res,
             {{"token", token},
              {"expires", expires},
              {"url", "/launch?studyUID=" + urlEncode(uid) + "&token=" + urlEncode(token)}},
             201);
}

}  // namespace

void addLaunchRoutes(httplib::Server& server, RouteContext& routes) {
  server.Get("/launch", [&routes](const httplib::Request& req, httplib::Response& res) { launch(routes, req, res); });
  server.Post("/api/launch-tokens", [&routes](const httplib::Request& req, httplib::Response& res) {
    mintLaunchToken(routes, req, res);
  });
  server.Post("/api/launch-sessions/revoke", [&routes](const httplib::Request& req, httplib::Response& res) {
    if (!routes.access.authorized(req, res)) return;
    const size_t revoked = routes.access.sessions().revokeAll(std::chrono::steady_clock::now());
    moduleLogger("console")->warn("launch sessions revoked by operator: {} ended", revoked);
    answerJson(res, {{"revoked", revoked}});
  });
}

}  // namespace volnode::console
