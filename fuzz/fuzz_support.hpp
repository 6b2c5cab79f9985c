#pragma once
// Small helpers shared by the fuzz targets: a private temporary folder per fuzzer
// process (removed at exit) and input splitting.
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>
#include <vector>

namespace volnode::fuzz {

// <TMPDIR>/volnode-fuzz-<name>-<pid>, created once, removed when the process exits
// normally (libFuzzer exits through exit() after -max_total_time / -runs).
inline const std::filesystem::path& scratchDir(const char* name) {
  static const std::filesystem::path dir = [name] {
    auto d = std::filesystem::temp_directory_path() /
             ("volnode-fuzz-" + std::string(name) + "-" + std::to_string(::getpid()));
    std::filesystem::remove_all(d);
    std::filesystem::create_directories(d);
    static const std::filesystem::path for_cleanup = d;
    std::atexit([] {
      std::error_code ec;
      std::filesystem::remove_all(for_cleanup, ec);
    });
    return d;
  }();
  return dir;
}

inline void writeBytes(const std::filesystem::path& file, std::string_view bytes) {
  std::ofstream out(file, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

// Splits the input at every occurrence of `separator`, at most `max_parts` parts
// (the last part keeps any further separators).
inline std::vector<std::string_view> splitInput(std::string_view data, std::string_view separator, size_t max_parts) {
  std::vector<std::string_view> parts;
  while (parts.size() + 1 < max_parts) {
    auto at = data.find(separator);
    if (at == std::string_view::npos) break;
    parts.push_back(data.substr(0, at));
    data.remove_prefix(at + separator.size());
  }
  parts.push_back(data);
  return parts;
}

}  // namespace volnode::fuzz
