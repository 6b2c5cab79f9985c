#include "volnode/storage/reconciliation.hpp"

#include <chrono>
#include <unordered_set>

#include <fmt/format.h>

#include "volnode/core/error.hpp"
#include "volnode/core/logging.hpp"

namespace volnode {

bool RecoveryReport::noteworthy() const {
  return indexed > 0 || incomplete_removed > 0 || forgotten_slots > 0 || needsAttention() || !foreign.empty();
}

bool RecoveryReport::needsAttention() const { return missing_count > 0 || !left_in_place.empty(); }

std::string RecoveryReport::summary() const {
  std::string text = fmt::format(
      "{} files in the store: {} instance(s) the index did not hold indexed, {} cut-off or invalid file(s) and {} "
      "unused slot(s) removed, {} slot record(s) without a file forgotten",
      files, indexed, incomplete_removed, empty_slots_removed, forgotten_slots);
  if (missing_count > 0) text += fmt::format(", {} indexed instance(s) whose file is MISSING", missing_count);
  if (!left_in_place.empty()) text += fmt::format(", {} file(s) that could not be indexed left in place", left_in_place.size());
  if (!foreign.empty()) text += fmt::format(", {} name(s) that are not the node's left alone", foreign.size());
  if (peer_slots > 0) text += fmt::format(", {} slot(s) of other nodes left to them", peer_slots);
  return text + fmt::format(" ({:.2f} s)", seconds);
}

RecoveryReport reconcileStore(Index& index, FileStore& files, InstanceStore& store) {
  auto log = moduleLogger("storage");
  const auto started = std::chrono::steady_clock::now();
  RecoveryReport report;

  const StoreListing listing = files.list();
  report.files = static_cast<int64_t>(listing.files.size());
  report.foreign = listing.foreign;
  for (const auto& name : listing.foreign) log->warn("store: {} is not a file of the node; left alone", name);

  // Read after the listing, and before the instances: a peer on a shared store records
  // a slot before it creates the file and drops it when the instance is indexed, so each
  // of its files listed here is in one of the two reads.
  const auto peer_slot_paths = index.otherNodesSlots();
  const std::unordered_set<std::string> peer_slots(peer_slot_paths.begin(), peer_slot_paths.end());
  const auto indexed_paths = index.instancePaths();
  const std::unordered_set<std::string> indexed(indexed_paths.begin(), indexed_paths.end());
  const auto slot_paths = index.slots();
  std::unordered_set<std::string> slots(slot_paths.begin(), slot_paths.end());
  std::unordered_set<std::string> present;
  present.reserve(listing.files.size());

  for (const auto& relative : listing.files) {
    present.insert(relative);
    if (indexed.count(relative)) continue;  // the common case: a name comparison, nothing opened
    if (peer_slots.count(relative)) {  // another node's slot: empty, or an instance it is receiving
      ++report.peer_slots;
      continue;
    }
    slots.erase(relative);
    const Reservation file{files.absolute(relative), relative};
    std::error_code ec;
    const auto size = std::filesystem::file_size(file.path, ec);
    if (ec) {
      log->error("store: cannot read {}: {}; left in place", relative, ec.message());
      report.left_in_place.push_back(relative);
      continue;
    }
    if (size == 0) {  // a slot that was never written
      files.release(file);
      ++report.empty_slots_removed;
      continue;
    }
    KeepResult result = store.adopt(file);
    switch (result.outcome) {
      case KeepOutcome::Stored:
      case KeepOutcome::StoredConflict:
        ++report.indexed;
        log->info("store: indexed {} (series {}), which the index did not hold", relative, result.series_uid);
        break;
      case KeepOutcome::Duplicate:
        if (index.holdsFile(relative)) {  // a peer indexed this very file meanwhile (InstanceStore kept it)
          ++report.peer_slots;
          break;
        }
        [[fallthrough]];
      case KeepOutcome::Invalid:
        ++report.incomplete_removed;
        log->info("store: removed {} (never acknowledged): {}", relative, result.reason);
        break;
      case KeepOutcome::OutOfSpace:
      case KeepOutcome::Failed:
        report.left_in_place.push_back(relative);  // adopt() logged why
        break;
    }
  }
  for (const auto& slot : slots) {  // recorded before its batch was created, and the batch never was
    index.removeSlot(slot);
    ++report.forgotten_slots;
  }
  for (const auto& relative : indexed_paths) {
    if (present.count(relative)) continue;
    if (report.missing.size() < RecoveryReport::kMaxListed) {
      report.missing.push_back(relative);
      log->error("store: the index holds {} but the file is missing", relative);
    }
    ++report.missing_count;
  }
  report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  if (report.needsAttention())
    log->error("store reconciliation: {}", report.summary());
  else if (report.noteworthy())
    log->warn("store reconciliation: {}", report.summary());
  else
    log->info("store reconciliation: {}", report.summary());
  return report;
}

void refuseLostIndex(const std::filesystem::path& index_file, const std::filesystem::path& store_root) {
  std::error_code ec;
  auto sizeOf = [&](const std::filesystem::path& file) {
    auto size = std::filesystem::file_size(file, ec);
    return ec ? uintmax_t{0} : size;
  };
  if (sizeOf(index_file) > 0 || sizeOf(index_file.string() + "-wal") > 0) return;
  if (!std::filesystem::is_directory(store_root, ec)) return;
  // Unused slots are empty; one file with content is an instance the index would forget.
  for (auto it = std::filesystem::recursive_directory_iterator(store_root, ec);
       !ec && it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
    std::error_code size_ec;
    if (!it->is_regular_file(size_ec) || it->file_size(size_ec) == 0 || size_ec) continue;
    throw Error(Errc::Database,
                "the index " + index_file.string() + " is missing or empty but " + store_root.string() +
                    " holds instances; nothing in the store is forgotten: rebuild the index from it with "
                    "`volnode reindex` (add --route to render and send its series again), or restore "
                    "index.sqlite from a backup (that keeps the job history); to start an empty node, move the "
                    "store away");
  }
}

}  // namespace volnode
