#pragma once
// Retention: source studies are deleted N days after their results were
// delivered (never before), and when the store is above its cap the delivered
// studies go first, oldest delivery first. Each deletion is logged and leaves
// the index in one transaction; the files follow.
#include <string>
#include <vector>

#include "volnode/core/config.hpp"
#include "volnode/storage/file_store.hpp"
#include "volnode/storage/index.hpp"
#include "volnode/storage/job_queue.hpp"

namespace volnode {

struct RetentionSweep {
  std::vector<std::string> deleted_studies;
  int64_t deleted_bytes = 0;
};

class RetentionPolicy {
 public:
  RetentionPolicy(const RetentionConfig& config, Index& index, JobQueue& jobs, FileStore& files);
  bool enabled() const { return config_.delete_after_days > 0 || config_.max_store_gb > 0; }
  // One pass; `now_iso` is the current UTC time in the index's format.
  RetentionSweep sweep(const std::string& now_iso);

 private:
  RetentionConfig config_;
  Index& index_;
  JobQueue& jobs_;
  FileStore& files_;
};

}  // namespace volnode
