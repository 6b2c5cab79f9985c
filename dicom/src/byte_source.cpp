#include "byte_source.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <cerrno>
#include <cstring>

#include "volnode/core/error.hpp"
#include "volnode/dicom/limits.hpp"

namespace volnode::dicom::detail {
namespace {

constexpr size_t kWindowBytes = size_t(16) << 10;  // element headers are read in windows this large

}  // namespace

bool MemorySource::read(uint64_t offset, void* out, size_t count) {
  if (offset > bytes_.size() || count > bytes_.size() - offset) return false;
  std::memcpy(out, bytes_.data() + offset, count);
  return true;
}

FileSource::FileSource(const std::filesystem::path& file) : path_(file) {
  fd_ = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd_ < 0) throw Error(Errc::Io, "cannot open " + file.string() + ": " + std::strerror(errno));
  struct stat info {};
  if (::fstat(fd_, &info) != 0) {
    const int error = errno;
    ::close(fd_);
    throw Error(Errc::Io, "cannot read " + file.string() + ": " + std::strerror(error));
  }
  size_ = uint64_t(info.st_size);
}

FileSource::~FileSource() {
  if (fd_ >= 0) ::close(fd_);
}

bool FileSource::read(uint64_t offset, void* out, size_t count) {
  if (offset > size_ || count > size_ - offset) return false;
  auto* destination = static_cast<char*>(out);
  while (count > 0) {
    if (offset < window_offset_ || offset >= window_offset_ + window_.size()) {
      window_.resize(size_t(std::min<uint64_t>(kWindowBytes, size_ - offset)));
      size_t filled = 0;
      while (filled < window_.size()) {
        const ssize_t got = ::pread(fd_, window_.data() + filled, window_.size() - filled, off_t(offset + filled));
        if (got < 0 && errno == EINTR) continue;
        if (got < 0) throw Error(Errc::Io, "cannot read " + path_.string() + ": " + std::strerror(errno));
        if (got == 0) break;  // shorter than it was: the rest is not there
        filled += size_t(got);
      }
      window_.resize(filled);
      window_offset_ = offset;
      if (filled == 0) return false;
    }
    const size_t at = size_t(offset - window_offset_);
    const size_t take = std::min(count, window_.size() - at);
    std::memcpy(destination, window_.data() + at, take);
    destination += take;
    offset += take;
    count -= take;
  }
  return true;
}

std::string inflateFrom(ByteSource& source, uint64_t offset) {
  z_stream stream{};
  if (inflateInit2(&stream, -MAX_WBITS) != Z_OK) throw Error(Errc::Internal, "cannot start zlib");
  std::string inflated, input(kWindowBytes, '\0');
  std::string chunk(kWindowBytes, '\0');
  int status = Z_OK;
  while (status != Z_STREAM_END) {
    if (stream.avail_in == 0) {
      const size_t take = size_t(std::min<uint64_t>(input.size(), source.size() - std::min(offset, source.size())));
      if (take == 0) break;  // the stream ends before its end marker
      source.read(offset, input.data(), take);
      offset += take;
      stream.next_in = reinterpret_cast<Bytef*>(input.data());
      stream.avail_in = uInt(take);
    }
    stream.next_out = reinterpret_cast<Bytef*>(chunk.data());
    stream.avail_out = uInt(chunk.size());
    status = inflate(&stream, Z_NO_FLUSH);
    if (status != Z_OK && status != Z_STREAM_END) break;
    inflated.append(chunk.data(), chunk.size() - stream.avail_out);
    if (inflated.size() > kMaxInflatedBytes) {
      inflateEnd(&stream);
      throw Error(Errc::InvalidDicom, "the deflated data set inflates to more than " +
                                          std::to_string(kMaxInflatedBytes >> 20) + " MiB");
    }
  }
  inflateEnd(&stream);
  if (status != Z_STREAM_END) throw Error(Errc::InvalidDicom, "the deflated data set is not a complete deflate stream");
  return inflated;
}

}  // namespace volnode::dicom::detail
