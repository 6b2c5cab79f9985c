#pragma once
// How a volume is preprocessed before rendering. A plain header in core: the
// routing rules (volnode_rules) carry these options and the preprocessing
// (volnode_volume) applies them, and neither module depends on the other.
#include <cstddef>
#include <optional>
#include <string>
#include <utility>

namespace volnode {

enum class Smoothing {
  None,
  Median,       // 3x3x3 median: edge preserving, int16 in place of float, cheap in memory
  Anisotropic,  // curvature anisotropic diffusion (float copy of the volume: ~3x memory)
};
inline const char* smoothingName(Smoothing s) noexcept {
  switch (s) {
    case Smoothing::Median: return "median";
    case Smoothing::Anisotropic: return "anisotropic";
    default: return "none";
  }
}
inline std::optional<Smoothing> parseSmoothing(const std::string& name) noexcept {
  if (name == "none") return Smoothing::None;
  if (name == "median") return Smoothing::Median;
  if (name == "anisotropic") return Smoothing::Anisotropic;
  return std::nullopt;
}

struct PreprocessOptions {
  bool isotropic = true;
  // Target isotropic spacing in mm; 0 = the finest in-plane spacing of the input.
  double target_spacing_mm = 0;
  // Cap on output voxels: the spacing grows until the volume fits.
  size_t max_voxels = 64'000'000;
  Smoothing smoothing = Smoothing::None;
  int smoothing_iterations = 5;  // anisotropic diffusion only
  bool crop_body = false;
  // Body threshold in physical units (HU for CT) for crop_body.
  double body_threshold = -400;
  // Clamp values to [low, high]; unset: no clamping.
  std::optional<std::pair<int, int>> clamp;
};

}  // namespace volnode
