#pragma once
// Retention: source studies are deleted N days after their results were
// delivered (never before), and when the store is above its cap the delivered
// studies go first, oldest delivery first. Each deletion is logged and leaves
// the index in one transaction; the files follow, and so do the study's
// rendered results (<results>/<render job id>/), which would otherwise grow
// by tens of MB per study for as long as the node runs. The prepared volumes
// among those results (volume.vol, kept for the interactive view) are also
// bounded on their own by retention.max_volume_cache_gb (volume_cache_cap.hpp).
#include <filesystem>
#include <string>
#include <vector>

#include "volnode/core/config.hpp"
#include "volnode/storage/file_store.hpp"
#include "volnode/storage/index.hpp"
#include "volnode/storage/job_queue.hpp"

namespace volnode {

struct RetentionSweep {
  std::vector<std::string> deleted_studies;
  int64_t deleted_bytes = 0;          // source instances
  int64_t deleted_result_bytes = 0;   // rendered results of those studies
  int removed_volume_files = 0;       // prepared volumes beyond retention.max_volume_cache_gb
  int64_t removed_volume_bytes = 0;
};

class RetentionPolicy {
 public:
  // `results_root`: where render jobs keep their outputs; empty leaves them.
  RetentionPolicy(const RetentionConfig& config, Index& index, JobQueue& jobs, FileStore& files,
                  std::filesystem::path results_root = {});
  bool enabled() const {
    return config_.delete_after_days > 0 || config_.max_store_gb > 0 || config_.max_volume_cache_gb > 0;
  }
  // One pass; `now_iso` is the current UTC time in the index's format.
  RetentionSweep sweep(const std::string& now_iso);

 private:
  RetentionConfig config_;
  Index& index_;
  JobQueue& jobs_;
  FileStore& files_;
  std::filesystem::path results_root_;
};

}  // namespace volnode
