#pragma once
// Who may use a storage directory at once. With an SQLite index, one process: a
// second node would corrupt nothing (SQLite locks) but would fight over the port and
// the store's slots, and `volnode reindex` must not replace the index under a running
// node. With a PostgreSQL index, several serve nodes may share the store (each settles
// only its own slots, Index::ownRowsAs), one per node name.
#include <filesystem>
#include <string>

namespace volnode {

class DirectoryLock {
 public:
  // Takes <dir>/volnode.lock exclusively (flock, released when the process ends) or
  // throws Error(Errc::Io) saying that another volnode process uses the directory.
  explicit DirectoryLock(const std::filesystem::path& dir);
  // A serve node on a shared index: <dir>/volnode.lock shared (so an SQLite node or
  // `volnode reindex` still finds the directory in use) and <dir>/nodes/<node>.lock
  // exclusively (two processes under one node name would settle each other's slots).
  DirectoryLock(const std::filesystem::path& dir, const std::string& node);
  ~DirectoryLock();
  DirectoryLock(const DirectoryLock&) = delete;
  DirectoryLock& operator=(const DirectoryLock&) = delete;

 private:
  int fd_ = -1;
  int node_fd_ = -1;
};

}  // namespace volnode
