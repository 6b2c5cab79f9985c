#pragma once
// Keeps a received instance safely: the file is fsync'd in the store and its
// index row committed before the caller may answer Success.
//   reserve()  -> a durable slot file the network layer writes the incoming bytes to
//   keep()     -> parse header, dedupe, fsync, index; or release the slot
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "volnode/core/config.hpp"
#include "volnode/storage/file_store.hpp"
#include "volnode/storage/index.hpp"

namespace volnode {

enum class KeepOutcome {
  Stored,          // new instance, safely kept
  Duplicate,       // identical to an instance already held: nothing written
  StoredConflict,  // same SOP Instance UID as one held, other content: both kept, marked
  OutOfSpace,      // disk below the watermark or full: nothing kept
  Invalid,         // the data cannot be indexed (unparseable, missing or bad UIDs)
  Failed,          // an internal failure (I/O, database): nothing kept
};

struct KeepResult {
  KeepOutcome outcome = KeepOutcome::Failed;
  std::string reason;       // for logs and the DIMSE error comment
  std::string series_uid;   // set when kept or duplicate
  std::string study_uid;
  uint64_t bytes = 0;
};

class InstanceStore {
 public:
  InstanceStore(const StorageConfig& config, Index& index, FileStore& files);

  // False (with the reason) while free disk space is below storage.min_free_mb.
  bool hasSpace(std::string* why = nullptr) const;
  Reservation reserve() { return files_.reserve(); }
  // The reservation was not used (e.g. the transfer broke off).
  void release(const Reservation& reservation) { files_.release(reservation); }

  // Takes over the file written at reservation.path. The SOP UIDs from the
  // C-STORE command must match the dataset's (both empty: a file import, no command).
  KeepResult keep(const Reservation& reservation, const std::string& command_sop_class_uid,
                  const std::string& command_sop_instance_uid, std::optional<int64_t> association_id);

  // At start-up: a file in the store that the index does not hold (a slot written
  // before a crash, or an instance whose index row was lost). The same checks as
  // keep(): a whole instance is indexed as received when the file was written,
  // from the AE title the file names; an invalid or cut-off file, or a copy of an
  // instance already held, is deleted. On an internal failure (I/O, database) the
  // file stays where it is: it may hold an acknowledged instance.
  KeepResult adopt(const Reservation& file);

  // Files whose indexing met an unreachable database (KeepOutcome::Failed, answered as a
  // failure): the transaction may have committed before the connection broke, so the
  // file is neither deleted nor acknowledged. Once the database answers, each is found
  // indexed or is indexed now (as adopt() does); keep() settles them first. Returns how
  // many are still unsettled.
  size_t settleUnsettled();
  size_t unsettled() const;

 private:
  KeepResult take(const Reservation& reservation, const std::string& command_sop_class_uid,
                  const std::string& command_sop_instance_uid, std::optional<int64_t> association_id,
                  bool found_in_store);

  StorageConfig config_;
  Index& index_;
  FileStore& files_;
  mutable std::mutex unsettled_mutex_;
  std::vector<Reservation> unsettled_;
  std::mutex settling_;  // one thread settles at a time
};

}  // namespace volnode
