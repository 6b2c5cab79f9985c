// Studies and series: their pages, what the index holds of them, their timeline,
// and rendering them on demand.
#include "http_answers.hpp"
#include "json_views.hpp"
#include "request_params.hpp"
#include "results.hpp"
#include "routes.hpp"

namespace volnode::console {
namespace {

// POST /api/{studies,series}/<uid>/render {"source": .., "rule": ..}: retrieves what is
// not held, then renders; tells where to follow the progress.
void renderOnDemand(RouteContext& routes, const httplib::Request& req, httplib::Response& res, bool study) {
  if (!routes.access.authorized(req, res)) return;
  const std::string uid = req.matches[1];
  std::string source, rule;
  if (!req.body.empty()) {
    auto body = nlohmann::json::parse(req.body, nullptr, false);
    if (!body.is_object())
      return answerError(res, 400, "the body must be a JSON object: {\"source\": .., \"rule\": ..}");
    if (body.contains("source") && !body["source"].is_string())
      return answerError(res, 400, "\"source\" must be a string");
    if (body.contains("rule") && !body["rule"].is_string()) return answerError(res, 400, "\"rule\" must be a string");
    source = body.value("source", "");
    rule = body.value("rule", "");
  }
  if (!isDicomUid(uid))
    return answerError(res, 400, std::string(study ? "StudyInstanceUID" : "SeriesInstanceUID") +
                                     " must be a DICOM UID (digits and dots, at most 64 characters)");
  NodeActions* actions = routes.node.actions;
  if (!actions) return answerError(res, 503, "on-demand rendering is not available on this node");
  auto r = study ? actions->renderStudy(uid, source, rule) : actions->renderSeries(uid, source, rule);
  const int status = r.status > 0 ? r.status : (r.accepted ? 202 : 500);
  nlohmann::json body{{"accepted", r.accepted}, {"message", r.message}, {"job_ids", r.job_ids},
                      {"retrieve_state", r.retrieve_state}};
  if (!r.accepted) return answerError(res, status, r.message.empty() ? "render not accepted" : r.message, body);
  // Where to follow it: the series' state (receiving -> complete -> queued -> processing
  // -> done, with its render job), or the study's results and active jobs; the viewer.
  const std::string study_uid = study ? uid : r.study_uid;
  body["status"] = status;
  body["StudyInstanceUID"] = study_uid.empty() ? nlohmann::json() : nlohmann::json(study_uid);
  if (!study) body["SeriesInstanceUID"] = uid;
  body["progress_url"] = study ? "/api/studies/" + uid + "/results" : "/api/series/" + uid;
  body["viewer_url"] = study_uid.empty() ? nlohmann::json() : nlohmann::json("/view/" + study_uid);
  answerJson(res, body, status);
}

}  // namespace

void addStudyRoutes(httplib::Server& server, RouteContext& routes) {
  Index& index = routes.node.index;

  server.Get("/studies", [&routes](const httplib::Request&, httplib::Response& res) {
    routes.pages.answerPage(res, "studies.html");
  });
  server.Get(R"(/studies/([^/]+))", [&routes](const httplib::Request&, httplib::Response& res) {
    routes.pages.answerPage(res, "study.html");
  });

  server.Get("/api/studies", [&index](const httplib::Request& req, httplib::Response& res) {
    StudyQuery query;
    query.text = req.get_param_value("q");
    query.modality = req.get_param_value("modality");
    query.date_from = req.get_param_value("from");
    query.date_to = req.get_param_value("to");
    query.limit = intParam(req, "limit", 100, 1, 1000);
    query.offset = intParam(req, "offset", 0, 0, 100000000);
    nlohmann::json studies = nlohmann::json::array();
    for (const auto& study : index.listStudies(query)) studies.push_back(toJson(study));
    answerJson(res, {{"studies", studies}, {"limit", query.limit}, {"offset", query.offset}});
  });

  server.Get(R"(/api/studies/([^/]+))", [&index, &routes](const httplib::Request& req, httplib::Response& res) {
    const std::string uid = req.matches[1];
    auto study = index.study(uid);
    if (!study) return answerError(res, 404, "no study with StudyInstanceUID " + uid);
    nlohmann::json body = toJson(*study);
    nlohmann::json series = nlohmann::json::array();
    for (const auto& s : index.seriesOfStudy(uid)) {
      nlohmann::json entry = toJson(s);
      auto results = routes.views.seriesResults(s.series_uid);
      entry["thumbnail"] = results.is_null() ? nlohmann::json(nullptr) : results["thumbnail"];
      entry["render_job"] = results.is_null() ? nlohmann::json(nullptr) : results["job_id"];
      entry["geometry"] = routes.views.geometry(s.series_uid, index.seriesTransitions(s.series_uid));
      series.push_back(entry);
    }
    body["series"] = series;
    answerJson(res, body);
  });

  server.Get(R"(/api/studies/([^/]+)/timeline)", [&index, &routes](const httplib::Request& req, httplib::Response& res) {
    const std::string uid = req.matches[1];
    if (!index.study(uid)) return answerError(res, 404, "no study with StudyInstanceUID " + uid);
    answerJson(res, {{"StudyInstanceUID", uid}, {"events", routes.views.timeline(uid)}});
  });

  server.Get(R"(/api/series/([^/]+))", [&index, &routes](const httplib::Request& req, httplib::Response& res) {
    const std::string uid = req.matches[1];
    auto series = index.series(uid);
    if (!series) return answerError(res, 404, "no series with SeriesInstanceUID " + uid);
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
    body["geometry"] = routes.views.geometry(uid, transitions);
    answerJson(res, body);
  });

  server.Post(R"(/api/studies/([^/]+)/render)", [&routes](const httplib::Request& req, httplib::Response& res) {
    renderOnDemand(routes, req, res, true);
  });
  server.Post(R"(/api/series/([^/]+)/render)", [&routes](const httplib::Request& req, httplib::Response& res) {
    renderOnDemand(routes, req, res, false);
  });
}

}  // namespace volnode::console
