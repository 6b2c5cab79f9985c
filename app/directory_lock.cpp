#include "directory_lock.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <string>

#include "volnode/core/error.hpp"

namespace volnode {

DirectoryLock::DirectoryLock(const std::filesystem::path& dir) {
  std::filesystem::create_directories(dir);
  auto path = dir / "volnode.lock";
  fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd_ < 0) throw Error(Errc::Io, "cannot create " + path.string());
  if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
    ::close(fd_);
    fd_ = -1;
    throw Error(Errc::Io, "storage directory " + dir.string() + " is in use by another volnode process (lock " +
                              path.string() + ")");
  }
  std::string pid = std::to_string(::getpid()) + "\n";
  if (::ftruncate(fd_, 0) == 0 && ::write(fd_, pid.data(), pid.size()) < 0) {
    // the pid is informational only
  }
}

DirectoryLock::~DirectoryLock() {
  if (fd_ >= 0) ::close(fd_);
}

}  // namespace volnode
