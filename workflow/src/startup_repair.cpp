#include "volnode/workflow/startup_repair.hpp"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "volnode/core/clock.hpp"
#include "volnode/core/logging.hpp"
#include "volnode/workflow/result_routing.hpp"

namespace volnode {
namespace {

int64_t renderJobOf(const Job& send) {
  auto payload = nlohmann::json::parse(send.payload, nullptr, false);
  return payload.is_object() ? payload.value("render_job", int64_t{0}) : 0;
}

}  // namespace

RepairReport repairUnfinishedWork(Index& index, JobQueue& jobs, RouteRequests& routes, const RuleSet& rules,
                                  const std::map<std::string, Destination>& destinations, int send_max_attempts,
                                  const std::filesystem::path& results_root) {
  RepairReport report;
  auto log = moduleLogger("pipeline");

  // A series rendered speculatively whose completion the last run did not confirm: the
  // associations and grace it waited for are gone with that run, so its held work is
  // canceled (nothing of it was sent) and it is received again; completion decides afresh.
  for (const auto& series_uid : jobs.speculativeSeries()) {
    const std::string why = "start-up repair: started on release, not confirmed complete before the stop";
    if (int canceled = jobs.withdrawSpeculative(series_uid, why)) {
      report.speculative_starts_withdrawn++;
      report.findings.push_back(fmt::format("series {} was started on release and not confirmed complete: "
                                            "{} held job(s) canceled, the series is receiving again",
                                            series_uid, canceled));
    }
  }

  for (const auto& orphan : jobs.seriesWithoutActiveJob()) {
    std::string why = fmt::format("start-up repair: {} without an active job", toString(orphan.state));
    int64_t id = 0;
    if (orphan.state == SeriesState::Complete)  // already complete: only its route job is missing
      id = jobs.enqueue(NewJob{JobKind::Route, orphan.study_uid, orphan.series_uid, "", "", routePayload({}), 0, 3});
    else
      id = routes.reroute(orphan.series_uid, orphan.study_uid, {}, why);
    if (id == 0) continue;
    report.series_routed_again++;
    report.findings.push_back(fmt::format("series {} was {} without an active job: routed again (job {})",
                                          orphan.series_uid, toString(orphan.state), id));
  }

  // Only recent renders: an older one without sends was made while its rule's
  // destinations were not configured, and must not be sent now unasked.
  const std::string since = isoUtc(std::chrono::system_clock::now() - std::chrono::hours(24));
  for (const auto& render : jobs.rendersWithoutSends(since)) {
    auto sends = sendJobsFor(render, rules, index.series(render.series_uid), destinations, send_max_attempts);
    for (const auto& send : sends) {
      int64_t id = jobs.enqueue(send);
      report.send_jobs_queued++;
      report.findings.push_back(fmt::format("render job {} succeeded without a send job to {}: send job {} queued",
                                            render.id, send.destination, id));
    }
  }

  for (auto state : {JobState::Queued, JobState::Retry}) {
    for (const auto& send : jobs.list({state, JobKind::Send, "", "", 100000})) {
      int64_t render_job = renderJobOf(send);
      std::string missing;
      for (const auto& output : jobs.outputs(render_job))
        if (!output.file_path.empty() && !std::filesystem::exists(results_root / output.file_path))
          missing = output.file_path;
      if (missing.empty()) continue;
      std::string why = fmt::format("the outputs of render job {} are gone ({} is missing)", render_job, missing);
      if (jobs.abandon(send.id, why)) {
        report.send_jobs_abandoned++;
        report.findings.push_back(fmt::format("send job {}: {}", send.id, why));
      }
    }
  }
  for (auto state : {JobState::Queued, JobState::Retry}) {
    for (const auto& retrieve : jobs.list({state, JobKind::Retrieve, "", "", 100000})) {
      const std::string what = retrieve.series_uid.empty() ? "study " + retrieve.study_uid
                                                           : "series " + retrieve.series_uid;
      if (destinations.count(retrieve.destination)) {
        report.retrievals_resumed++;
        report.findings.push_back(fmt::format("retrieve job {} ({} from {}, {} attempt(s) so far) resumes",
                                              retrieve.id, what, retrieve.destination, retrieve.attempts));
        continue;
      }
      std::string why = fmt::format("start-up repair: the peer '{}' it retrieves {} from is no longer configured",
                                    retrieve.destination, what);
      if (jobs.abandon(retrieve.id, why)) {
        report.retrievals_failed++;
        report.findings.push_back(fmt::format("retrieve job {}: {}", retrieve.id, why));
      }
    }
  }
  for (const auto& finding : report.findings) log->warn("{}", finding);
  return report;
}

}  // namespace volnode
