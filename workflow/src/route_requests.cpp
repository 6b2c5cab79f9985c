#include "volnode/workflow/route_requests.hpp"

#include <nlohmann/json.hpp>

namespace volnode {

void RouteRequests::expectStudy(const std::string& study_uid, const std::string& rule, int priority) {
  std::lock_guard lock(mutex_);
  expected_[study_uid] = {rule, priority};
}

int64_t RouteRequests::seriesCompleted(const SeriesSummary& series, const std::string& reason,
                                       const std::optional<RouteRequest>& forced) {
  RouteRequest request = forced.value_or(RouteRequest{});
  if (!forced) {
    std::lock_guard lock(mutex_);
    if (auto found = expected_.find(series.study_uid); found != expected_.end()) request = found->second;
  }
  NewJob job{JobKind::Route, series.study_uid, series.series_uid, request.rule, "", routePayload(request),
             request.priority, 3};
  return jobs_.enqueue(job, SeriesChange{SeriesState::Complete, reason});
}

int64_t RouteRequests::seriesReleased(const SeriesSummary& series, const std::string& reason) {
  RouteRequest request;
  {
    std::lock_guard lock(mutex_);
    if (auto found = expected_.find(series.study_uid); found != expected_.end()) request = found->second;
  }
  auto payload = nlohmann::json::parse(routePayload(request));
  payload["speculative"] = 1;
  NewJob job{JobKind::Route, series.study_uid, series.series_uid, request.rule, "", payload.dump(), request.priority, 3};
  return jobs_.enqueue(job, SeriesChange{SeriesState::Complete, reason});
}

int64_t RouteRequests::reroute(const std::string& series_uid, const std::string& study_uid,
                               const RouteRequest& request, const std::string& why) {
  NewJob job{JobKind::Route, study_uid, series_uid, request.rule, "", routePayload(request), request.priority, 3};
  return jobs_.enqueue(job, SeriesChange{SeriesState::Complete, why});
}

}  // namespace volnode
