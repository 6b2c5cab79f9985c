#include "volnode/storage/instance_store.hpp"

#include <sys/stat.h>

#include "instance_attributes.hpp"
#include "volnode/core/clock.hpp"
#include "volnode/core/error.hpp"
#include "volnode/core/files.hpp"
#include "volnode/core/logging.hpp"
#include "volnode/storage/database_unavailable.hpp"

namespace volnode {

InstanceStore::InstanceStore(const StorageConfig& config, Index& index, FileStore& files)
    : config_(config), index_(index), files_(files) {}

bool InstanceStore::hasSpace(std::string* why) const {
  uint64_t free_bytes = 0;
  try {
    free_bytes = freeBytes(files_.root());
  } catch (const Error& e) {
    if (why) *why = e.what();
    return false;
  }
  uint64_t needed = config_.min_free_mb * 1024 * 1024;
  if (free_bytes >= needed) return true;
  if (why)
    *why = "free disk space " + std::to_string(free_bytes / (1024 * 1024)) + " MB is below storage.min_free_mb " +
           std::to_string(config_.min_free_mb) + " MB";
  return false;
}

namespace {

SystemTime modificationTime(const std::filesystem::path& file) {
  struct stat info {};
  if (::stat(file.c_str(), &info) != 0) return std::chrono::system_clock::now();
  return SystemTime(std::chrono::duration_cast<SystemTime::duration>(std::chrono::seconds(info.st_mtim.tv_sec) +
                                                                     std::chrono::nanoseconds(info.st_mtim.tv_nsec)));
}

}  // namespace

KeepResult InstanceStore::keep(const Reservation& reservation, const std::string& command_sop_class_uid,
                               const std::string& command_sop_instance_uid, std::optional<int64_t> association_id) {
  if (unsettled() > 0) settleUnsettled();
  return take(reservation, command_sop_class_uid, command_sop_instance_uid, association_id, false);
}

size_t InstanceStore::unsettled() const {
  std::lock_guard lock(unsettled_mutex_);
  return unsettled_.size();
}

size_t InstanceStore::settleUnsettled() {
  std::unique_lock settling(settling_, std::try_to_lock);
  if (!settling.owns_lock()) return unsettled();
  std::vector<Reservation> pending;
  {
    std::lock_guard lock(unsettled_mutex_);
    pending.swap(unsettled_);
  }
  auto log = moduleLogger("storage");
  std::vector<Reservation> still;
  for (const auto& file : pending) {
    if (!still.empty()) {  // the database went away again: try the rest next time
      still.push_back(file);
      continue;
    }
    try {
      if (index_.holdsFile(file.relative_path)) {
        log->info("{}: its index row was committed before the connection broke", file.relative_path);
        continue;
      }
      KeepResult result = take(file, "", "", std::nullopt, true);
      if (result.outcome == KeepOutcome::Failed || result.outcome == KeepOutcome::OutOfSpace) {
        still.push_back(file);
        continue;
      }
      log->info("{} (instance refused while the index was unreachable) settled: {}", file.relative_path,
                result.outcome == KeepOutcome::Stored || result.outcome == KeepOutcome::StoredConflict
                    ? "indexed now"
                    : "removed, " + result.reason);
    } catch (const std::exception&) {
      still.push_back(file);
    }
  }
  std::lock_guard lock(unsettled_mutex_);
  unsettled_.insert(unsettled_.end(), still.begin(), still.end());
  return unsettled_.size();
}

KeepResult InstanceStore::adopt(const Reservation& file) { return take(file, "", "", std::nullopt, true); }

KeepResult InstanceStore::take(const Reservation& reservation, const std::string& command_sop_class_uid,
                               const std::string& command_sop_instance_uid, std::optional<int64_t> association_id,
                               bool found_in_store) {
  KeepResult result;
  auto log = moduleLogger("storage");
  std::string source_aet;
  try {
    InstanceAttributes attributes;
    try {
      attributes = readInstanceAttributes(reservation.path, &source_aet);
    } catch (const Error& e) {
      // A file found in the store is deleted only when its content says it was never
      // acknowledged; a read error is no such proof.
      if (found_in_store && e.code() != Errc::InvalidDicom) throw;
      files_.release(reservation);
      return {KeepOutcome::Invalid, e.what()};
    }
    bool from_command = !command_sop_instance_uid.empty() || !command_sop_class_uid.empty();
    if (from_command &&
        (attributes.sop_uid != command_sop_instance_uid || attributes.sop_class_uid != command_sop_class_uid)) {
      files_.release(reservation);
      return {KeepOutcome::Invalid, "the dataset's SOP Class/Instance UID differ from the C-STORE command's"};
    }
    result.series_uid = attributes.series_uid;
    result.study_uid = attributes.study_uid;
    result.bytes = std::filesystem::file_size(reservation.path);

    bool conflict = false;
    for (const auto& held : index_.heldCopies(attributes.sop_uid)) {
      if (held.file_path == reservation.relative_path) {
        // This very file, indexed meanwhile by another node sharing the store: never delete it.
        result.outcome = KeepOutcome::Duplicate;
        result.reason = "the file is indexed already";
        return result;
      }
      if (sameDataset(files_.absolute(held.file_path), reservation.path)) {
        files_.release(reservation);
        result.outcome = KeepOutcome::Duplicate;
        result.reason = "identical to the instance already held";
        return result;
      }
      conflict = true;
    }

    files_.sync(reservation);
    NewInstance row{attributes, reservation.relative_path, result.bytes, association_id, conflict};
    if (found_in_store) {
      row.received_at = modificationTime(reservation.path);
      row.calling_aet = source_aet;
    }
    try {
      index_.addInstance(row);  // file first, index second; a failure releases the file below
    } catch (const Error& e) {
      if (!isDatabaseUnavailable(e) || found_in_store) throw;
      // The connection broke while indexing: whether the commit reached the server is
      // unknown. The file stays (a row may name it) and is settled when the index answers;
      // the sender is told of a failure and sends again.
      {
        std::lock_guard lock(unsettled_mutex_);
        unsettled_.push_back(reservation);
      }
      log->error("instance {} not acknowledged: {}; its file is kept until the index answers again",
                 attributes.sop_uid, e.what());
      result.outcome = KeepOutcome::Failed;
      result.reason = e.what();
      return result;
    }
    if (conflict)
      log->warn("instance {} received again with different content; both copies kept and marked as conflict",
                attributes.sop_uid);
    result.outcome = conflict ? KeepOutcome::StoredConflict : KeepOutcome::Stored;
    return result;
  } catch (const Error& e) {
    result.outcome = e.code() == Errc::OutOfSpace ? KeepOutcome::OutOfSpace : KeepOutcome::Failed;
    result.reason = e.what();
  } catch (const std::exception& e) {
    result.outcome = KeepOutcome::Failed;
    result.reason = e.what();
  }
  if (found_in_store) {
    log->error("{} in the store could not be indexed and is left in place: {}", reservation.relative_path,
               result.reason);
    return result;
  }
  files_.release(reservation);
  log->error("instance {} not kept: {}", command_sop_instance_uid, result.reason);
  return result;
}

}  // namespace volnode
