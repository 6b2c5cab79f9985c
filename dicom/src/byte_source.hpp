#pragma once
// Internal: random access to the bytes the pre-scan walks, from a file (read in
// windows, so skipping a large value costs nothing) or from memory.
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>

namespace volnode::dicom::detail {

class ByteSource {
 public:
  virtual ~ByteSource() = default;
  virtual uint64_t size() const = 0;
  // Copies `count` bytes at `offset` to `out`; false when they are not all there.
  virtual bool read(uint64_t offset, void* out, size_t count) = 0;
};

class MemorySource final : public ByteSource {
 public:
  explicit MemorySource(std::string_view bytes) : bytes_(bytes) {}
  uint64_t size() const override { return bytes_.size(); }
  bool read(uint64_t offset, void* out, size_t count) override;

 private:
  std::string_view bytes_;
};

class FileSource final : public ByteSource {
 public:
  // Throws Error(Errc::Io) when the file cannot be opened.
  explicit FileSource(const std::filesystem::path& file);
  ~FileSource() override;
  FileSource(const FileSource&) = delete;
  FileSource& operator=(const FileSource&) = delete;

  uint64_t size() const override { return size_; }
  bool read(uint64_t offset, void* out, size_t count) override;

 private:
  std::filesystem::path path_;
  int fd_ = -1;
  uint64_t size_ = 0;
  std::string window_;          // bytes [window_offset_, window_offset_ + window_.size())
  uint64_t window_offset_ = 0;
};

// The raw deflate stream (RFC 1951, as DICOM's Deflated Explicit VR Little Endian
// writes it) that starts at `offset`, inflated. Throws Error(Errc::InvalidDicom) when
// it is not a valid stream or inflates to more than kMaxInflatedBytes.
std::string inflateFrom(ByteSource& source, uint64_t offset);

}  // namespace volnode::dicom::detail
