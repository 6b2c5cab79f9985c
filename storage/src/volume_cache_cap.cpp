#include "volnode/storage/volume_cache_cap.hpp"

#include <algorithm>
#include <vector>

#include "volnode/core/logging.hpp"

namespace volnode {
namespace {

// The names render jobs give the files (volume/volume_file.hpp: kPreparedVolumeFile
// and kBoneRemovedVolumeFile).
constexpr const char* kVolumeFileNames[] = {"volume.vol", "volume-bone-removed.vol"};

struct VolumeFile {
  std::filesystem::path path;
  std::filesystem::file_time_type written;
  int64_t bytes = 0;
};

}  // namespace

VolumeCacheTrim trimVolumeCache(const std::filesystem::path& results_root, int64_t max_bytes) {
  VolumeCacheTrim trim;
  std::vector<VolumeFile> found;
  std::error_code ec;
  for (auto it = std::filesystem::directory_iterator(results_root, ec);
       !ec && it != std::filesystem::directory_iterator(); it.increment(ec)) {
    for (const char* name : kVolumeFileNames) {
      const auto file = it->path() / name;
      std::error_code file_ec;
      const auto bytes = std::filesystem::file_size(file, file_ec);
      if (file_ec) continue;
      const auto written = std::filesystem::last_write_time(file, file_ec);
      if (file_ec) continue;
      found.push_back({file, written, static_cast<int64_t>(bytes)});
    }
  }
  std::sort(found.begin(), found.end(), [](const VolumeFile& a, const VolumeFile& b) { return a.written > b.written; });
  for (const auto& f : found) {
    if (trim.kept_bytes + f.bytes <= max_bytes) {
      trim.kept_bytes += f.bytes;
      continue;
    }
    std::error_code remove_ec;
    if (std::filesystem::remove(f.path, remove_ec)) {
      ++trim.removed;
      trim.removed_bytes += f.bytes;
    } else {
      moduleLogger("storage")->warn("retention: cannot remove the prepared volume {}: {}", f.path.string(),
                                    remove_ec ? remove_ec.message() : "not there");
      trim.kept_bytes += f.bytes;
    }
  }
  if (trim.removed > 0)
    moduleLogger("storage")->info("retention: removed {} prepared volumes ({:.1f} MB) beyond "
                                  "retention.max_volume_cache_gb; {:.1f} MB kept",
                                  trim.removed, trim.removed_bytes / 1e6, trim.kept_bytes / 1e6);
  return trim;
}

}  // namespace volnode
