#pragma once
// Volume preprocessing before rendering (ITK inside): clamp outliers, crop to the
// body (drops air and the CT table), resample to isotropic voxels, optional
// edge-preserving smoothing. Every step's wall time is returned.
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "volnode/core/stage_timings.hpp"
#include "volnode/core/preprocess_options.hpp"
#include "volnode/volume/volume.hpp"

namespace volnode {

struct PreprocessResult {
  Volume volume;
  StageTimings timings;  // "clamp", "crop_body", "resample", "smooth"
  std::vector<std::string> notes;  // e.g. "cropped to body 412x380x140", "resampled to 0.45 mm isotropic"
};

// Consumes the input (its buffer is reused or released as early as possible).
// Throws volnode::Error(Errc::InvalidArgument) for an empty or inconsistent volume.
PreprocessResult preprocess(Volume input, const PreprocessOptions& options);

// The same result, leaving the input as it is (for a caller that keeps it, e.g. to
// resample reformats from the volume as acquired): the clamp is applied as the
// voxels are read into the new grid, so the input is not copied first.
PreprocessResult preprocessCopyOf(const Volume& input, const PreprocessOptions& options);

}  // namespace volnode
