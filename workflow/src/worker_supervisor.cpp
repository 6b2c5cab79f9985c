#include "volnode/workflow/worker_supervisor.hpp"

#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <mutex>

#include <fmt/format.h>

#include "volnode/core/error.hpp"
#include "volnode/core/logging.hpp"
#include "volnode/core/stage_timings.hpp"
#include "volnode/workflow/child_start.hpp"
#include "volnode/workflow/cluster_presence.hpp"

namespace volnode {
namespace {

using Clock = std::chrono::steady_clock;

constexpr double kStopGraceS = 5;          // SIGTERM, then SIGKILL after this
constexpr double kQuickDeathS = 5;         // a worker dying this soon without a job is failing to start
constexpr double kMaxRestartDelayS = 30;


std::string signalName(int signal) {
  const char* abbreviation = sigabbrev_np(signal);
  return abbreviation ? std::string("SIG") + abbreviation : "signal " + std::to_string(signal);
}

// "while assembling series X": what the job was doing when its worker died.
std::string activity(const Job& job) {
  if (job.kind == JobKind::Route) return "routing";
  const std::string& stage = job.progress_stage;
  if (stage.empty()) return "starting the render of";
  if (stage == "assemble") return "assembling";
  if (stage == "preprocess") return "preprocessing";
  if (stage.rfind("mesh", 0) == 0) return "meshing";
  return "rendering (" + stage + ")";
}

void setNonBlocking(int fd) { ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK); }

// A worker's log line ("2026-12-04 21:00:00.000 error [pipeline] text") back at its level.
void relayLogLine(const std::string& worker, const std::string& line) {
  auto log = moduleLogger("worker");
  auto level = spdlog::level::info;
  if (line.size() > 24) {
    std::string word = line.substr(24, line.find(' ', 24) - 24);
    if (word == "error" || word == "critical") level = spdlog::level::err;
    else if (word == "warning" || word == "warn") level = spdlog::level::warn;
    else if (word == "debug" || word == "trace") level = spdlog::level::debug;
  }
  size_t module = line.find('[', 24);  // drop the worker's own time and level
  log->log(level, "{}: {}", worker, module != std::string::npos ? line.substr(module) : line);
}

}  // namespace

std::string workerLeaseName(int slot, int pid) { return fmt::format("worker-{}-{}@{}", slot, pid, thisHostName()); }

struct WorkerSupervisor::Impl {
  struct Slot {
    int number = 0;
    pid_t pid = -1;
    std::string name;
    int control = -1;   // our end of the worker's socket
    int log = -1;       // read end of the worker's stderr
    std::string control_buffer, log_buffer;
    int64_t job_id = 0;
    Clock::time_point job_started, started;
    bool timed_out = false;
    int quick_deaths = 0;
    Clock::time_point restart_at;
  };

  WorkerPoolSettings settings;
  JobQueue& jobs;
  std::function<void()> on_job_finished;
  mutable std::mutex mutex;  // guards slots' pid/name/job for status()
  std::vector<Slot> slots;
  SupervisorCounts counts;
  // Jobs of workers that ended for a lost index connection: handed back once it answers.
  std::vector<std::pair<int64_t, std::string>> interrupted;  // job id, its worker's name
  Clock::time_point next_hand_back;
  int wake_pipe[2] = {-1, -1};
  std::atomic<bool> stopping{false};
  std::thread thread;

  Impl(WorkerPoolSettings s, JobQueue& j, std::function<void()> f)
      : settings(std::move(s)), jobs(j), on_job_finished(std::move(f)) {}

  void spawn(Slot& slot) {
    const StartedChild child = startChild(settings.command, slot.number);
    if (child.pid < 0) throw Error(Errc::Internal, "cannot start a worker: " + child.problem);
    setNonBlocking(child.control);
    setNonBlocking(child.log);
    std::lock_guard lock(mutex);
    slot.pid = child.pid;
    slot.name = workerLeaseName(slot.number, child.pid);
    slot.control = child.control;
    slot.log = child.log;
    slot.control_buffer.clear();
    slot.log_buffer.clear();
    slot.job_id = 0;
    slot.timed_out = false;
    slot.started = Clock::now();
    moduleLogger("pipeline")->info("{} started", slot.name);
  }

  void closeFds(Slot& slot) {
    if (slot.control >= 0) ::close(slot.control);
    if (slot.log >= 0) {
      drainLog(slot);
      ::close(slot.log);
    }
    slot.control = slot.log = -1;
  }

  void drainLog(Slot& slot) {
    char buffer[4096];
    ssize_t n;
    while ((n = ::read(slot.log, buffer, sizeof buffer)) > 0) slot.log_buffer.append(buffer, static_cast<size_t>(n));
    if (n == 0) {  // the worker closed its stderr (it is exiting): stop polling it
      ::close(slot.log);
      slot.log = -1;
    }
    for (size_t end; (end = slot.log_buffer.find('\n')) != std::string::npos;) {
      relayLogLine(slot.name, slot.log_buffer.substr(0, end));
      slot.log_buffer.erase(0, end + 1);
    }
    if (slot.log_buffer.size() > 65536) slot.log_buffer.clear();  // a line that never ends
  }

  void readControl(Slot& slot) {
    char buffer[512];
    ssize_t n;
    while ((n = ::read(slot.control, buffer, sizeof buffer)) > 0) slot.control_buffer.append(buffer, static_cast<size_t>(n));
    if (n == 0) {  // the worker closed its end (it is exiting): stop polling it
      ::close(slot.control);
      slot.control = -1;
    }
    bool finished = false, released = false;
    for (size_t end; (end = slot.control_buffer.find('\n')) != std::string::npos;) {
      std::string line = slot.control_buffer.substr(0, end);
      slot.control_buffer.erase(0, end + 1);
      std::lock_guard lock(mutex);
      if (line.rfind("claimed ", 0) == 0) {
        slot.job_id = std::atoll(line.c_str() + 8);
        slot.job_started = Clock::now();
      } else if (line.rfind("finished ", 0) == 0) {
        slot.job_id = 0;
        finished = true;
      } else if (line.rfind("interrupted ", 0) == 0) {
        interrupted.emplace_back(std::atoll(line.c_str() + 12), slot.name);
      } else if (line.rfind("released ", 0) == 0) {
        released = true;  // a running render queued send jobs for objects it encoded
      }
    }
    if (slot.control_buffer.size() > 4096) slot.control_buffer.clear();
    if (released && !finished && on_job_finished) on_job_finished();
    if (finished) {
      if (on_job_finished) on_job_finished();
      wakeAll();  // a route job may have queued a render for another worker
    }
  }

  void wakeAll() {
    for (auto& slot : slots)
      if (slot.control >= 0 && slot.job_id == 0) {
        [[maybe_unused]] auto ignored = ::send(slot.control, "w", 1, MSG_DONTWAIT | MSG_NOSIGNAL);
      }
  }

  // Jobs whose workers lost the index go back to the queue, uncounted, once it answers.
  void handBackInterrupted() {
    if (interrupted.empty() || Clock::now() < next_hand_back) return;
    try {
      while (!interrupted.empty()) {
        const auto& [id, worker] = interrupted.back();
        if (jobs.returnInterrupted(id, worker, "its worker lost the index connection"))
          moduleLogger("pipeline")->info("job {} ({} lost the index connection) is queued again", id, worker);
        interrupted.pop_back();
      }
      wakeAll();
    } catch (const std::exception&) {  // still away: try again a little later
      next_hand_back = Clock::now() + std::chrono::seconds(2);
    }
  }

  // The worker process has ended: account for the job it held, plan a new one.
  void buried(Slot& slot, int status) {
    auto log = moduleLogger("pipeline");
    if (slot.control >= 0) readControl(slot);  // its last lines ("interrupted <id>")
    closeFds(slot);
    if (WIFEXITED(status) && WEXITSTATUS(status) == kExitIndexLost) {
      // Not a crash: the job it held (if any) was named on its control socket.
      log->warn("{} ended: its index connection was lost; a new worker waits for the index", slot.name);
      std::lock_guard lock(mutex);
      slot.pid = -1;
      slot.job_id = 0;
      slot.quick_deaths = 0;
      slot.restart_at = Clock::now();
      return;
    }
    std::string cause;
    if (slot.timed_out)
      cause = fmt::format("worker exceeded render.job_timeout_s ({:.0f} s)", settings.job_timeout_s);
    else if (WIFSIGNALED(status))
      cause = "worker killed by " + signalName(WTERMSIG(status));
    else
      cause = "worker exited with status " + std::to_string(WEXITSTATUS(status));
    {
      std::lock_guard lock(mutex);
      counts.worker_deaths++;
      if (slot.timed_out) counts.timeouts++;
    }
    std::optional<Job> job;
    try {
      job = jobs.runningJobOf(slot.name);
    } catch (const std::exception& e) {
      log->error("{}: cannot look up its job: {}", slot.name, e.what());
    }
    if (job) {
      std::string what = fmt::format("{} while {} series {}", cause, activity(*job), job->series_uid);
      std::optional<JobState> next;
      try {
        next = jobs.workerDied(job->id, slot.name, what, settings.max_crashes);
      } catch (const std::exception& e) {
        log->error("{}: cannot record the end of job {}: {}", slot.name, job->id, e.what());
      }
      if (next == JobState::Failed) {
        std::lock_guard lock(mutex);
        counts.jobs_failed_by_crashes++;
        log->error("job {} failed for good: {} (series {} is not processed again unless an operator asks)", job->id,
                   what, job->series_uid);
      } else {
        log->error("job {}: {}; retried in a new worker", job->id, what);
      }
      slot.quick_deaths = 0;
    } else {
      const bool quick = secondsSince(slot.started) < kQuickDeathS;
      slot.quick_deaths = quick ? slot.quick_deaths + 1 : 0;
      log->error("{} ended without a job: {}", slot.name, cause);
    }
    double delay = slot.quick_deaths == 0 ? 0 : std::min(kMaxRestartDelayS, 0.5 * std::pow(2.0, slot.quick_deaths));
    std::lock_guard lock(mutex);
    slot.pid = -1;
    slot.job_id = 0;
    slot.restart_at = Clock::now() + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(delay));
  }

  void run() {
    pthread_setname_np(pthread_self(), "supervisor");
    auto log = moduleLogger("pipeline");
    while (!stopping) {
      std::vector<pollfd> fds{{wake_pipe[0], POLLIN, 0}};
      for (auto& slot : slots) {
        if (slot.control >= 0) fds.push_back({slot.control, POLLIN, 0});
        if (slot.log >= 0) fds.push_back({slot.log, POLLIN, 0});
      }
      ::poll(fds.data(), fds.size(), 200);
      if (stopping) break;
      if (fds[0].revents & POLLIN) {
        char drain[64];
        while (::read(wake_pipe[0], drain, sizeof drain) > 0) {
        }
        wakeAll();
      }
      handBackInterrupted();
      for (auto& slot : slots) {
        if (slot.log >= 0) drainLog(slot);
        if (slot.control >= 0) readControl(slot);
        if (slot.pid > 0) {
          int status = 0;
          if (::waitpid(slot.pid, &status, WNOHANG) == slot.pid) {
            buried(slot, status);
            wakeAll();  // a retried job is waiting
          } else if (slot.job_id != 0 && !slot.timed_out && secondsSince(slot.job_started) > settings.job_timeout_s) {
            log->error("{}: job {} runs longer than render.job_timeout_s ({:.0f} s): killing the worker", slot.name,
                       slot.job_id, settings.job_timeout_s);
            slot.timed_out = true;
            ::kill(slot.pid, SIGKILL);
          }
        }
        if (slot.pid < 0 && Clock::now() >= slot.restart_at && !stopping) {
          try {
            spawn(slot);
          } catch (const std::exception& e) {
            log->error("worker {}: {}", slot.number, e.what());
            slot.restart_at = Clock::now() + std::chrono::seconds(5);
          }
        }
      }
    }
  }

  void stopWorkers() {
    for (auto& slot : slots)
      if (slot.pid > 0) ::kill(slot.pid, SIGTERM);
    auto deadline = Clock::now() + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(kStopGraceS));
    for (auto& slot : slots) {
      if (slot.pid <= 0) continue;
      int status = 0;
      while (::waitpid(slot.pid, &status, WNOHANG) == 0) {
        if (Clock::now() >= deadline) {
          ::kill(slot.pid, SIGKILL);
          ::waitpid(slot.pid, &status, 0);
          break;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
      }
      closeFds(slot);
      releaseJobsOf(slot);
      std::lock_guard lock(mutex);
      slot.pid = -1;
    }
  }

  // A stopped worker's job goes back to the queue now, not when its lease ends.
  void releaseJobsOf(const Slot& slot) {
    try {
      if (int requeued = jobs.requeueJobsOf(slot.name, "its worker was stopped: queued again"))
        moduleLogger("pipeline")->info("{}: {} job(s) it held queued again", slot.name, requeued);
    } catch (const std::exception& e) {
      moduleLogger("pipeline")->warn("{}: its job stays leased until the lease ends: {}", slot.name, e.what());
    }
  }
};

WorkerSupervisor::WorkerSupervisor(WorkerPoolSettings settings, JobQueue& jobs, std::function<void()> on_job_finished)
    : settings_(settings), impl_(std::make_unique<Impl>(std::move(settings), jobs, std::move(on_job_finished))) {
  for (int i = 0; i < settings_.workers; ++i) {
    Impl::Slot slot;
    slot.number = i + 1;
    impl_->slots.push_back(slot);
  }
}

WorkerSupervisor::~WorkerSupervisor() { stop(); }

void WorkerSupervisor::start() {
  if (::pipe2(impl_->wake_pipe, O_CLOEXEC | O_NONBLOCK) != 0)
    throw Error(Errc::Internal, std::string("cannot create the supervisor's pipe: ") + std::strerror(errno));
  for (auto& slot : impl_->slots) impl_->spawn(slot);
  impl_->thread = std::thread([this] { impl_->run(); });
}

void WorkerSupervisor::stop() {
  if (!impl_->thread.joinable()) return;
  impl_->stopping = true;
  wake();
  impl_->thread.join();
  impl_->stopWorkers();
  ::close(impl_->wake_pipe[0]);
  ::close(impl_->wake_pipe[1]);
  impl_->wake_pipe[0] = impl_->wake_pipe[1] = -1;
}

void WorkerSupervisor::wake() {
  if (impl_->wake_pipe[1] >= 0) {
    [[maybe_unused]] auto ignored = ::write(impl_->wake_pipe[1], "w", 1);
  }
}

int WorkerSupervisor::busy() const {
  std::lock_guard lock(impl_->mutex);
  return static_cast<int>(std::count_if(impl_->slots.begin(), impl_->slots.end(),
                                        [](const auto& slot) { return slot.job_id != 0; }));
}

std::vector<WorkerStatus> WorkerSupervisor::status() const {
  std::lock_guard lock(impl_->mutex);
  std::vector<WorkerStatus> out;
  for (const auto& slot : impl_->slots)
    out.push_back({slot.name, slot.pid, slot.job_id, slot.job_id ? secondsSince(slot.job_started) : 0.0});
  return out;
}

std::vector<int64_t> WorkerSupervisor::currentJobs() const {
  std::lock_guard lock(impl_->mutex);
  std::vector<int64_t> ids;
  for (const auto& slot : impl_->slots)
    if (slot.job_id) ids.push_back(slot.job_id);
  return ids;
}

SupervisorCounts WorkerSupervisor::counts() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->counts;
}

}  // namespace volnode
