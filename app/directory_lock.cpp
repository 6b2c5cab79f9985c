#include "directory_lock.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <string>

#include "volnode/core/error.hpp"

namespace volnode {
namespace {

// The lock file, locked with `how` (LOCK_EX or LOCK_SH), or Error(Errc::Io) naming `in_use`.
int lockFile(const std::filesystem::path& path, int how, const std::string& in_use) {
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) throw Error(Errc::Io, "cannot create " + path.string());
  if (::flock(fd, how | LOCK_NB) != 0) {
    ::close(fd);
    throw Error(Errc::Io, in_use + " (lock " + path.string() + ")");
  }
  return fd;
}

void writePid(int fd) {
  std::string pid = std::to_string(::getpid()) + "\n";
  if (::ftruncate(fd, 0) == 0 && ::write(fd, pid.data(), pid.size()) < 0) {
    // the pid is informational only
  }
}

}  // namespace

DirectoryLock::DirectoryLock(const std::filesystem::path& dir) {
  std::filesystem::create_directories(dir);
  fd_ = lockFile(dir / "volnode.lock", LOCK_EX,
                 "storage directory " + dir.string() + " is in use by another volnode process");
  writePid(fd_);
}

DirectoryLock::DirectoryLock(const std::filesystem::path& dir, const std::string& node) {
  std::filesystem::create_directories(dir / "nodes");
  fd_ = lockFile(dir / "volnode.lock", LOCK_SH,
                 "storage directory " + dir.string() +
                     " is in use by a volnode process with an SQLite index, or by `volnode reindex`");
  try {
    node_fd_ = lockFile(dir / "nodes" / (node + ".lock"), LOCK_EX,
                        "storage directory " + dir.string() + " is in use by another volnode process named " + node +
                            " (the same host name and dicom.port)");
  } catch (...) {
    ::close(fd_);
    fd_ = -1;
    throw;
  }
  writePid(node_fd_);
}

DirectoryLock::~DirectoryLock() {
  if (node_fd_ >= 0) ::close(node_fd_);
  if (fd_ >= 0) ::close(fd_);
}

}  // namespace volnode
