#pragma once
// The store is the source of truth. At start-up, before the listener opens, the
// index is brought in line with the files in the store (docs/durability.md):
//   - a file the index holds as an instance: nothing to do, it is never opened;
//   - a file the index does not hold (a slot written before a crash, or a file
//     whose index rows were lost with the end of the write-ahead log): a whole
//     instance is indexed as received then (its series becomes `receiving`, so it
//     is completed, rendered and sent as usual); an empty, cut-off or invalid file
//     was never acknowledged and is deleted, as is a copy of an instance held;
//   - a slot in the ledger without a file: forgotten;
//   - on a store shared by several serve nodes (PostgreSQL), only the node's own
//     slots (Index::ownRowsAs) are settled: another node's slot is left to it;
//   - an indexed instance whose file is missing: reported (error log and report),
//     its row kept (the file may come back from a backup).
// Files the index holds are compared by name only, so a large store costs one
// walk of its folders (docs/performance.md).
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "volnode/storage/file_store.hpp"
#include "volnode/storage/index.hpp"
#include "volnode/storage/instance_store.hpp"

namespace volnode {

struct RecoveryReport {
  int64_t files = 0;                 // the node's files in the store
  int64_t indexed = 0;               // whole instances the index did not hold, indexed now
  int64_t empty_slots_removed = 0;   // pre-created slots never written (routine after any stop)
  int64_t incomplete_removed = 0;    // cut-off or invalid files, or copies of held instances: deleted
  int64_t forgotten_slots = 0;       // ledger slots whose file did not exist
  int64_t missing_count = 0;         // indexed instances whose file is not in the store
  std::vector<std::string> missing;  // the first kMaxListed of them (relative to the store)
  std::vector<std::string> left_in_place;  // files that could not be read or indexed (I/O, database)
  std::vector<std::string> foreign;        // names in the store that are not the node's (never touched)
  int64_t peer_slots = 0;            // files of other nodes on a shared store (their slots): left to them
  double seconds = 0;

  static constexpr size_t kMaxListed = 100;

  // Found anything beyond the routine removal of unused slots.
  bool noteworthy() const;
  // Whether an operator must act: files missing or left unindexed.
  bool needsAttention() const;
  std::string summary() const;
};

// Brings the index in line with the store; call before any reserve().
RecoveryReport reconcileStore(Index& index, FileStore& files, InstanceStore& store);

// A missing or empty index next to a store that holds instances is not a crash
// (SQLite never leaves one behind) but a deleted or emptied file: throws
// Error(Errc::Database) naming `volnode reindex` and the backup, instead of
// starting with an index that has forgotten everything.
void refuseLostIndex(const std::filesystem::path& index_file, const std::filesystem::path& store_root);

}  // namespace volnode
