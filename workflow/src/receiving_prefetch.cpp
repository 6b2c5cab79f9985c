#include "volnode/workflow/receiving_prefetch.hpp"

#include <algorithm>
#include <vector>

namespace volnode {

ReceivingSeriesPrefetch::ReceivingSeriesPrefetch(Index& index, std::filesystem::path store_root,
                                                 StackPrefetch& prefetch, int worker_slot)
    : index_(index), store_root_(std::move(store_root)), prefetch_(prefetch), worker_slot_(std::max(worker_slot, 0)) {}

std::optional<SeriesSummary> ReceivingSeriesPrefetch::chooseSeries() {
  // The series followed is kept while it arrives and while it waits for its render job.
  if (!prefetch_.seriesUid().empty()) {
    auto held = index_.series(prefetch_.seriesUid());
    if (held && (held->state == SeriesState::Receiving || held->state == SeriesState::Complete ||
                 held->state == SeriesState::Queued))
      return held;
  }
  auto receiving = index_.seriesInState(SeriesState::Receiving);
  std::sort(receiving.begin(), receiving.end(), [](const SeriesSummary& a, const SeriesSummary& b) {
    return a.instances != b.instances ? a.instances > b.instances : a.series_uid < b.series_uid;
  });
  if (size_t(worker_slot_) >= receiving.size()) return std::nullopt;
  return receiving[size_t(worker_slot_)];
}

bool ReceivingSeriesPrefetch::step(size_t budget) {
  const auto series = chooseSeries();
  if (!series) {
    if (!prefetch_.seriesUid().empty()) prefetch_.clear();
    return false;
  }
  prefetch_.follow(series->series_uid);
  if (prefetch_.full()) return false;
  // The file list is read again only when the series has gained instances since.
  if (series->series_uid != listed_series_ || series->instances != listed_instances_) {
    files_ = index_.seriesFilePaths(series->series_uid, store_root_);
    listed_series_ = series->series_uid;
    listed_instances_ = series->instances;
  }
  return prefetch_.add(files_, budget) > 0;
}

}  // namespace volnode
