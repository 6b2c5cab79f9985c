#pragma once
// One process per storage directory: a second node would corrupt nothing (SQLite
// locks) but would fight over the port and the temp files, and `volnode reindex`
// must not replace the index under a running node.
#include <filesystem>

namespace volnode {

class DirectoryLock {
 public:
  // Takes <dir>/volnode.lock (flock, released when the process ends) or throws
  // Error(Errc::Io) saying that another volnode process uses the directory.
  explicit DirectoryLock(const std::filesystem::path& dir);
  ~DirectoryLock();
  DirectoryLock(const DirectoryLock&) = delete;
  DirectoryLock& operator=(const DirectoryLock&) = delete;

 private:
  int fd_ = -1;
};

}  // namespace volnode
