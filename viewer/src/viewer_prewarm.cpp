#include "volnode/viewer/viewer_prewarm.hpp"

#include <pthread.h>

#include <algorithm>

#include "volnode/core/logging.hpp"

namespace volnode::viewer {
namespace {

// How many of the newest succeeded renders one look considers: more than the
// viewer workers there are to prepare them.
constexpr int kNewestRenders = 16;

}  // namespace

ViewerPrewarm::ViewerPrewarm(JobQueue& jobs, std::function<bool(const std::string&)> prepare, double poll_s)
    : jobs_(jobs), prepare_(std::move(prepare)), poll_s_(poll_s) {}

ViewerPrewarm::~ViewerPrewarm() { stop(); }

void ViewerPrewarm::start() {
  if (thread_.joinable()) return;
  try {
    pollOnce();  // remembers where the queue stands; what succeeded before is not prepared
  } catch (const std::exception& e) {
    moduleLogger("viewer")->warn("preparing recent renders for the viewer: {}", e.what());
  }
  thread_ = std::thread([this] {
    pthread_setname_np(pthread_self(), "viewer-prewarm");
    while (waker_.wait(poll_s_)) {
      try {
        pollOnce();
      } catch (const std::exception& e) {  // the index away for a moment: the next look tries again
        moduleLogger("viewer")->warn("preparing recent renders for the viewer: {}", e.what());
      }
    }
  });
}

void ViewerPrewarm::stop() {
  waker_.stop();
  if (thread_.joinable()) thread_.join();
}

int ViewerPrewarm::pollOnce() {
  JobFilter filter;
  filter.state = JobState::Succeeded;
  filter.kind = JobKind::Render;
  filter.limit = kNewestRenders;
  const auto renders = jobs_.list(filter);  // newest first
  if (last_seen_job_ < 0) {
    last_seen_job_ = renders.empty() ? 0 : renders.front().id;
    return 0;
  }
  int prepared = 0;
  int64_t newest = last_seen_job_;
  for (const auto& render : renders) {
    if (render.id <= last_seen_job_) break;
    newest = std::max(newest, render.id);
    if (!prepare_(render.series_uid)) break;  // no worker free for it: the older ones neither
    ++prepared;
    moduleLogger("viewer")->info("series {} prepared for the viewer after its render (job {})", render.series_uid,
                                 render.id);
  }
  last_seen_job_ = newest;
  return prepared;
}

}  // namespace volnode::viewer
