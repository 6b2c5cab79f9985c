#include "volnode/workflow/completion.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <limits>
#include <sstream>

#include <fmt/format.h>

#include "volnode/core/clock.hpp"
#include "volnode/core/logging.hpp"

namespace volnode {
namespace {

bool parseNumbers(const std::string& text, double* out, size_t count) {
  std::stringstream in(text);
  std::string part;
  size_t n = 0;
  while (std::getline(in, part, '\\') && n < count) {
    try {
      out[n++] = std::stod(part);
    } catch (...) {
      return false;
    }
  }
  return n == count;
}

std::string formatSeconds(double s) {
  return std::fabs(s - std::round(s)) < 1e-6 ? fmt::format("{:.0f}", s) : fmt::format("{:.1f}", s);
}

}  // namespace

ContiguityCheck checkContiguity(const std::vector<SliceGeometry>& slices, double max_ratio) {
  // orientation (rounded) -> positions along its normal
  std::map<std::string, std::vector<double>> stacks;
  for (const auto& slice : slices) {
    double position[3], cosines[6];
    if (!parseNumbers(slice.image_position, position, 3) || !parseNumbers(slice.image_orientation, cosines, 6))
      continue;
    std::array<double, 3> normal{cosines[1] * cosines[5] - cosines[2] * cosines[4],
                                 cosines[2] * cosines[3] - cosines[0] * cosines[5],
                                 cosines[0] * cosines[4] - cosines[1] * cosines[3]};
    std::string key = fmt::format("{:.2f} {:.2f} {:.2f}", normal[0], normal[1], normal[2]);
    stacks[key].push_back(position[0] * normal[0] + position[1] * normal[1] + position[2] * normal[2]);
  }
  ContiguityCheck check;
  for (auto& [orientation, positions] : stacks) {
    std::sort(positions.begin(), positions.end());
    positions.erase(std::unique(positions.begin(), positions.end(),
                                [](double a, double b) { return std::fabs(a - b) < 0.01; }),
                    positions.end());
    check.positions += positions.size();
    if (positions.size() < 3) continue;  // nothing to compare a gap with
    std::vector<double> gaps;
    for (size_t i = 1; i < positions.size(); ++i) gaps.push_back(positions[i] - positions[i - 1]);
    std::vector<double> sorted = gaps;
    std::nth_element(sorted.begin(), sorted.begin() + sorted.size() / 2, sorted.end());
    double median = sorted[sorted.size() / 2];
    double largest = *std::max_element(gaps.begin(), gaps.end());
    if (largest > max_ratio * median + 1e-6) {
      check.contiguous = false;
      check.reason = fmt::format("gap of {:.1f} mm > {} x median {:.1f} mm", largest, max_ratio, median);
      return check;
    }
  }
  return check;
}

CompletionMonitor::CompletionMonitor(const CompletionConfig& config, Index& index) : config_(config), index_(index) {}

void CompletionMonitor::instanceKept(const std::string& series_uid, const std::string& study_uid,
                                     int64_t association_id) {
  std::lock_guard lock(mutex_);
  auto& association = associations_[association_id];
  association.studies.insert(study_uid);
  series_associations_[series_uid].insert(association_id);
  series_study_[series_uid] = study_uid;
}

void CompletionMonitor::associationEnded(int64_t association_id) {
  std::function<void()> notify;
  {
    std::lock_guard lock(mutex_);
    auto found = associations_.find(association_id);
    if (found == associations_.end()) return;  // sent nothing (an echo): no signal
    found->second.open = false;
    found->second.ended_unix = unixSecondsNow();
    notify = on_association_ended_;
  }
  if (notify) notify();
}

void CompletionMonitor::onAssociationEnded(std::function<void()> callback) {
  std::lock_guard lock(mutex_);
  on_association_ended_ = std::move(callback);
}

CompletionMonitor::Evaluation CompletionMonitor::evaluate(const SeriesSummary& series, double now) {
  double quiet = now - series.last_received_unix;
  if (quiet >= config_.quiet_s) return {"quiet " + formatSeconds(config_.quiet_s) + " s"};

  // Early signals need the slices to look contiguous.
  auto geometry = index_.seriesGeometry(series.series_uid);
  std::optional<int64_t> expected;
  for (const auto& g : geometry)
    if (g.images_in_acquisition && *g.images_in_acquisition > 0) expected = std::max(expected.value_or(0), *g.images_in_acquisition);
  bool count_reached = expected && series.instances >= *expected;

  std::string release_reason;
  std::string released_study;  // released here: the study, for the look at the other nodes
  bool grace_passed = false;
  {
    std::lock_guard lock(mutex_);
    auto delivered_by = series_associations_.find(series.series_uid);
    if (delivered_by != series_associations_.end() && !delivered_by->second.empty()) {
      double released_at = 0;
      bool all_released = true;
      for (auto id : delivered_by->second) {
        const auto& a = associations_[id];
        if (a.open) all_released = false;
        released_at = std::max(released_at, a.ended_unix);
      }
      const std::string& study = series_study_[series.series_uid];
      bool study_still_sending = std::any_of(associations_.begin(), associations_.end(), [&](const auto& entry) {
        return entry.second.open && entry.second.studies.count(study);
      });
      if (all_released && !study_still_sending) {
        released_study = study;
        grace_passed = now - released_at >= config_.release_grace_s;
      }
    }
  }
  // Outside the lock: the listener's events do not wait for the database.
  bool release_pending = false;
  if (!released_study.empty() && !studyOpenOnAnotherNode(released_study, now)) {
    if (grace_passed)
      release_reason = "association released + " + formatSeconds(config_.release_grace_s) + " s grace";
    else
      release_pending = true;
  }
  if (!count_reached && release_reason.empty() && !release_pending) return {};

  auto contiguity = checkContiguity(geometry);
  if (!contiguity.contiguous) {
    std::lock_guard lock(mutex_);
    if (told_incomplete_.insert(series.series_uid).second)
      moduleLogger("pipeline")->info("series {} looks incomplete ({}); waiting for the quiet period",
                                     series.series_uid, contiguity.reason);
    return {};
  }
  if (count_reached) return {fmt::format("expected count {}/{}", series.instances, *expected)};
  return {release_reason, release_reason.empty()};
}

bool CompletionMonitor::studyOpenOnAnotherNode(const std::string& study_uid, double now) {
  std::lock_guard lock(other_nodes_mutex_);
  // One query per tick (every series of a tick passes the same `now`), and none in a
  // tick without a released series.
  if (other_nodes_checked_at_ != now) {
    studies_open_on_other_nodes_ = index_.studiesOpenOnOtherNodes();
    other_nodes_checked_at_ = now;
  }
  return studies_open_on_other_nodes_.count(study_uid) > 0;
}

double CompletionMonitor::secondsUntilNextRelease(double now_unix) {
  std::lock_guard lock(mutex_);
  double next = std::numeric_limits<double>::infinity();
  for (const auto& [id, a] : associations_)
    if (!a.open && a.ended_unix + config_.release_grace_s > now_unix)
      next = std::min(next, a.ended_unix + config_.release_grace_s - now_unix);
  return next;
}

void CompletionMonitor::speculationStarted(const std::string& series_uid) {
  std::lock_guard lock(mutex_);
  speculative_.insert(series_uid);
}

void CompletionMonitor::speculationSettled(const std::string& series_uid) {
  std::lock_guard lock(mutex_);
  speculative_.erase(series_uid);
}

std::vector<CompletedSeries> CompletionMonitor::tick(double now_unix) {
  auto log = moduleLogger("pipeline");
  std::vector<CompletedSeries> completed;
  // Series started speculatively first: a new instance made one `receiving` again
  // (withdrawn; it starts again at its next release), else it waits for a signal.
  std::set<std::string> started;
  {
    std::lock_guard lock(mutex_);
    started = speculative_;
  }
  for (const auto& series_uid : started) {
    auto series = index_.series(series_uid);
    if (!series) {
      speculationSettled(series_uid);
      continue;
    }
    if (series->state == SeriesState::Receiving) {
      log->info("series {}: a new instance arrived during the release grace; the speculative render is withdrawn",
                series_uid);
      completed.push_back({*series, "a new instance arrived during the release grace", CompletionStep::Withdrawn});
      continue;
    }
    std::string reason = evaluate(*series, now_unix).reason;
    if (reason.empty()) continue;
    log->info("series {} complete: {} ({} instances; started on release)", series_uid, reason, series->instances);
    completed.push_back({*series, reason, CompletionStep::Confirmed});
    std::lock_guard lock(mutex_);
    told_incomplete_.erase(series_uid);
    series_associations_.erase(series_uid);
  }
  for (const auto& series : index_.seriesInState(SeriesState::Receiving)) {
    if (started.count(series.series_uid)) continue;  // withdrawn in this tick: looked at again in the next
    auto evaluation = evaluate(series, now_unix);
    if (evaluation.release_pending && config_.speculative_start) {
      completed.push_back({series, "association released, " + formatSeconds(config_.release_grace_s) +
                                       " s grace running: rendering starts, results held until complete",
                           CompletionStep::SpeculativeStart});
      continue;
    }
    if (evaluation.reason.empty()) continue;
    log->info("series {} complete: {} ({} instances)", series.series_uid, evaluation.reason, series.instances);
    completed.push_back({series, evaluation.reason});
    std::lock_guard lock(mutex_);
    told_incomplete_.erase(series.series_uid);
    series_associations_.erase(series.series_uid);
  }
  // Forget associations that no series refers to any more.
  std::lock_guard lock(mutex_);
  for (auto it = associations_.begin(); it != associations_.end();) {
    bool referenced = std::any_of(series_associations_.begin(), series_associations_.end(),
                                  [&](const auto& entry) { return entry.second.count(it->first); });
    if (!it->second.open && !referenced) it = associations_.erase(it);
    else ++it;
  }
  return completed;
}

}  // namespace volnode
