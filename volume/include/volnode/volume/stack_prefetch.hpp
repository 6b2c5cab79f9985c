#pragma once
// Slices of a series decoded while the series is still arriving, so that assembly at
// completion finds most of its volume decoded and its memory already in place.
//
// A render worker with nothing else to do follows the series being received: add()
// decodes the files it has not seen yet into one buffer (its room reserved at the first
// slice, up to max_bytes, so that it is not copied as it grows), a slice per file in
// the order they came (single-frame grayscale images with native pixel data and no
// padding value, all of one size: the common CT and MR series; any other file is left
// to assembly). assembleSeries() takes the buffer (AssemblyOptions::prefetched) when
// the stack goes straight into the volume (no resampling, no averaging down): each
// slice is moved to its place in the stack and only the missing ones are decoded; the
// volume is exactly what assembly alone gives. Otherwise the slices are dropped and
// assembly decodes everything, as without them.
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

namespace volnode {

namespace detail {
struct PrefetchedSlices;
}

class StackPrefetch {
 public:
  // max_bytes: the decoded slices kept at most; a series that needs more stops being
  // followed (assembly then decodes the rest, or averages it down, as it would).
  explicit StackPrefetch(uint64_t max_bytes);
  ~StackPrefetch();
  StackPrefetch(const StackPrefetch&) = delete;
  StackPrefetch& operator=(const StackPrefetch&) = delete;

  // Starts following a series, dropping what another series left.
  void follow(const std::string& series_uid);
  const std::string& seriesUid() const;

  // Decodes up to `budget` of the files not seen yet (a file that cannot be decoded
  // ahead, or is no longer there, is left to assembly). Returns how many were looked at.
  size_t add(const std::vector<std::filesystem::path>& files, size_t budget);

  size_t slices() const;  // decoded slices held
  uint64_t bytes() const;
  bool full() const;  // the next slice would pass max_bytes
  void clear();       // drops the slices and gives their memory back

  // For assembly (decode.cpp): the slices, handed over once.
  detail::PrefetchedSlices& held();

 private:
  std::unique_ptr<detail::PrefetchedSlices> slices_;
};

}  // namespace volnode
