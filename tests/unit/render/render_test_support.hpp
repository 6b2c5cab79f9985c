#pragma once
// Helpers shared by the render tests: one display per test process (a private
// Xvfb through DisplayServer, never xvfb-run), a MIP preset, blob analysis.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <memory>
#include <vector>

#include "volnode/render/display.hpp"
#include "volnode/render/presets.hpp"
#include "volnode/render/render.hpp"

namespace volnode::test {

inline std::shared_ptr<DisplayServer> testDisplay() {
  static std::shared_ptr<DisplayServer> display = DisplayServer::shared();  // lives for the whole process
  return display;
}

inline VolumeRenderer& sharedRenderer() {
  static VolumeRenderer renderer([] {
    VolumeRenderer::Options o;
    o.backend = RenderBackend::Cpu;
    o.display = testDisplay();
    return o;
  }());
  return renderer;
}

// Grey = value / 1000 * 255 for 0..1000 HU.
inline RenderPreset testMip() {
  RenderPreset p;
  p.name = "test-mip";
  p.blend = BlendMode::MaximumIntensity;
  p.window_center = 500;
  p.window_width = 1000;
  p.shade = false;
  return p;
}

inline RenderRequest plainRequest(int size = 160) {
  RenderRequest rq;
  rq.width = rq.height = size;
  rq.orientation_letters = false;
  rq.preset_label = false;
  rq.spin_frames = 0;
  return rq;
}

struct Blob {
  double x = 0, y = 0;  // centroid, pixels (y down)
  int area = 0;
  int peak = 0;
};

// 4-connected components of pixels brighter than `threshold` in a grey (or
// RGB, using the max channel) frame.
inline std::vector<Blob> findBlobs(const RenderedFrame& f, int threshold) {
  const int w = f.width, h = f.height;
  auto grey = [&](int x, int y) {
    const uint8_t* p = f.pixels.data() + (size_t(y) * w + x) * f.channels;
    int g = p[0];
    for (int c = 1; c < f.channels; ++c) g = std::max<int>(g, p[c]);
    return g;
  };
  std::vector<int> label(size_t(w) * h, 0);
  std::vector<Blob> blobs;
  std::vector<std::pair<int, int>> stack;
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) {
      if (label[size_t(y) * w + x] || grey(x, y) <= threshold) continue;
      Blob b;
      double sx = 0, sy = 0;
      stack.push_back({x, y});
      label[size_t(y) * w + x] = 1;
      while (!stack.empty()) {
        auto [cx, cy] = stack.back();
        stack.pop_back();
        ++b.area;
        sx += cx;
        sy += cy;
        b.peak = std::max(b.peak, grey(cx, cy));
        const int nx[4] = {cx + 1, cx - 1, cx, cx}, ny[4] = {cy, cy, cy + 1, cy - 1};
        for (int n = 0; n < 4; ++n) {
          if (nx[n] < 0 || ny[n] < 0 || nx[n] >= w || ny[n] >= h) continue;
          int& l = label[size_t(ny[n]) * w + nx[n]];
          if (l || grey(nx[n], ny[n]) <= threshold) continue;
          l = 1;
          stack.push_back({nx[n], ny[n]});
        }
      }
      b.x = sx / b.area;
      b.y = sy / b.area;
      if (b.area >= 4) blobs.push_back(b);
    }
  return blobs;
}

// Writes the frame to $VOLNODE_RENDER_TEST_PNG/<name>.png when that variable is
// set (to look at the pictures); does nothing otherwise.
inline void maybeDump(const RenderedFrame& f, const std::string& name) {
  if (const char* dir = std::getenv("VOLNODE_RENDER_TEST_PNG")) writePng(f, std::filesystem::path(dir) / (name + ".png"));
}

// Mean absolute difference per channel value.
inline double meanAbsDiff(const RenderedFrame& a, const RenderedFrame& b) {
  if (a.pixels.size() != b.pixels.size()) return 1e9;
  double s = 0;
  for (size_t i = 0; i < a.pixels.size(); ++i) s += std::abs(int(a.pixels[i]) - int(b.pixels[i]));
  return s / double(a.pixels.size());
}

// Bounding box of pixels brighter than `threshold`: {x0, y0, x1, y1}.
inline std::array<int, 4> brightBox(const RenderedFrame& f, int threshold) {
  std::array<int, 4> box{f.width, f.height, -1, -1};
  for (int y = 0; y < f.height; ++y)
    for (int x = 0; x < f.width; ++x) {
      const uint8_t* p = f.pixels.data() + (size_t(y) * f.width + x) * f.channels;
      int g = p[0];
      for (int c = 1; c < f.channels; ++c) g = std::max<int>(g, p[c]);
      if (g > threshold) {
        box[0] = std::min(box[0], x);
        box[1] = std::min(box[1], y);
        box[2] = std::max(box[2], x);
        box[3] = std::max(box[3], y);
      }
    }
  return box;
}

}  // namespace volnode::test
