#pragma once
// Volume preprocessing before rendering (ITK inside): clamp outliers, crop to the
// body (drops air and the CT table), resample to isotropic voxels, optional
// edge-preserving smoothing. Every step's wall time is returned.
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "volnode/pipeline/volume.hpp"

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

struct StepTiming {
  std::string step;  // "clamp", "crop_body", "resample", "smooth"
  double ms = 0;
};

struct PreprocessResult {
  Volume volume;
  std::vector<StepTiming> timings;
  std::vector<std::string> notes;  // e.g. "cropped to body 412x380x140", "resampled to 0.45 mm isotropic"
  double total_ms = 0;
};

// Consumes the input (its buffer is reused or released as early as possible).
// Throws volnode::Error(Errc::InvalidArgument) for an empty or inconsistent volume.
PreprocessResult preprocess(Volume input, const PreprocessOptions& options);

}  // namespace volnode
