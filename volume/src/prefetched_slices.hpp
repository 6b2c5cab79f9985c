#pragma once
// Internal: what a StackPrefetch holds, for decodeStack to take over.
#include <cstdint>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "file_header.hpp"

namespace volnode::detail {

struct PrefetchedSlices {
  std::string series_uid;
  uint64_t max_bytes = 0;
  int rows = 0, cols = 0;                            // of every slice held
  std::vector<int16_t> voxels;                       // slice after slice, in the order decoded
  std::unordered_map<std::string, size_t> slot_of;   // file path -> slice in voxels
  std::unordered_set<std::string> seen;              // files looked at (decoded or left to assembly)
  // The header of every DICOM file looked at: the route's scan and assembly read only
  // the files not seen here (the store's files do not change once indexed).
  std::unordered_map<std::string, FileHeader> headers;

  size_t plane() const { return size_t(rows) * size_t(cols); }
  size_t slices() const { return plane() ? voxels.size() / plane() : 0; }
  void clear() {
    rows = cols = 0;
    std::vector<int16_t>().swap(voxels);
    slot_of.clear();
    seen.clear();
    headers.clear();
  }
};

}  // namespace volnode::detail
