#include "volnode/workflow/cluster_presence.hpp"

#include <pthread.h>
#include <unistd.h>

#include <climits>

#include "volnode/core/logging.hpp"
#include "volnode/storage/job_queue.hpp"

namespace volnode {

std::string thisHostName() {
  char host[HOST_NAME_MAX + 1] = {};
  if (::gethostname(host, sizeof host - 1) != 0 || host[0] == '\0') return "localhost";
  return host;
}

ClusterPresence::ClusterPresence(ClusterMembers& members, PresenceSettings settings)
    : members_(members), settings_(std::move(settings)) {}

ClusterPresence::~ClusterPresence() { stop(); }

void ClusterPresence::start() {
  id_ = members_.join(settings_.member);
  moduleLogger("app")->info("cluster: joined as member {} ({} on {}, pid {})", id_.load(), settings_.member.role,
                            settings_.member.host, settings_.member.pid);
  thread_ = std::thread([this] { run(); });
}

void ClusterPresence::stop() {
  if (!thread_.joinable()) return;
  waker_.stop();
  thread_.join();
  try {
    members_.leave(id_);
  } catch (const std::exception& e) {
    moduleLogger("app")->warn("cluster: cannot remove member {}: {}; it shows as stale", id_.load(), e.what());
  }
}

void ClusterPresence::run() {
  pthread_setname_np(pthread_self(), "presence");
  while (waker_.wait(settings_.member.heartbeat_s)) beat();
}

void ClusterPresence::beat() {
  auto log = moduleLogger("app");
  try {
    const auto jobs = settings_.current_jobs ? settings_.current_jobs() : std::vector<int64_t>{};
    if (!members_.heartbeat(id_, jobs)) {
      // Forgotten while this process could not reach the database for a day: join anew.
      id_ = members_.join(settings_.member);
      members_.heartbeat(id_, jobs);
    }
    members_.forgetLongGone();
    if (settings_.requeue_expired) {
      if (int requeued = settings_.requeue_expired->requeueExpiredLeases()) {
        log->warn("{} job(s) whose worker stopped answering were queued again", requeued);
        if (settings_.on_requeued) settings_.on_requeued();
      }
    }
    if (reported_) log->info("cluster: heartbeat recorded again (member {})", id_.load());
    reported_ = false;
  } catch (const std::exception& e) {
    if (!reported_) log->warn("cluster: cannot record the heartbeat of member {}: {}", id_.load(), e.what());
    reported_ = true;
  }
}

}  // namespace volnode
