#pragma once
// The file store: one file per received instance under <root>/<aa>/<bb>/<uuid>.dcm.
// Names come from the node (random UUIDs), never from UIDs or other text in the
// received data.
//
// Durability at one flush per instance: files are pre-created in batches as
// empty "slots" whose directory entries are fsync'd once per batch, and each
// slot is recorded in a ledger (the index) before it is handed out. An incoming
// instance is written into a slot and fdatasync'd; indexing it removes the slot
// from the ledger in the same transaction. At start-up the index and the store
// are reconciled (reconciliation.hpp): a slot holding a whole instance is indexed,
// an empty or cut-off one deleted.
#include <deque>
#include <filesystem>
#include <mutex>
#include <string>
#include <vector>

namespace volnode {

// Where reserved-but-unused slots are remembered across a crash.
class SlotLedger {
 public:
  virtual ~SlotLedger() = default;
  virtual void addSlots(const std::vector<std::string>& relative_paths) = 0;
  virtual void removeSlot(const std::string& relative_path) = 0;
  virtual std::vector<std::string> slots() = 0;
};

struct Reservation {
  std::filesystem::path path;        // the slot file the incoming bytes are written to
  std::string relative_path;         // the same, relative to the store root (what the index keeps)
};

// What the store holds, by name only (nothing is opened or stat'ed).
struct StoreListing {
  std::vector<std::string> files;    // <aa>/<bb>/<name>.dcm, relative to the root: the node's own files
  std::vector<std::string> foreign;  // anything else found under the root (never touched)
};

class FileStore {
 public:
  FileStore(std::filesystem::path root, bool sync, SlotLedger& ledger, int batch_size = 64);

  const std::filesystem::path& root() const { return root_; }
  std::filesystem::path absolute(const std::string& relative_path) const { return root_ / relative_path; }

  // A durable empty file to write an instance into. Thread-safe.
  Reservation reserve();
  // fdatasync the written slot (no-op when sync is off).
  void sync(const Reservation& reservation) const;
  // The slot will not hold an instance: delete it and forget it.
  void release(const Reservation& reservation) noexcept;
  void remove(const std::string& relative_path) const noexcept;
  // Deletes the files and flushes their folders, so that a power loss cannot
  // bring back a file the index has already forgotten (start-up would index it again).
  void removeDurably(const std::vector<std::string>& relative_paths) const;

  // Every file in the store, from directory names alone.
  StoreListing list() const;

 private:
  void createBatch();

  std::filesystem::path root_;
  bool sync_;
  SlotLedger& ledger_;
  int batch_size_;
  std::mutex mutex_;
  std::deque<Reservation> free_slots_;
};

}  // namespace volnode
