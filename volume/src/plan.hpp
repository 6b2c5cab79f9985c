#pragma once
// Internal: geometry planning (headers only) and pixel decoding of one series.
#include <array>
#include <vector>

#include "file_header.hpp"
#include "volnode/volume/assembly.hpp"

namespace volnode::detail {

using V3 = std::array<double, 3>;

struct SliceRef {
  size_t file = 0;   // into the header list
  size_t frame = 0;  // index into FileHeader::frames
  double d = 0;      // position along the slice normal (mm)
  double a = 0, b = 0;  // in-plane offset of the slice relative to the output origin (mm, along r, c)
};

struct StackPlan {
  VolumeCandidate candidate;  // geometry + decision (no voxels)
  std::vector<SliceRef> slices;  // sorted along the normal; empty for refused bins
  int rows = 0, cols = 0;        // source slice matrix
  double sx = 1, sy = 1;         // source spacing along r (columns) and c (rows)
  bool resample = false;         // shear and/or non-uniform: general resampling
  int fill_value = 0;
};

std::vector<StackPlan> planSeries(const std::vector<FileHeader>& headers, const AssemblyOptions& options);

// Decodes and (re)samples the voxels of a renderable plan. Throws volnode::Error:
// Errc::Io when a file cannot be opened, Errc::InvalidDicom when pixels cannot be decoded.
// With a reduction, the volume is averaged down in blocks while it is decoded (see
// block_reduction.hpp); the full-resolution volume never exists.
// `prefetched`: slices a StackPrefetch decoded ahead; taken (and cleared) when the
// stack goes straight into the volume, left alone otherwise.
struct BlockReduction;
struct PrefetchedSlices;
Volume decodeStack(const std::vector<FileHeader>& headers, const StackPlan& plan, const BlockReduction& reduction,
                   PrefetchedSlices* prefetched = nullptr);

// The physical values of a single-frame file's frame as decodeStack puts them in a
// stack (no padding value: the fill does not matter). Throws what decodeStack throws.
void decodeFrameInt16(const FileHeader& header, int16_t* out);

// Header reading and planning shared by assembly.cpp and directory_scan.cpp.
// `first_refusal`, when given, receives why the guarded reader refused the first file it refused.
// Headers `known` holds (read while the series arrived) are taken from there, not read again.
std::vector<FileHeader> readHeaders(const std::vector<std::filesystem::path>& files, size_t& skipped,
                                    std::string* first_refusal = nullptr, const PrefetchedSlices* known = nullptr);
SeriesAssembly assembleFromHeaders(const std::vector<FileHeader>& headers, size_t skipped,
                                   const AssemblyOptions& options, std::vector<StackPlan>* plans_out);
// Series decision + reason from the candidates (and from the first refused file, when nothing was read).
void finish(SeriesAssembly& out, const std::string& first_refusal = {});

}  // namespace volnode::detail
