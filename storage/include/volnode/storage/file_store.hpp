#pragma once
// The file store: one file per received instance under <root>/<aa>/<bb>/<uuid>.dcm.
// Names come from the node (random UUIDs), never from UIDs or other text in the
// received data. An instance is written to <root>/tmp first, fsync'd, indexed,
// and only then renamed into place; `recover()` finishes or discards what a
// crash left in tmp/, so the store never shows half-written or orphan files.
#include <filesystem>
#include <functional>
#include <string>

namespace volnode {

struct Reservation {
  std::filesystem::path temp_path;   // where the incoming bytes are written
  std::string relative_path;         // final place, relative to the store root
};

struct RecoveryReport {
  int published = 0;  // indexed before the crash, renamed into place now
  int discarded = 0;  // never indexed (never acknowledged), removed
};

class FileStore {
 public:
  FileStore(std::filesystem::path root, bool sync);

  const std::filesystem::path& root() const { return root_; }
  std::filesystem::path tempDir() const { return root_ / "tmp"; }
  std::filesystem::path absolute(const std::string& relative_path) const { return root_ / relative_path; }

  Reservation reserve() const;
  // fdatasync the temp file (no-op when sync is off).
  void syncTemp(const Reservation& reservation) const;
  // Renames the temp file to its final place and syncs the directory.
  void publish(const Reservation& reservation) const;
  void discard(const Reservation& reservation) const noexcept;
  void remove(const std::string& relative_path) const noexcept;

  // At start-up: temp files whose final path is indexed are published, the rest removed.
  RecoveryReport recover(const std::function<bool(const std::string& relative_path)>& is_indexed) const;

 private:
  std::filesystem::path root_;
  bool sync_;
};

}  // namespace volnode
