#pragma once
// Internal: the per-frame facts that volume assembly needs, from the header of one
// file read through the guarded reader (volnode::dicom::DicomFile; pixel data not
// loaded). Classic single-frame images and enhanced multi-frame images (functional
// groups) give the same FrameHeader.
#include <array>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "volnode/volume/assembly.hpp"

namespace volnode::detail {

struct FrameHeader {
  size_t file_index = 0;  // into HeaderScan::files
  int frame = 0;          // frame number inside the file (0-based)
  bool has_position = false;
  bool has_orientation = false;
  std::array<double, 3> position{0, 0, 0};
  std::array<double, 6> orientation{1, 0, 0, 0, 1, 0};
  bool has_spacing = false;
  std::array<double, 2> pixel_spacing{1, 1};  // row spacing, column spacing
  double slope = 1, intercept = 0;
  bool localizer = false;
  std::string split_key;    // frames with different keys never share a volume
  std::string split_label;  // readable form of split_key ("echo 2", ...)
  int instance_number = 0;
};

struct FileHeader {
  std::filesystem::path path;
  SeriesInfo info;
  std::string sop_instance_uid;
  std::string transfer_syntax_uid;
  int rows = 0, cols = 0;
  int samples_per_pixel = 1;
  int bits_allocated = 16, bits_stored = 16, pixel_representation = 0;
  int number_of_frames = 1;
  bool has_pixel_data = false;
  bool enhanced = false;  // per-frame functional groups present
  std::optional<double> padding_value, padding_limit;  // stored values
  int instance_number = 0;
  std::vector<FrameHeader> frames;
  // Native little-endian Pixel Data, as the pre-scan found and measured it: where its
  // bytes lie in the file, so frames are read straight from there without a decoder.
  // Length 0: the pixels go through the decoder (compressed, big endian, deflated).
  uint64_t native_pixels_offset = 0;
  uint64_t native_pixels_length = 0;
};

// Reads the header of one file. Returns nullopt when the file is not DICOM, is a
// DICOMDIR or is refused by the guarded reader (then `refusal`, when given, says why);
// never throws for bad content.
std::optional<FileHeader> readHeader(const std::filesystem::path& path, std::string* refusal = nullptr);

}  // namespace volnode::detail
