#include "volnode/workflow/send_workers.hpp"

#include <pthread.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <random>
#include <set>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "volnode/core/error.hpp"
#include "volnode/core/fault_point.hpp"
#include "volnode/core/logging.hpp"
#include "volnode/workflow/index_outage.hpp"
#include "volnode/workflow/object_delivery.hpp"

namespace volnode {
namespace {

constexpr double kSendLeaseS = 300;
constexpr const char* kSenderName = "export";  // the lease owner of send jobs (one sender thread)
// A send job whose render job still runs looks again after this at the latest (the
// render wakes it as soon as it releases more objects).
constexpr double kWaitForRenderS = 2.0;
// While the render runs a pass sends at most this many objects per association, then
// looks again for what was encoded meanwhile (about a second's worth to a PACS that
// commits each instance before it answers).
constexpr size_t kObjectsPerAssociationAndPass = 16;
// Reformat slices (render_job.cpp plans them under this kind) go after the 3D results.
constexpr const char* kReformatKind = "reformat";

double jitter() {
  thread_local std::mt19937 engine(std::random_device{}());
  return std::uniform_real_distribution<double>(0.8, 1.2)(engine);
}

std::string hex(uint16_t status) { return fmt::format("0x{:04X}", status); }

using Clock = std::chrono::steady_clock;
double msSince(Clock::time_point start) { return std::chrono::duration<double, std::milli>(Clock::now() - start).count(); }

// A failure that no retry will change: the destination will not take this kind
// of object (0x0122 SOP class not supported, 0xA9xx data set does not match, 0xCxxx
// cannot understand). 0xA7xx (out of resources) is worth retrying.
bool permanentRefusal(const FileSendResult& file) {
  if (!file.has_status) return false;
  return file.status == 0x0122 || (file.status & 0xFF00) == 0xA900 || (file.status & 0xF000) == 0xC000;
}

}  // namespace

double retryDelaySeconds(const SendingConfig& config, int attempt, double jitter_factor) {
  double delay = config.retry_initial_s * std::pow(2.0, std::max(0, attempt - 1));
  return std::min(delay, config.retry_max_s) * jitter_factor;
}

SendWorkers::SendWorkers(const SendingConfig& sending, std::map<std::string, Destination> destinations,
                         std::string calling_aet, std::filesystem::path results_root, JobQueue& jobs)
    : sending_(sending), destinations_(std::move(destinations)), calling_aet_(std::move(calling_aet)),
      results_root_(std::move(results_root)), jobs_(jobs) {}

SendWorkers::~SendWorkers() { stop(); }

void SendWorkers::start() { thread_ = std::thread([this] { run(); }); }

void SendWorkers::stop() {
  waker_.stop();
  if (thread_.joinable()) thread_.join();
}

void SendWorkers::run() {
  pthread_setname_np(pthread_self(), "export");
  auto log = moduleLogger("pipeline");
  // A send an outage cut off is not failed: it goes back to the queue, uncounted,
  // once the index answers again (what the destination acknowledged is recorded).
  IndexOutage outage("export worker");
  std::optional<int64_t> interrupted;
  while (!waker_.stopped()) {
    std::optional<Job> job;
    try {
      if (interrupted) {
        jobs_.returnInterrupted(*interrupted, kSenderName, "the index could not be reached during the attempt");
        interrupted.reset();
      }
      job = jobs_.claimNext({JobKind::Send}, kSenderName, kSendLeaseS);
      outage.answered();
      if (job) sendOne(*job);
    } catch (const std::exception& e) {
      if (outage.interrupted(e)) {
        if (job) interrupted = job->id;
        job.reset();  // wait before the next try
      } else {
        log->error("export worker: {}", e.what());
        try {
          if (job) jobs_.fail(job->id, kSenderName, e.what(), retryDelaySeconds(sending_, job->attempts, jitter()));
        } catch (const std::exception& again) {  // its lease runs out and the job is queued again
          if (outage.interrupted(again))
            interrupted = job->id;
          else
            log->error("export worker: job {}: {}", job->id, again.what());
          job.reset();
        }
      }
    }
    if (!job) waker_.wait(outage.waitSeconds(1.0));
  }
}

void SendWorkers::sendOne(const Job& job) {
  auto log = moduleLogger("pipeline");
  auto found = destinations_.find(job.destination);
  if (found == destinations_.end()) {
    jobs_.failPermanently(job.id, kSenderName, "destination '" + job.destination + "' is not configured");
    return;
  }
  const Destination& destination = found->second;
  auto payload = nlohmann::json::parse(job.payload, nullptr, false);
  int64_t render_job = payload.is_object() ? payload.value("render_job", int64_t{0}) : 0;

  // While the render job runs, its objects go out as they are encoded: each pass sends
  // what is ready, and the job steps back into the queue until more is. It ends once
  // the render job has, with everything the destination took or refused.
  std::set<std::string> offered;       // sop uids offered in this claim while the render ran
  std::vector<std::string> warnings;   // stored with a warning status, over all passes of this claim
  while (true) {
    const auto pass_started = Clock::now();
    // Objects first, then the render's state: what a canceled render recorded after
    // its cancellation is never taken for the output of a running one. Once it has
    // succeeded its objects are read again: all of them were recorded by then.
    auto outputs = jobs_.outputsWithDelivery(render_job, destination.name);
    const auto render = jobs_.get(render_job);
    const bool rendering = render && isActive(render->state);
    if (render && render->state == JobState::Succeeded) outputs = jobs_.outputsWithDelivery(render_job, destination.name);
    if (render && !rendering && render->state != JobState::Succeeded) {
      jobs_.failPermanently(job.id, kSenderName,
                            fmt::format("render job {} {}: its remaining objects are not sent", render_job,
                                        toString(render->state)));
      return;
    }
    // The 3D results first: a reformat slice waits behind a spin or model encoded after it.
    std::stable_partition(outputs.begin(), outputs.end(),
                          [](const OutputDelivery& o) { return o.output.kind != kReformatKind; });

    // Resume: only what this destination has not acknowledged yet.
    const auto refused = jobs_.refusedSopClasses(destination.name);
    std::vector<std::filesystem::path> files;
    std::vector<std::string> sops;
    std::map<std::string, std::string> description_of;  // sop uid -> description
    size_t total = 0, undelivered = 0;
    const size_t pass_limit = kObjectsPerAssociationAndPass * static_cast<size_t>(std::max(1, destination.associations));
    for (const auto& [output, delivered] : outputs) {
      if (output.file_path.empty()) continue;  // not encoded (yet)
      ++total;
      if (delivered) continue;
      ++undelivered;
      // A pass of a running render offers each object once and not what the destination
      // refused before, and at most pass_limit of them, so that what is encoded meanwhile
      // (the 3D results first) is not held up by a long pass; the last pass offers all
      // that is left (and reports the refusals).
      if (rendering && (offered.count(output.sop_uid) || files.size() >= pass_limit ||
                        std::find(refused.begin(), refused.end(), output.sop_class_uid) != refused.end()))
        continue;
      files.push_back(results_root_ / output.file_path);
      sops.push_back(output.sop_uid);
      description_of[output.sop_uid] = output.description;
    }
    if (total == 0 && !rendering) {
      jobs_.failPermanently(job.id, kSenderName, "render job " + std::to_string(render_job) + " has no output to send");
      return;
    }
    if (files.empty() && rendering) {
      jobs_.yieldBack(job.id, kSenderName, kWaitForRenderS, "waiting for render job " + std::to_string(render_job));
      return;
    }
    if (files.empty()) {  // the render is done and the destination holds all of it
      finish(job, destination, total, warnings, {}, "");
      return;
    }
    offered.insert(sops.begin(), sops.end());
    jobs_.heartbeat(job.id, kSenderName, kSendLeaseS, "send to " + destination.name,
                    100.0 * static_cast<double>(total - undelivered) / static_cast<double>(total));

    const double query_ms = msSince(pass_started);
    const auto deliver_started = Clock::now();
    Destination lanes = destination;
    lanes.associations = association_limits_.associationsFor(destination);
    auto delivery = makeObjectDelivery(lanes, calling_aet_);
    auto report = delivery->deliver(files, std::set<std::string>(refused.begin(), refused.end()));
    const double deliver_ms = msSince(deliver_started);
    if (association_limits_.recordSend(destination, report.associations_opened, report.associations_turned_away))
      log->info("send job {}: {} took {} of {} associations at once; its sends open {} for the next {} min", job.id,
                destination.name, report.associations_opened - report.associations_turned_away,
                report.associations_opened, report.associations_opened - report.associations_turned_away,
                AssociationLimits::kRemembered.count());
    const auto record_started = Clock::now();
    std::set<std::string> refused_classes = report.refused_sop_classes;
    std::vector<DeliveryRecord> acknowledged;  // recorded in one transaction after the pass
    std::vector<std::string> errors, not_accepted;
    size_t not_sent = 0;  // files that failed with the exchange as a whole: one error line, not one each
    for (const auto& file : report.files) {
      switch (file.outcome) {
        case SendOutcome::Delivered:
          acknowledged.push_back({file.sop_instance_uid, file.status, ""});
          break;
        case SendOutcome::Warning:
          acknowledged.push_back({file.sop_instance_uid, file.status, file.text});
          warnings.push_back(description_of[file.sop_instance_uid] + ": " + hex(file.status) + " " + file.text);
          log->warn("send job {}: {} stored by {} with warning {}: {}", job.id, file.sop_instance_uid,
                    destination.name, hex(file.status), file.text);
          break;
        case SendOutcome::NotAccepted:
          not_accepted.push_back(description_of[file.sop_instance_uid]);
          break;
        case SendOutcome::Failed:
          if (permanentRefusal(file)) {
            // Send the rest, remember the refusal, and do not offer this class again.
            refused_classes.insert(file.sop_class_uid);
            not_accepted.push_back(description_of[file.sop_instance_uid] + " (" + hex(file.status) + ")");
            log->warn("send job {}: {} refused {} with {}: {}", job.id, destination.name, file.sop_instance_uid,
                      hex(file.status), file.text);
            break;
          }
          if (!file.has_status && report.association != AssociationFailure::None &&
              file.text == report.association_error) {
            ++not_sent;
            break;
          }
          errors.push_back(description_of[file.sop_instance_uid] + ": " +
                           (file.has_status ? hex(file.status) + " " : std::string()) + file.text);
          break;
      }
    }
    // The acknowledgements first: what the PACS holds must be recorded before anything
    // else of the pass can fail (the database away), or all of it would be sent again.
    jobs_.recordDeliveries(destination.name, acknowledged);
    for (const auto& sop_class : refused_classes) jobs_.recordRefusedSopClass(destination.name, sop_class);
    if (report.association != AssociationFailure::None && report.files.empty())
      errors.push_back(report.association_error);
    if (not_sent > 0) errors.push_back(fmt::format("{} object(s) not sent: {}", not_sent, report.association_error));

    log->debug("send job {}: pass of {} object(s) to {}: index queries {:.0f} ms, delivery {:.0f} ms, recording {:.0f} ms",
               job.id, files.size(), destination.name, query_ms, deliver_ms, msSince(record_started));
    faultPoint("send-recorded");
    if (errors.empty()) {
      if (rendering) continue;  // more may be ready, or the render may have ended meanwhile
      finish(job, destination, total, warnings, not_accepted, delivery->peerDescription());
      return;
    }
    std::string error =
        fmt::format("{} ({}): {}", destination.name, delivery->peerDescription(), fmt::join(errors, "; "));
    if (error.size() > 500) error = error.substr(0, 500) + "...";
    double delay = retryDelaySeconds(sending_, job.attempts, jitter());
    if (rendering && job.attempts >= job.max_attempts) {
      // The last attempt is not spent while the render still produces objects: they
      // would never be offered. Wait (back-off) and try again with all of them.
      jobs_.yieldBack(job.id, kSenderName, delay, "waiting for render job " + std::to_string(render_job));
      log->warn("send job {} waits {:.0f} s for render job {} to end: {}", job.id, delay, render_job, error);
      return;
    }
    auto state = jobs_.fail(job.id, kSenderName, error, delay);
    if (!state) return;  // canceled meanwhile
    log->warn("send job {} {} (next try in {:.0f} s): {}", job.id, toString(*state),
              state == JobState::Retry ? delay : 0.0, error);
    return;
  }
}

void SendWorkers::finish(const Job& job, const Destination& destination, size_t total,
                         const std::vector<std::string>& warnings, const std::vector<std::string>& not_accepted,
                         const std::string& peer) {
  std::string warning;
  if (!not_accepted.empty()) {
    warning = fmt::format("{} refused {} object(s) of a SOP class it does not accept ({})", destination.name,
                          not_accepted.size(), fmt::join(not_accepted, ", "));
  }
  if (!warnings.empty()) warning += (warning.empty() ? "" : "; ") + fmt::format("{}", fmt::join(warnings, "; "));
  jobs_.succeed(job.id, kSenderName, JobSuccess{warning, std::nullopt, {}});
  moduleLogger("pipeline")->info("send job {}: {} object(s) delivered to {}{}{}", job.id, total - not_accepted.size(),
                                 destination.name, peer.empty() ? "" : " (" + peer + ")",
                                 warning.empty() ? "" : "; " + warning);
}

}  // namespace volnode
