#pragma once
// The prepared volumes (volume.vol, and volume-bone-removed.vol for CT angiography;
// hundreds of MB each) that batch renders keep under <results>/<render job id>/ so
// that the interactive view opens a series without assembling it again. Bounded by
// retention.max_volume_cache_gb: beyond it the oldest files go (the rest of each
// job's results stay); the viewer then assembles such a series again when opened.
#include <cstdint>
#include <filesystem>

namespace volnode {

struct VolumeCacheTrim {
  int removed = 0;
  int64_t removed_bytes = 0;
  int64_t kept_bytes = 0;
};

// Keeps the newest volume files (by modification time) whose sizes add up to at
// most max_bytes and removes the others. Never throws: a file that cannot be
// removed is logged and counted as kept.
VolumeCacheTrim trimVolumeCache(const std::filesystem::path& results_root, int64_t max_bytes);

}  // namespace volnode
