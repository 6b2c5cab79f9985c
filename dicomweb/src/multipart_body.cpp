#include "volnode/dicomweb/multipart_body.hpp"

#include <algorithm>
#include <random>

#include <fmt/format.h>

namespace volnode::dicomweb {
namespace {

std::string randomBoundary() {
  std::random_device random;
  return fmt::format("volnode-{:08x}{:08x}{:08x}{:08x}", random(), random(), random(), random());
}

}  // namespace

MultipartBody::MultipartBody(const std::vector<std::filesystem::path>& files) : boundary_(randomBoundary()) {
  auto add_text = [&](std::string text) {
    Segment s;
    s.start = size_;
    s.size = text.size();
    s.text = std::move(text);
    size_ += s.size;
    segments_.push_back(std::move(s));
  };
  for (size_t i = 0; i < files.size(); ++i) {
    Segment file;
    file.file = files[i];
    file.size = std::filesystem::file_size(files[i]);
    add_text((i == 0 ? "--" : "\r\n--") + boundary_ + "\r\nContent-Type: application/dicom\r\nContent-Length: " +
             std::to_string(file.size) + "\r\n\r\n");
    file.start = size_;
    size_ += file.size;
    segments_.push_back(std::move(file));
  }
  add_text("\r\n--" + boundary_ + "--\r\n");
}

std::string MultipartBody::contentType() const {
  return "multipart/related; type=\"application/dicom\"; boundary=" + boundary_;
}

bool MultipartBody::read(std::uint64_t offset, std::size_t max, std::string& out) {
  out.clear();
  auto it = std::upper_bound(segments_.begin(), segments_.end(), offset,
                             [](std::uint64_t value, const Segment& s) { return value < s.start; });
  if (it == segments_.begin()) return false;
  --it;
  size_t index = static_cast<size_t>(it - segments_.begin());
  const Segment& s = *it;
  std::uint64_t within = offset - s.start;
  if (within >= s.size) return false;
  size_t n = static_cast<size_t>(std::min<std::uint64_t>(max, s.size - within));
  if (s.file.empty()) {
    out = s.text.substr(static_cast<size_t>(within), n);
    return true;
  }
  if (open_index_ != index) {
    open_ = std::ifstream(s.file, std::ios::binary);
    open_index_ = index;
  }
  if (!open_) return false;
  open_.seekg(static_cast<std::streamoff>(within));
  out.resize(n);
  open_.read(out.data(), static_cast<std::streamsize>(n));
  if (open_.gcount() != static_cast<std::streamsize>(n)) return false;
  return true;
}

}  // namespace volnode::dicomweb
