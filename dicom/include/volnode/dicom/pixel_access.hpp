#pragma once
// Pixel data of a file opened with the guarded reader, for the DICOMweb pixel worker
// process only: the node process itself never calls these on a received file.
//   storedFrames:  frames as stored: native pixels, or the compressed bitstream of each
//                  frame (its fragments, found through the Basic Offset Table or one
//                  fragment per frame);
//   decodedFrames: native little endian pixels, decoded by DCMTK (JPEG, JPEG-LS, RLE;
//                  not JPEG 2000: Error(Unsupported) naming the transfer syntax);
//   renderedFrame: one frame as 8-bit JPEG or PNG (PS3.18 rendered resources), windowed
//                  and scaled into a viewport.
#include <optional>
#include <string>
#include <vector>

#include "volnode/dicom/dicom_file.hpp"

namespace volnode::dicom {

// Frame numbers start at 1. A number past the last frame: Error(NotFound) saying how
// many there are. No pixel data: Error(NotFound).
std::vector<std::string> storedFrames(const DicomFile& file, const std::vector<int>& numbers);
std::vector<std::string> decodedFrames(const DicomFile& file, const std::vector<int>& numbers);

struct RenderOptions {
  int frame = 1;
  // none: the file's first VOI window; without one, more than 8 bits: min-max; 8 bits: as they are
  std::optional<double> window_center, window_width;
  int viewport_columns = 0, viewport_rows = 0;         // 0: the image's own size; else fitted into it
  bool png = false;                                    // else JPEG
  int quality = 90;                                    // JPEG 1..100
};

struct RenderedImage {
  std::string content_type;  // image/jpeg or image/png
  std::string bytes;
  int columns = 0, rows = 0;
};

// Error(Unsupported) for pixel data DCMTK cannot decode or render (naming the transfer syntax).
RenderedImage renderedFrame(const DicomFile& file, const RenderOptions& options);

}  // namespace volnode::dicom
