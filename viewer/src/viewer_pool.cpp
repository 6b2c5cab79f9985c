#include "volnode/viewer/viewer_pool.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <condition_variable>
#include <cstring>
#include <mutex>
#include <thread>

#include <fmt/format.h>

#include "volnode/workflow/child_start.hpp"

#include "volnode/core/logging.hpp"

namespace volnode::viewer {
namespace {

ViewerReply unavailable(const std::string& message, int retry_after_s) {
  ViewerReply reply;
  reply.status = 503;
  reply.error = message;
  reply.headers["Retry-After"] = std::to_string(retry_after_s);
  return reply;
}

}  // namespace

struct ViewerPool::Impl {
  struct Slot {
    int number = 0;
    pid_t pid = -1;
    int socket = -1;
    bool busy = false;
    std::string last_series;
    std::chrono::steady_clock::time_point last_user_request{};  // epoch: never
    std::thread log_relay;
  };

  ViewerPoolSettings settings;
  mutable std::mutex mutex;
  std::condition_variable freed;
  std::vector<Slot> slots;
  ViewerPoolStatus counts;
  bool stopping = false;

  explicit Impl(ViewerPoolSettings s) : settings(std::move(s)), slots(size_t(std::max(1, settings.workers))) {
    for (size_t n = 0; n < slots.size(); ++n) slots[n].number = int(n);
  }

  // Starts the slot's worker; the caller holds the slot (busy).
  bool spawn(Slot& slot) {
    const StartedChild child = startChild(settings.command, slot.number);
    if (child.pid < 0) return false;
    const pid_t pid = child.pid;
    if (slot.log_relay.joinable()) slot.log_relay.join();  // the previous worker's relay ended at its EOF
    slot.log_relay = std::thread([fd = child.log, name = fmt::format("{}-{}-{}", settings.name, slot.number, pid)] {
      auto logger = moduleLogger("viewer");
      std::string buffer;
      char chunk[4096];
      ssize_t n;
      while ((n = ::read(fd, chunk, sizeof chunk)) > 0) {
        buffer.append(chunk, size_t(n));
        for (size_t end; (end = buffer.find('\n')) != std::string::npos; buffer.erase(0, end + 1)) {
          const std::string line = buffer.substr(0, end);
          const size_t module = line.find('[');  // drop the worker's own time and level
          logger->info("{}: {}", name, module != std::string::npos ? line.substr(module) : line);
        }
        if (buffer.size() > 65536) buffer.clear();
      }
      ::close(fd);
    });
    slot.pid = pid;
    slot.socket = child.control;
    moduleLogger("viewer")->info("{} worker {}-{}-{} started", settings.name, settings.name, slot.number, pid);
    return true;
  }

  void kill(Slot& slot) {
    if (slot.socket >= 0) ::close(slot.socket);
    slot.socket = -1;
    if (slot.pid > 0) {
      ::kill(slot.pid, SIGKILL);
      ::waitpid(slot.pid, nullptr, 0);
    }
    slot.pid = -1;
    slot.last_series.clear();
  }

  // Claims a worker, sends the request and waits for its reply (never throws).
  ViewerReply askWorker(const ViewerRequest& request);

  // A free slot, preferring the one that served `series` last; null after the wait.
  Slot* claim(const std::string& series, std::unique_lock<std::mutex>& lock) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(settings.wait_s);
    while (!stopping) {
      Slot* chosen = nullptr;
      for (auto& slot : slots) {
        if (slot.busy) continue;
        if (slot.last_series == series) {
          chosen = &slot;
          break;
        }
        // Otherwise a running worker over one still to be started, the least useful cache first.
        if (!chosen || (chosen->pid < 0 && slot.pid > 0)) chosen = &slot;
      }
      if (chosen) {
        chosen->busy = true;
        return chosen;
      }
      if (freed.wait_until(lock, deadline) == std::cv_status::timeout) return nullptr;
    }
    return nullptr;
  }
};

ViewerPool::ViewerPool(ViewerPoolSettings settings) : impl_(std::make_unique<Impl>(std::move(settings))) {
  impl_->counts.workers = int(impl_->slots.size());
}

ViewerPool::~ViewerPool() { stop(); }

void ViewerPool::start() {
  std::lock_guard lock(impl_->mutex);
  for (auto& slot : impl_->slots)
    if (slot.pid < 0 && !slot.busy && !impl_->spawn(slot))
      moduleLogger("viewer")->warn("cannot start {} worker {}: {}; it is tried again on the first request",
                                   impl_->settings.name, slot.number, std::strerror(errno));
}

ViewerReply ViewerPool::ask(const ViewerRequest& request) {
  const auto started = std::chrono::steady_clock::now();
  ViewerReply reply = impl_->askWorker(request);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  std::lock_guard lock(impl_->mutex);
  impl_->counts.metrics.record(request, reply, seconds);
  return reply;
}

ViewerReply ViewerPool::Impl::askWorker(const ViewerRequest& request) {
  auto& d = *this;
  std::unique_lock lock(d.mutex);
  Impl::Slot* slot = d.claim(request.series_uid, lock);
  if (!slot) {
    ++d.counts.refused_busy;
    return unavailable(fmt::format("all {} {} workers are busy{}; try again in a moment", d.slots.size(),
                                   d.settings.name,
                                   d.settings.limit_setting.empty() ? "" : " (" + d.settings.limit_setting + ")"),
                       1);
  }
  // Reap a worker that died while idle; start one when there is none.
  if (slot->pid > 0 && ::waitpid(slot->pid, nullptr, WNOHANG) == slot->pid) {
    slot->pid = -1;
    ++d.counts.worker_deaths;
    d.kill(*slot);
  }
  if (slot->pid < 0 && !d.spawn(*slot)) {
    slot->busy = false;
    d.freed.notify_one();
    return unavailable(fmt::format("cannot start a {} worker: {}", d.settings.name, std::strerror(errno)), 5);
  }
  const int socket = slot->socket;
  lock.unlock();

  std::optional<ViewerReply> reply;
  if (sendRequest(socket, request)) reply = receiveReply(socket, int(d.settings.request_timeout_s * 1000));

  lock.lock();
  slot->last_user_request = std::chrono::steady_clock::now();
  if (reply) {
    slot->last_series = request.series_uid;
    ++d.counts.answered;
  } else {
    moduleLogger("viewer")->warn("{} worker {} died or hung on {}; it is started again", d.settings.name, slot->pid,
                                 request.series_uid);
    ++d.counts.worker_deaths;
    d.kill(*slot);
  }
  slot->busy = false;
  d.freed.notify_one();
  if (!reply) return unavailable(fmt::format("the {} worker stopped while answering; try again", d.settings.name), 1);
  return *reply;
}

PrepareOutcome ViewerPool::prepare(const std::string& series_uid) {
  auto& d = *impl_;
  std::unique_lock lock(d.mutex);
  const auto now = std::chrono::steady_clock::now();
  const auto spare = std::chrono::duration<double>(d.settings.prepare_spares_user_s);
  Impl::Slot* slot = nullptr;
  for (auto& s : d.slots) {
    if (s.last_series == series_uid) return PrepareOutcome::AlreadyWarm;
    if (d.stopping || s.busy || s.pid < 0) continue;  // a worker dead meanwhile fails the send: started again
    if (s.last_user_request.time_since_epoch().count() != 0 && now - s.last_user_request < spare) continue;
    if (!slot) slot = &s;
  }
  if (!slot) return PrepareOutcome::NoWorker;
  slot->busy = true;
  const int socket = slot->socket;
  lock.unlock();

  std::optional<ViewerReply> reply;
  if (sendRequest(socket, {"prepare", series_uid, {}}))
    reply = receiveReply(socket, int(d.settings.request_timeout_s * 1000));

  lock.lock();
  const bool prepared = reply && reply->status == 200;
  if (prepared) {
    slot->last_series = series_uid;
    ++d.counts.prepared;
  } else if (!reply) {
    moduleLogger("viewer")->warn("viewer worker {} died or hung preparing series {}; it is started again", slot->pid,
                                 series_uid);
    ++d.counts.worker_deaths;
    d.kill(*slot);
  } else {
    moduleLogger("viewer")->info("series {} not prepared for the viewer: {}", series_uid, reply->error);
  }
  slot->busy = false;
  d.freed.notify_one();
  return prepared ? PrepareOutcome::Prepared : PrepareOutcome::Failed;
}

ViewerPoolStatus ViewerPool::status() const {
  std::lock_guard lock(impl_->mutex);
  ViewerPoolStatus s = impl_->counts;
  for (const auto& slot : impl_->slots) {
    s.running += slot.pid > 0;
    s.busy += slot.busy;
  }
  return s;
}

void ViewerPool::stop() {
  if (!impl_) return;
  std::unique_lock lock(impl_->mutex);
  impl_->stopping = true;
  impl_->freed.notify_all();
  for (auto& slot : impl_->slots) {
    // A busy slot's request fails when its socket closes under it.
    if (slot.pid > 0) ::kill(slot.pid, SIGKILL);
  }
  for (auto& slot : impl_->slots) {
    if (slot.busy) continue;  // its asker cleans up
    impl_->kill(slot);
  }
  lock.unlock();
  for (auto& slot : impl_->slots)
    if (slot.log_relay.joinable()) slot.log_relay.join();
}

}  // namespace volnode::viewer
