#include "volnode/viewer/viewer_prewarm.hpp"

#include <pthread.h>

#include "volnode/core/logging.hpp"

namespace volnode::viewer {
namespace {

// How many of the newest succeeded renders one look considers: more than the
// viewer workers there are to prepare them.
constexpr int kNewestRenders = 16;

}  // namespace

ViewerPrewarm::ViewerPrewarm(JobQueue& jobs, std::function<PrepareOutcome(const std::string&)> prepare, double poll_s)
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
  std::set<int64_t> newest;
  for (const auto& render : renders) newest.insert(render.id);
  // Only the newest renders matter: what fell out of them is forgotten.
  std::set<int64_t> still_handled;
  for (int64_t id : handled_)
    if (newest.count(id)) still_handled.insert(id);
  handled_ = std::move(still_handled);
  if (!looked_) {  // what succeeded before the node started is not prepared
    looked_ = true;
    handled_ = newest;
    return 0;
  }
  int prepared = 0;
  for (const auto& render : renders) {
    if (handled_.count(render.id)) continue;
    const PrepareOutcome outcome = prepare_(render.series_uid);
    if (outcome == PrepareOutcome::NoWorker) break;  // the next look tries again
    handled_.insert(render.id);
    if (outcome != PrepareOutcome::Prepared) continue;
    ++prepared;
    moduleLogger("viewer")->info("series {} prepared for the viewer after its render (job {})", render.series_uid,
                                 render.id);
  }
  return prepared;
}

}  // namespace volnode::viewer
