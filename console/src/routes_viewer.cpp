// What the viewer shows: its page, the render results of a study or a series, the
// result files (DICOM objects, PNG views, the surface model), and the interactive
// view's frames and slices, which are forwarded to the viewer worker processes. Request text never
// becomes part of a path: a job id is a number, file names match strict patterns
// or are looked up in the job's outputs.
#include "http_answers.hpp"
#include "json_views.hpp"
#include "request_params.hpp"
#include "results.hpp"
#include "routes.hpp"

namespace volnode::console {
namespace {

// A study not held, with the state of its retrieval when one was asked for: the
// viewer opened by a launch link waits on this and shows a failed C-MOVE.
void answerStudyNotHeld(const ConsoleContext& node, httplib::Response& res, const std::string& uid) {
  auto retrieval = node.actions ? node.actions->retrievalOf(uid) : std::nullopt;
  if (!retrieval) return answerError(res, 404, "no study with StudyInstanceUID " + uid);
  const nlohmann::json details{
      {"retrieve", {{"state", retrieval->state}, {"source", retrieval->source}, {"message", retrieval->message}}}};
  std::string message = "no study with StudyInstanceUID " + uid;
  if (retrieval->state == "failed")
    message = "study " + uid + " is not held here: retrieving it from " + retrieval->source +
              " failed: " + retrieval->message;
  else if (retrieval->state == "retrieving")
    message = "study " + uid + " is being retrieved from " + retrieval->source;
  answerError(res, 404, message, details);
}

// A job that is a render job (the only kind with files), else answered 404.
bool isRenderJob(JobQueue& jobs, int64_t id, httplib::Response& res) {
  auto job = jobs.get(id);
  if (job && job->kind == JobKind::Render) return true;
  answerError(res, 404, "no render job " + std::to_string(id));
  return false;
}

// GET /api/series/{uid}/view3d and /slice: the series is checked here, the
// parameters and the pixels in a viewer worker; its answer goes back as it came.
void answerFromViewer(const ConsoleContext& node, const std::string& kind, const httplib::Request& req,
                      httplib::Response& res) {
  const std::string uid = req.matches[1];
  if (!isDicomUid(uid)) return answerError(res, 400, "not a SeriesInstanceUID: " + uid.substr(0, 70));
  if (!node.index.series(uid)) return answerError(res, 404, "no series with SeriesInstanceUID " + uid);
  std::map<std::string, std::string> params;
  for (const auto& [name, value] : req.params)
    if (!params.emplace(name, value).second)
      return answerError(res, 400, "parameter '" + name.substr(0, 40) + "' is given more than once",
                         {{"parameter", name.substr(0, 40)}});
  if (!node.viewer) return answerError(res, 503, "the interactive view is not available on this node");
  ViewerAnswer answer = node.viewer->ask(kind, uid, params);
  for (const auto& [name, value] : answer.headers) res.set_header(name, value);
  if (answer.status != 200) {
    nlohmann::json details = nlohmann::json::object();
    if (!answer.parameter.empty()) details["parameter"] = answer.parameter;
    return answerError(res, answer.status, answer.error, details);
  }
  res.set_header("Cache-Control", "no-store");
  res.set_content(std::move(answer.body), answer.content_type);
}

}  // namespace

void addViewerRoutes(httplib::Server& server, RouteContext& routes) {
  const ConsoleContext& node = routes.node;
  const std::filesystem::path& results_root = node.results_root;

  server.Get(R"(/view/([^/]+))", [&routes](const httplib::Request&, httplib::Response& res) {
    routes.pages.answerPage(res, "viewer.html");
  });

  server.Get(R"(/api/series/([^/]+)/view3d)", [&node](const httplib::Request& req, httplib::Response& res) {
    answerFromViewer(node, "view3d", req, res);
  });
  server.Get(R"(/api/series/([^/]+)/slice)", [&node](const httplib::Request& req, httplib::Response& res) {
    answerFromViewer(node, "slice", req, res);
  });

  server.Get(R"(/api/studies/([^/]+)/results)", [&node, &routes](const httplib::Request& req, httplib::Response& res) {
    const std::string uid = req.matches[1];
    auto study = node.index.study(uid);
    if (!study) return answerStudyNotHeld(node, res, uid);
    JobFilter filter;
    filter.study_uid = uid;
    filter.limit = 20;
    nlohmann::json active = nlohmann::json::array();
    for (const auto& job : node.jobs.list(filter))
      if (producesResults(job)) active.push_back(toJson(job));
    answerJson(res, {{"StudyInstanceUID", uid},
                     {"PatientID", study->patient_id},
                     {"PatientName", study->patient_name},
                     {"StudyDate", study->study_date},
                     {"StudyDescription", study->study_description},
                     {"series", routes.views.studyResults(uid)},
                     {"active_jobs", active}});
  });

  server.Get(R"(/api/series/([^/]+)/results)", [&node, &routes](const httplib::Request& req, httplib::Response& res) {
    const std::string uid = req.matches[1];
    if (!node.index.series(uid)) return answerError(res, 404, "no series with SeriesInstanceUID " + uid);
    auto results = routes.views.seriesResults(uid);
    if (results.is_null()) return answerError(res, 404, "series " + uid + " has no succeeded render yet");
    results["SeriesInstanceUID"] = uid;
    answerJson(res, results);
  });

  // A DICOM object: found through the job's outputs, never by a path from the request.
  server.Get(R"(/api/jobs/([^/]+)/files/dicom/([^/]+))",
             [&node, &results_root](const httplib::Request& req, httplib::Response& res) {
               const int64_t id = jobIdOf(req.matches[1]);
               const std::string sop_uid = req.matches[2];
               if (!isDicomUid(sop_uid)) return answerError(res, 400, "not a SOP Instance UID");
               for (const auto& o : node.jobs.outputs(id)) {
                 if (o.sop_uid != sop_uid || o.file_path.empty()) continue;
                 auto path = insideRoot(results_root, o.file_path);
                 if (!path) return answerError(res, 404, "result file is outside the results folder");
                 return answerFile(res, *path, "application/dicom",
                                   o.output_key.substr(0, o.output_key.find(':')) + "-" + sop_uid + ".dcm");
               }
               answerError(res, 404, "job " + std::to_string(id) + " has no written output " + sop_uid);
             });

  server.Get(R"(/api/jobs/([^/]+)/files/png/([^/]+))",
             [&node, &results_root](const httplib::Request& req, httplib::Response& res) {
               const int64_t id = jobIdOf(req.matches[1]);
               const std::string name = req.matches[2];
               if (!isResultPngName(name)) return answerError(res, 400, "not a result image name");
               if (!isRenderJob(node.jobs, id, res)) return;
               auto path = insideRoot(results_root, std::filesystem::path(std::to_string(id)) / "png" / name);
               if (!path) return answerError(res, 404, "no such image");
               answerFile(res, *path, "image/png", req.has_param("download") ? name : "");
             });

  server.Get(R"(/api/jobs/([^/]+)/files/mesh/model\.stl)",
             [&node, &results_root](const httplib::Request& req, httplib::Response& res) {
               const int64_t id = jobIdOf(req.matches[1]);
               if (!isRenderJob(node.jobs, id, res)) return;
               auto path = insideRoot(results_root, std::filesystem::path(std::to_string(id)) / "mesh" / "model.stl");
               if (!path) return answerError(res, 404, "no model");
               answerFile(res, *path, "model/stl",
                          req.has_param("download") ? "job-" + std::to_string(id) + "-model.stl" : "");
             });
}

}  // namespace volnode::console
