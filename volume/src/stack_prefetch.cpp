#include "volnode/volume/stack_prefetch.hpp"

#include <algorithm>

#include "file_header.hpp"
#include "plan.hpp"
#include "prefetched_slices.hpp"

namespace volnode {
namespace {

// Address space reserved for a series at first (4,000 slices of 512 x 512); more grows by copying.
constexpr uint64_t kReservedAtMost = uint64_t(2) << 30;

}  // namespace

StackPrefetch::StackPrefetch(uint64_t max_bytes) : slices_(std::make_unique<detail::PrefetchedSlices>()) {
  slices_->max_bytes = max_bytes;
}

StackPrefetch::~StackPrefetch() = default;

void StackPrefetch::follow(const std::string& series_uid) {
  if (series_uid == slices_->series_uid) return;
  slices_->clear();
  slices_->series_uid = series_uid;
}

const std::string& StackPrefetch::seriesUid() const { return slices_->series_uid; }

size_t StackPrefetch::add(const std::vector<std::filesystem::path>& files, size_t budget) {
  detail::PrefetchedSlices& s = *slices_;
  size_t looked = 0;
  for (const auto& file : files) {
    if (looked >= budget || full()) break;
    if (!s.seen.insert(file.string()).second) continue;
    ++looked;
    auto read = detail::readHeader(file);
    if (!read || read->info.series_instance_uid != s.series_uid) continue;
    const detail::FileHeader& header = s.headers.emplace(file.string(), std::move(*read)).first->second;
    // What decodeStack reads frame by frame itself: one native grayscale frame whose
    // values do not depend on the series' fill value (no padding).
    if (header.native_pixels_length == 0 || header.number_of_frames != 1 || header.frames.size() != 1 ||
        header.samples_per_pixel != 1 || header.padding_value)
      continue;
    if (s.slot_of.empty()) {
      s.rows = header.rows;
      s.cols = header.cols;
    }
    if (header.rows != s.rows || header.cols != s.cols) continue;
    const size_t slot = s.slices();
    // The room it may take is reserved at once (address space only, until written): a
    // buffer grown by copying costs a copy and fresh memory each time, seconds where
    // fresh memory is slow to touch (a virtual machine's), and the last copy tends to
    // come as the series completes, just when its render is to start.
    if (s.voxels.capacity() == 0) s.voxels.reserve(std::min(s.max_bytes, kReservedAtMost) / sizeof(int16_t));
    if (s.voxels.capacity() < (slot + 1) * s.plane()) s.voxels.reserve(std::max((slot + 1), slot * 3 / 2) * s.plane());
    s.voxels.resize((slot + 1) * s.plane());
    try {
      detail::decodeFrameInt16(header, s.voxels.data() + slot * s.plane());
    } catch (const std::exception&) {  // assembly decodes it again and reports why it cannot
      s.voxels.resize(slot * s.plane());
      continue;
    }
    s.slot_of[file.string()] = slot;
  }
  return looked;
}

size_t StackPrefetch::slices() const { return slices_->slices(); }
uint64_t StackPrefetch::bytes() const { return slices_->voxels.size() * sizeof(int16_t); }
bool StackPrefetch::full() const {
  return slices_->plane() > 0 && bytes() + slices_->plane() * sizeof(int16_t) > slices_->max_bytes;
}
void StackPrefetch::clear() {
  slices_->clear();
  slices_->series_uid.clear();
}
detail::PrefetchedSlices& StackPrefetch::held() { return *slices_; }

}  // namespace volnode
