#pragma once
// Frames and slices as the bytes of a JPEG or PNG file, in memory (VTK's
// writers), for the viewer's HTTP answers.
#include <cstdint>
#include <string>
#include <vector>

#include "volnode/core/rendered_frame.hpp"
#include "volnode/viewer/view_parameters.hpp"

namespace volnode::viewer {

struct EncodedImage {
  std::string content_type;  // image/jpeg or image/png
  std::string bytes;
};

// pixels: width * height * channels (1 grey, 3 RGB), top row first.
// JPEG quality 90 (full) or 75 (draft): small enough to stream while dragging.
EncodedImage encodeImage(const std::vector<uint8_t>& pixels, int width, int height, int channels, ImageFormat format,
                         int jpeg_quality = 90);
EncodedImage encodeFrame(const RenderedFrame& frame, ImageFormat format, int jpeg_quality = 90);

// The pixels of a PNG or JPEG file in memory (top row first), for checks of what
// was sent. Throws Error(Errc::InvalidArgument) for bytes that are neither.
struct DecodedImage {
  int width = 0, height = 0, channels = 0;
  std::vector<uint8_t> pixels;
  uint8_t at(int x, int y, int channel = 0) const { return pixels[(size_t(y) * width + x) * channels + channel]; }
};
DecodedImage decodeImage(const std::string& bytes);

}  // namespace volnode::viewer
