#pragma once
// One rendered image: what the renderer (volnode_render) produces and the DICOM
// encoder (volnode_encode) consumes. A plain struct in core so the encoder needs
// no rendering library to take frames.
#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace volnode {

struct RenderedFrame {
  std::string view;    // "anterior", ..., or "spin-000"
  double angle_deg = 0;  // spin angle (0 for key views other than left/posterior/right)
  int width = 0, height = 0;
  int channels = 3;      // 3: RGB (composite); 1: grey (MIP)
  std::vector<uint8_t> pixels;  // row-major, top row first
  // Letters drawn (or that would be drawn) at the left, right, top and bottom edges.
  std::array<std::string, 4> edge_letters;
  bool identifiers_drawn = false;  // patient identifiers burned into the pixels
  double render_seconds = 0;
};

}  // namespace volnode
