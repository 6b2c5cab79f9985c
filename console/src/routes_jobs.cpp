// The job queue: its page, the list with counts per state, one job with its
// events and outputs, and the operator's retry and cancel.
#include <set>

#include "http_answers.hpp"
#include "json_views.hpp"
#include "request_params.hpp"
#include "results.hpp"
#include "routes.hpp"
#include "volnode/core/logging.hpp"

namespace volnode::console {
namespace {

template <typename Value>
std::set<std::string> namesOf(std::initializer_list<Value> values) {
  std::set<std::string> names;
  for (Value v : values) names.insert(std::string(toString(v)));
  return names;
}

const std::set<std::string> kJobStates = namesOf({JobState::Queued, JobState::Running, JobState::Succeeded,
                                                  JobState::Failed, JobState::Retry, JobState::Canceled});
const std::set<std::string> kJobKinds = namesOf({JobKind::Route, JobKind::Render, JobKind::Send, JobKind::Retrieve});

// POST /api/jobs/<id>/(retry|cancel)
void operatorAction(RouteContext& routes, const httplib::Request& req, httplib::Response& res) {
  if (!routes.access.authorized(req, res)) return;
  JobQueue& jobs = routes.node.jobs;
  const int64_t id = jobIdOf(req.matches[1]);
  const bool retry = req.matches[2] == "retry";
  auto job = jobs.get(id);
  if (!job) return answerError(res, 404, "no job " + std::to_string(id));
  if (!(retry ? jobs.retryNow(id) : jobs.cancel(id)))
    return answerError(res, 409, "job " + std::to_string(id) + " is " + std::string(toString(job->state)) +
                                     "; it cannot be " + (retry ? "retried" : "canceled") + " now");
  if (routes.node.actions) routes.node.actions->wakeWorkers();
  moduleLogger("console")->info("job {} {} by operator", id, retry ? "queued again" : "canceled");
  answerJson(res, toJson(*jobs.get(id)));
}

}  // namespace

void addJobRoutes(httplib::Server& server, RouteContext& routes) {
  JobQueue& jobs = routes.node.jobs;

  server.Get("/jobs", [&routes](const httplib::Request&, httplib::Response& res) {
    routes.pages.answerPage(res, "jobs.html");
  });

  server.Get("/api/jobs", [&jobs](const httplib::Request& req, httplib::Response& res) {
    JobFilter filter;
    if (auto state = oneOfParam(req, "state", kJobStates); !state.empty()) filter.state = parseJobState(state);
    if (auto kind = oneOfParam(req, "kind", kJobKinds); !kind.empty()) filter.kind = parseJobKind(kind);
    filter.study_uid = req.get_param_value("study");
    filter.series_uid = req.get_param_value("series");
    filter.limit = intParam(req, "limit", 100, 1, 1000);
    nlohmann::json list = nlohmann::json::array();
    for (const auto& job : jobs.list(filter)) list.push_back(toJson(job));
    answerJson(res, {{"jobs", list}, {"counts", jobCountsJson(jobs.countsByState())}, {"limit", filter.limit}});
  });

  server.Get(R"(/api/jobs/([^/]+))", [&jobs, &routes](const httplib::Request& req, httplib::Response& res) {
    const int64_t id = jobIdOf(req.matches[1]);
    auto job = jobs.get(id);
    if (!job) return answerError(res, 404, "no job " + std::to_string(id));
    nlohmann::json body = toJson(*job);
    nlohmann::json events = nlohmann::json::array();
    for (const auto& e : jobs.events(id)) events.push_back(toJson(e));
    body["events"] = events;
    auto outputs = jobs.outputs(id);
    nlohmann::json output_list = nlohmann::json::array();
    for (const auto& o : outputs) output_list.push_back(toJson(o));
    body["outputs"] = output_list;
    if (job->kind == JobKind::Render) body["results"] = renderResultsJson(routes.node.results_root, id, outputs);
    answerJson(res, body);
  });

  server.Post(R"(/api/jobs/([^/]+)/(retry|cancel))", [&routes](const httplib::Request& req, httplib::Response& res) {
    operatorAction(routes, req, res);
  });
}

}  // namespace volnode::console
