#include "volnode/core/files.hpp"

#include <fcntl.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "volnode/core/error.hpp"

namespace volnode {
namespace {

[[noreturn]] void ioFail(const std::string& what, const std::filesystem::path& path) {
  throw Error(errno == ENOSPC || errno == EDQUOT ? Errc::OutOfSpace : Errc::Io,
              what + " " + path.string() + ": " + std::strerror(errno));
}

class FileDescriptor {
 public:
  FileDescriptor(const std::filesystem::path& path, int flags, mode_t mode = 0644) : fd_(::open(path.c_str(), flags | O_CLOEXEC, mode)) {
    if (fd_ < 0) ioFail("cannot open", path);
  }
  ~FileDescriptor() {
    if (fd_ >= 0) ::close(fd_);
  }
  FileDescriptor(const FileDescriptor&) = delete;
  FileDescriptor& operator=(const FileDescriptor&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

}  // namespace

void syncFile(const std::filesystem::path& file) {
  FileDescriptor fd(file, O_RDONLY);
  if (::fdatasync(fd.get()) != 0) ioFail("cannot fsync", file);
}

void syncDirectory(const std::filesystem::path& dir) {
  FileDescriptor fd(dir, O_RDONLY | O_DIRECTORY);
  if (::fsync(fd.get()) != 0) ioFail("cannot fsync directory", dir);
}

uint64_t freeBytes(const std::filesystem::path& path) {
  struct statvfs info {};
  if (::statvfs(path.c_str(), &info) != 0) ioFail("cannot stat filesystem of", path);
  return static_cast<uint64_t>(info.f_bavail) * info.f_frsize;
}

std::string readFile(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) throw Error(Errc::Io, "cannot read " + file.string());
  std::ostringstream content;
  content << in.rdbuf();
  return content.str();
}


}  // namespace volnode
