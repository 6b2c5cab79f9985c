#pragma once
// A render worker's idle time spent on a series still being received: its slices are
// decoded ahead (volnode/volume/stack_prefetch.hpp), so that when the series is
// complete its render job finds the volume mostly assembled and its memory in place.
//
// Worker n follows the n-th largest series being received (several workers, several
// arriving series: each takes its own), keeps it until the series is rendered or
// another worker's job takes it, and never holds more than the StackPrefetch allows.
// The render job uses the slices only when it runs in this worker (RenderJobSettings::
// prefetch); another worker assembles as usual. Workers run at SCHED_IDLE: this uses
// only CPU time that receiving does not want.
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "volnode/storage/index.hpp"
#include "volnode/volume/stack_prefetch.hpp"

namespace volnode {

class ReceivingSeriesPrefetch {
 public:
  ReceivingSeriesPrefetch(Index& index, std::filesystem::path store_root, StackPrefetch& prefetch, int worker_slot);

  // Picks the series to follow and decodes up to `budget` files of it not seen yet.
  // True when there is more to decode now (call again soon), false when idle. A small
  // budget: the worker looks for a job between steps, and a series released at the end
  // of its push is to start rendering at once.
  bool step(size_t budget = 8);

 private:
  std::optional<SeriesSummary> chooseSeries();

  Index& index_;
  std::filesystem::path store_root_;
  StackPrefetch& prefetch_;
  int worker_slot_;
  // The followed series' files, as listed when it had listed_instances_ instances.
  std::string listed_series_;
  int64_t listed_instances_ = -1;
  std::vector<std::filesystem::path> files_;
};

}  // namespace volnode
