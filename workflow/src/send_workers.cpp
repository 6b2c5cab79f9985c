#include "volnode/workflow/send_workers.hpp"

#include <pthread.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <set>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "volnode/core/error.hpp"
#include "volnode/core/fault_point.hpp"
#include "volnode/core/logging.hpp"
#include "volnode/workflow/object_delivery.hpp"

namespace volnode {
namespace {

constexpr double kSendLeaseS = 300;
constexpr const char* kSenderName = "export";  // the lease owner of send jobs (one sender thread)

double jitter() {
  thread_local std::mt19937 engine(std::random_device{}());
  return std::uniform_real_distribution<double>(0.8, 1.2)(engine);
}

std::string hex(uint16_t status) { return fmt::format("0x{:04X}", status); }

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
  while (!waker_.stopped()) {
    std::optional<Job> job;
    try {
      job = jobs_.claimNext({JobKind::Send}, kSenderName, kSendLeaseS);
      if (job) sendOne(*job);
    } catch (const std::exception& e) {
      log->error("export worker: {}", e.what());
      if (job) jobs_.fail(job->id, kSenderName, e.what(), retryDelaySeconds(sending_, job->attempts, jitter()));
    }
    if (!job) waker_.wait(1.0);
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

  // Resume: only what this destination has not acknowledged yet.
  std::vector<std::filesystem::path> files;
  std::map<std::string, std::string> description_of;  // sop uid -> description
  size_t total = 0;
  for (const auto& output : jobs_.outputs(render_job)) {
    if (output.file_path.empty()) continue;
    ++total;
    if (jobs_.delivered(destination.name, output.sop_uid)) continue;
    files.push_back(results_root_ / output.file_path);
    description_of[output.sop_uid] = output.description;
  }
  if (total == 0) {
    jobs_.failPermanently(job.id, kSenderName, "render job " + std::to_string(render_job) + " has no output to send");
    return;
  }
  jobs_.heartbeat(job.id, kSenderName, kSendLeaseS, "send to " + destination.name,
                  100.0 * static_cast<double>(total - files.size()) / static_cast<double>(total));

  auto refused = jobs_.refusedSopClasses(destination.name);
  auto delivery = makeObjectDelivery(destination, calling_aet_);
  auto report = delivery->deliver(files, std::set<std::string>(refused.begin(), refused.end()));
  for (const auto& sop_class : report.refused_sop_classes) jobs_.recordRefusedSopClass(destination.name, sop_class);

  std::vector<std::string> errors, warnings, not_accepted;
  size_t not_sent = 0;  // files that failed with the exchange as a whole: one error line, not one each
  for (const auto& file : report.files) {
    switch (file.outcome) {
      case SendOutcome::Delivered:
        jobs_.recordDelivery(destination.name, file.sop_instance_uid, file.status, "");
        break;
      case SendOutcome::Warning:
        jobs_.recordDelivery(destination.name, file.sop_instance_uid, file.status, file.text);
        warnings.push_back(description_of[file.sop_instance_uid] + ": " + hex(file.status) + " " + file.text);
        log->warn("send job {}: {} stored by {} with warning {}: {}", job.id, file.sop_instance_uid, destination.name,
                  hex(file.status), file.text);
        break;
      case SendOutcome::NotAccepted:
        not_accepted.push_back(description_of[file.sop_instance_uid]);
        break;
      case SendOutcome::Failed:
        if (permanentRefusal(file)) {
          // Send the rest, remember the refusal, and do not offer this class again.
          jobs_.recordRefusedSopClass(destination.name, file.sop_class_uid);
          not_accepted.push_back(description_of[file.sop_instance_uid] + " (" + hex(file.status) + ")");
          log->warn("send job {}: {} refused {} with {}: {}", job.id, destination.name, file.sop_instance_uid,
                    hex(file.status), file.text);
          break;
        }
        if (!file.has_status && report.association != AssociationFailure::None && file.text == report.association_error) {
          ++not_sent;
          break;
        }
        errors.push_back(description_of[file.sop_instance_uid] + ": " +
                         (file.has_status ? hex(file.status) + " " : std::string()) + file.text);
        break;
    }
  }
  if (report.association != AssociationFailure::None && report.files.empty())
    errors.push_back(report.association_error);
  if (not_sent > 0) errors.push_back(fmt::format("{} object(s) not sent: {}", not_sent, report.association_error));

  faultPoint("send-recorded");
  if (errors.empty()) {
    std::string warning;
    if (!not_accepted.empty()) {
      warning = fmt::format("{} refused {} object(s) of a SOP class it does not accept ({})", destination.name,
                            not_accepted.size(), fmt::join(not_accepted, ", "));
    }
    if (!warnings.empty()) warning += (warning.empty() ? "" : "; ") + fmt::format("{}", fmt::join(warnings, "; "));
    jobs_.succeed(job.id, kSenderName, JobSuccess{warning, std::nullopt, {}});
    log->info("send job {}: {} object(s) delivered to {} ({}){}", job.id, total - not_accepted.size(),
              destination.name, delivery->peerDescription(), warning.empty() ? "" : "; " + warning);
    return;
  }
  std::string error = fmt::format("{} ({}): {}", destination.name, delivery->peerDescription(), fmt::join(errors, "; "));
  if (error.size() > 500) error = error.substr(0, 500) + "...";
  double delay = retryDelaySeconds(sending_, job.attempts, jitter());
  auto state = jobs_.fail(job.id, kSenderName, error, delay);
  if (!state) return;  // canceled meanwhile
  log->warn("send job {} {} (next try in {:.0f} s): {}", job.id, toString(*state), state == JobState::Retry ? delay : 0.0,
            error);
}

}  // namespace volnode
