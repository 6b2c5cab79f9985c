#include "volnode/workflow/receiving_prefetch.hpp"

#include <algorithm>
#include <vector>

namespace volnode {

ReceivingSeriesPrefetch::ReceivingSeriesPrefetch(Index& index, std::filesystem::path store_root,
                                                 StackPrefetch& prefetch, int worker_slot)
    : index_(index), store_root_(std::move(store_root)), prefetch_(prefetch), worker_slot_(std::max(worker_slot, 0)) {}

std::string ReceivingSeriesPrefetch::chooseSeries() {
  // The series followed is kept while it arrives and while it waits for its render job.
  if (!prefetch_.seriesUid().empty()) {
    const auto held = index_.series(prefetch_.seriesUid());
    if (held && (held->state == SeriesState::Receiving || held->state == SeriesState::Complete ||
                 held->state == SeriesState::Queued))
      return prefetch_.seriesUid();
  }
  auto receiving = index_.seriesInState(SeriesState::Receiving);
  std::sort(receiving.begin(), receiving.end(), [](const SeriesSummary& a, const SeriesSummary& b) {
    return a.instances != b.instances ? a.instances > b.instances : a.series_uid < b.series_uid;
  });
  return size_t(worker_slot_) < receiving.size() ? receiving[size_t(worker_slot_)].series_uid : "";
}

bool ReceivingSeriesPrefetch::step(size_t budget) {
  const std::string series = chooseSeries();
  if (series.empty()) {
    if (!prefetch_.seriesUid().empty()) prefetch_.clear();
    return false;
  }
  prefetch_.follow(series);
  if (prefetch_.full()) return false;
  std::vector<std::filesystem::path> files;
  for (const auto& f : index_.seriesFiles(series))
    if (!f.conflict) files.push_back(store_root_ / f.file_path);
  return prefetch_.add(files, budget) > 0;
}

}  // namespace volnode
