#pragma once
// The limits every read of a received DICOM file is held to, at C-STORE and after.
// One definition: ingest and every later stage refuse the same files for the same reasons.
#include <cstddef>
#include <cstdint>

namespace volnode::dicom {

// Sequences inside sequences. DCMTK parses nesting by recursion on the calling thread's
// stack; 64 levels are far beyond any real object (functional groups nest 3 or 4) and
// fit any thread's stack, so no parse needs a large one.
inline constexpr int kMaxSequenceDepth = 64;

// Sequence items in one file, all levels together (an enhanced multi-frame object has
// about ten per frame). Each is an object in DCMTK's parse.
inline constexpr size_t kMaxSequenceItems = 50000;

// Pixel data of one file once decoded: Rows x Columns x SamplesPerPixel x BitsAllocated
// x NumberOfFrames / 8. Compressed pixel data cannot be compared with its length, so the
// size it decodes to is held to this (video streams excepted: never decoded here).
inline constexpr uint64_t kMaxPixelDataBytes = uint64_t(4) << 30;

// A deflated data set, inflated for the pre-scan (a small deflated file may inflate
// to anything).
inline constexpr uint64_t kMaxInflatedBytes = uint64_t(1) << 30;

}  // namespace volnode::dicom
