#pragma once
// Deciding when a series is complete. A PACS sends a study as C-STOREs over one
// or more associations and never says "done". Signals, combined:
//   - quiet period: no new instance of the series for completion.quiet_s;
//   - release: the associations that delivered it were released release_grace_s
//     ago and no other association is still sending to the same study, on this
//     node or (a shared index) on another live node;
//   - expected count: ImagesInAcquisition says how many instances to expect.
// Early completion (release, expected count) also needs the slice positions to
// be contiguous (no gap over 1.5x the median spacing); a series that looks
// incomplete by geometry waits for the full quiet period.
// Speculative start (completion.speculative_start): once the release signal holds
// but its grace still runs, the series is routed and rendered at once with its
// results held; at the end of the grace (or any other signal) it is confirmed and
// its results go out; a new instance of it meanwhile withdraws the start (the series
// is receiving again, and starts again at the next release).
// The monitor decides the receiving -> complete transition from the index alone
// (no received file is read here); the caller marks the series complete and
// queues its route job in one transaction. State lives in the index, so a
// restart simply re-evaluates the series still `receiving`.
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "volnode/core/config.hpp"
#include "volnode/storage/index.hpp"

namespace volnode {

struct ContiguityCheck {
  bool contiguous = true;   // no positions (non-image objects) counts as contiguous
  std::string reason;       // why not, e.g. "gap of 10.0 mm > 1.5 x median 5.0 mm"
  size_t positions = 0;     // distinct slice positions seen
};

// Slices grouped by orientation; each group's positions along its normal must
// have no gap larger than max_ratio x the median gap.
ContiguityCheck checkContiguity(const std::vector<SliceGeometry>& slices, double max_ratio = 1.5);

// What a tick decided for a series.
enum class CompletionStep {
  Complete,          // receiving -> complete
  SpeculativeStart,  // released, grace running: route and render now, results held
  Confirmed,         // a speculatively started series is complete: its results may go
  Withdrawn,         // a new instance arrived after a speculative start: discard that work
};

struct CompletedSeries {
  SeriesSummary series;
  std::string reason;  // e.g. "quiet 10 s", "expected count 140/140"
  CompletionStep step = CompletionStep::Complete;
};

class CompletionMonitor {
 public:
  CompletionMonitor(const CompletionConfig& config, Index& index);

  // Events from the DICOM listener.
  void instanceKept(const std::string& series_uid, const std::string& study_uid, int64_t association_id);
  void associationEnded(int64_t association_id);
  // Called (outside the monitor's lock) when an association that delivered instances
  // ends, so that the loop looks at once: a speculative start begins at the release.
  void onAssociationEnded(std::function<void()> callback);

  // Looks at every `receiving` series once, and at those started speculatively;
  // returns what is decided now, in the order to act on it.
  std::vector<CompletedSeries> tick(double now_unix);
  // The caller acted on a SpeculativeStart (its route job is queued), or on a
  // Confirmed or Withdrawn step (settled): until then the step is offered again.
  void speculationStarted(const std::string& series_uid);
  void speculationSettled(const std::string& series_uid);

  // Seconds from now_unix until the earliest pending "association released +
  // grace" moment, so the loop ticks then rather than on its next period;
  // +infinity when no released association waits for its grace.
  double secondsUntilNextRelease(double now_unix);

 private:
  struct AssociationState {
    bool open = true;
    double ended_unix = 0;
    std::set<std::string> studies;
  };
  struct Evaluation {
    std::string reason;            // why the series is complete; "" when it is not yet
    bool release_pending = false;  // not complete, but released: only the grace is left
  };
  Evaluation evaluate(const SeriesSummary& series, double now_unix);
  // Whether another node sharing the index still has an association to the study open
  // (Index::studiesOpenOnOtherNodes, read at most once per `now`).
  bool studyOpenOnAnotherNode(const std::string& study_uid, double now_unix);

  CompletionConfig config_;
  Index& index_;
  std::mutex mutex_;
  std::map<int64_t, AssociationState> associations_;
  std::map<std::string, std::set<int64_t>> series_associations_;
  std::map<std::string, std::string> series_study_;
  std::function<void()> on_association_ended_;
  std::set<std::string> speculative_;  // series started speculatively, not yet confirmed or withdrawn
  std::set<std::string> told_incomplete_;  // series already logged as "waiting: incomplete by geometry"
  std::mutex other_nodes_mutex_;
  double other_nodes_checked_at_ = -1;
  std::set<std::string> studies_open_on_other_nodes_;
};

}  // namespace volnode
