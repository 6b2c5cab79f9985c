#pragma once
// What a VolumeRenderer has measured and handed to VTK for its current volume.
// Each part is remembered with the value it was made from, so a part is redone
// exactly when its key differs (one comparison), and a new volume forgets all
// of it at once (SceneCache{}).
#include <optional>
#include <string>

#include "volnode/render/render_grid.hpp"
#include "volnode/render/volume_survey.hpp"

namespace volnode::render {

struct SceneCache {
  std::optional<double> reference_intensity;  // of the volume, for relative presets
  std::optional<VisibleHull> hull;            // keyed by hull->threshold
  std::optional<GridPlan> uploaded_grid;      // the grid in VTK's image data
  std::optional<std::string> transfer_key;    // preset (and reference) VTK's transfer functions are set for
  std::string framing_key;                    // hull threshold, spin frames, fill and frame size of the last framing
  bool rendered_since_upload = false;         // whether VTK has rendered the uploaded grid (timing label)

  // The transfer functions' sample distance follows the grid's spacing, and
  // the first render of a grid carries VTK's one-off setup.
  void gridUploaded(const GridPlan& plan) {
    uploaded_grid = plan;
    transfer_key.reset();
    rendered_since_upload = false;
  }
};

}  // namespace volnode::render
