#pragma once
// `volnode reindex`: rebuilds the whole index from the store, after a disaster
// (a lost or unreadable index) or to read every header again.
//   - A new index is built beside the old one (index.sqlite.rebuilding) from every
//     file in the store, with the start-up checks (empty and cut-off files deleted).
//   - A readable old index gives its associations, jobs, job events, planned
//     outputs, deliveries and refusals; every series it knew keeps its state and
//     history, every instance it held its time of receipt and association.
//   - A series the old index did not know (all of them when it was not readable)
//     is `indexed`: nothing says whether it was rendered and sent, so it is not
//     rendered automatically (the console renders it on demand). With
//     route_new_series it is `receiving` instead, and so is a known series that
//     gained instances: they are completed, rendered and sent like new arrivals.
//   - The old index (with its -wal and -shm) is kept under a new name and the new
//     one takes its place in one rename.
// The caller holds the storage directory's lock (no node may run on it).
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "volnode/storage/reconciliation.hpp"

namespace volnode {

struct ReindexOptions {
  bool route_new_series = false;
};

struct ReindexReport {
  std::string old_index;                // "readable", "missing", "empty" or "unreadable: <why>"
  std::filesystem::path old_kept_as;    // the old index's new name; empty when there was none
  RecoveryReport store;                 // what the walk of the store found and did
  int64_t patients = 0, studies = 0, series = 0, instances = 0;
  int64_t series_kept_state = 0;        // series whose state came from the old index
  int64_t series_indexed_only = 0;      // series left `indexed` (not rendered automatically)
  int64_t series_receiving = 0;         // series set to `receiving` (rendered and sent by the rules)
  int64_t jobs_kept = 0, deliveries_kept = 0;
  int64_t dropped_count = 0;            // instances of the old index whose file is not in the store
  std::vector<std::string> dropped;     // the first RecoveryReport::kMaxListed of them
  double seconds = 0;

  std::string summary() const;  // several lines, for the command's output
};

// Throws Error(Errc::SchemaTooNew) when the old index was written by a newer volnode
// (rebuilding it would drop what this one does not know), Error(Errc::Io) when the
// files cannot be renamed.
ReindexReport reindexStorage(const std::filesystem::path& storage_dir, const ReindexOptions& options = {});

}  // namespace volnode
