#pragma once
// A multipart/related body of DICOM files (PS3.18 8.6.1.2) produced piece by piece
// for httplib's content provider: the length is known up front (so the request has
// a Content-Length, which every origin server accepts), and each file is read from
// disk in 64 KiB chunks as the socket takes them, never held in memory whole.
// Used by the STOW-RS client and by the node's WADO-RS answers.
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

namespace volnode::dicomweb {

class MultipartBody {
 public:
  // Throws std::filesystem::filesystem_error when a file's size cannot be read.
  explicit MultipartBody(const std::vector<std::filesystem::path>& files);

  const std::string& boundary() const { return boundary_; }
  std::string contentType() const;  // multipart/related; type="application/dicom"; boundary=...
  std::uint64_t size() const { return size_; }

  // Copies up to `max` bytes starting at `offset` into `out` (cleared first). False when
  // a file cannot be read or is shorter than when it was measured.
  bool read(std::uint64_t offset, std::size_t max, std::string& out);

 private:
  struct Segment {
    std::uint64_t start = 0;
    std::uint64_t size = 0;
    std::string text;                // the boundary and headers, or "" for a file
    std::filesystem::path file;      // set for a file's bytes
  };
  std::string boundary_;
  std::vector<Segment> segments_;
  std::uint64_t size_ = 0;
  std::ifstream open_;               // the file being read, kept open between calls
  std::size_t open_index_ = SIZE_MAX;
};

}  // namespace volnode::dicomweb
