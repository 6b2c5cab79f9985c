#pragma once
// How much a folder holds, for benchmarks that report what a node writes.
#include <cstdint>
#include <filesystem>
#include <string>

namespace volnode::bench {

// Bytes of the regular files under dir (recursively); with `extension` (e.g. ".vol"),
// only of files that end in it. A folder that is missing or unreadable counts what was read.
inline uint64_t folderBytes(const std::filesystem::path& dir, const std::string& extension = "") {
  uint64_t bytes = 0;
  std::error_code ec;
  for (auto it = std::filesystem::recursive_directory_iterator(dir, ec);
       !ec && it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
    std::error_code size_ec;
    if (it->is_regular_file(size_ec) && (extension.empty() || it->path().extension() == extension))
      bytes += it->file_size(size_ec);
  }
  return bytes;
}

}  // namespace volnode::bench
