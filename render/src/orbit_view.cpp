// Interim: the spin's own cameras only, through the public API, until the scene
// code takes free cameras.
#include <cmath>

#include "volnode/core/error.hpp"
#include "volnode/render/render.hpp"

namespace volnode {

RenderedFrame VolumeRenderer::renderOrbit(const RenderPreset& preset, const OrbitView& view,
                                          const RenderRequest& request) {
  const double quarter = view.azimuth_deg / 90.0;
  if (!view.isSpinCamera() || quarter != std::floor(quarter))
    throw Error(Errc::Unsupported, "free cameras are not available in this build");
  static const View views[4] = {View::Anterior, View::Left, View::Posterior, View::Right};
  return renderView(preset, views[int(quarter) % 4], request);
}

}  // namespace volnode
