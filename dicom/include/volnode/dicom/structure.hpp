#pragma once
// The pre-scan: a walk over the raw bytes of a DICOM file that checks its structure
// before any full parse. It reads element headers only (values are skipped, except
// the few image attributes it needs), keeps no tree and recurses no deeper than
// kMaxSequenceDepth, so a hostile file costs little and cannot exhaust a stack.
//
// Refused, with a reason naming the problem and where it is:
//  - sequences nested deeper than kMaxSequenceDepth, more than kMaxSequenceItems items;
//  - an element, item or sequence whose length runs past the end of the file or of
//    the item or sequence holding it; a header cut off by the end of the file;
//  - delimiters and items where DCMTK's parser fails on them, undefined lengths on
//    elements that cannot have one;
//  - Pixel Data whose length differs from Rows x Columns x SamplesPerPixel x
//    BitsAllocated x NumberOfFrames (native), or that would decode to more than
//    kMaxPixelDataBytes (compressed; video streams excepted, the node never decodes
//    them); encapsulated Pixel Data in a native transfer syntax or the reverse; Pixel
//    Data without the attributes that size it.
// The walk follows DCMTK's own reading rules (how a VR sets the length field, which
// elements are sequences, File Meta Information and transfer syntax detection), so
// what it measures is what DCMTK's parse would meet.
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

namespace volnode::dicom {

struct PixelDataLayout {
  bool encapsulated = false;  // undefined length: compressed fragments
  uint64_t length = 0;        // value length (native); sum of the fragments (encapsulated)
  size_t fragments = 0;       // encapsulated only, the basic offset table included
  uint64_t decoded_bytes = 0;  // what Rows x Columns x ... say the decoded pixels take
  // Native (7FE0,0010) in a file that is not deflated: where its first byte lies in the
  // file, so frames can be read straight from there. 0 otherwise.
  uint64_t file_offset = 0;
};

struct Structure {
  size_t dataset_offset = 0;        // first byte after the File Meta Information
  std::string transfer_syntax_uid;  // the one the data set is read in (meta header, else detected)
  bool deflated = false;
  int max_depth = 0;                // deepest sequence nesting (0: no sequences)
  size_t items = 0;                 // sequence items, all levels
  std::optional<PixelDataLayout> pixel_data;  // of the top-level data set, when present
};

// Checks a file. Throws Error(Errc::InvalidDicom, "<file>: <reason>") when it breaks a
// rule above, Error(Errc::Io) when it cannot be read.
Structure checkStructure(const std::filesystem::path& file);

// The same for the bytes of a whole file; `name` starts the reason.
Structure checkStructure(std::string_view file_bytes, const std::string& name = "DICOM data");

// Offset of the first byte after the File Meta Information of a Part 10 file (the
// "DICM" prefix at 128 and group 0002 after it), 0 when there is no such header or an
// element of it runs past the end of the bytes. Never throws; what it returns for a
// broken header is only consistent (two identical inputs give the same offset).
size_t datasetOffset(std::string_view file_bytes);

}  // namespace volnode::dicom
