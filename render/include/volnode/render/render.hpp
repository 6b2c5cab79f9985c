#pragma once
// Offscreen volume rendering of a volnode::Volume with VTK (no VTK types here).
//
// Views are anatomical, defined in patient (LPS) coordinates from the volume's
// direction cosines, so they hold for any acquisition (axial head/feet first,
// prone, sagittal, coronal, oblique) and never depend on slice order:
//   anterior  viewer in front, head up, patient's right on the image's left
//   posterior viewer behind, head up, patient's right on the image's right
//   left      viewer at the patient's left, head up, anterior on the image's left
//   right     viewer at the patient's right, head up, anterior on the image's right
//   superior  viewer above the head, anterior up, patient's right on the image's right
//   inferior  viewer at the feet, anterior up, patient's right on the image's left
// A spin turns about the head-foot axis: frame 0 is the anterior view and the
// viewer moves towards the patient's left (frame n/4 is the left view).
#include <array>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "volnode/core/rendered_frame.hpp"
#include "volnode/core/stage_timings.hpp"
#include "volnode/render/presets.hpp"
#include "volnode/volume/volume.hpp"

namespace volnode {

class DisplayServer;

enum class RenderBackend { Auto, Cpu, Gpu };
RenderBackend parseRenderBackend(const std::string& text);  // "auto" | "cpu" | "gpu"; Error(InvalidConfig)
std::string renderBackendName(RenderBackend backend);

enum class View { Anterior, Posterior, Left, Right, Superior, Inferior };
std::string viewName(View view);  // "anterior", ..., "inferior"
View parseView(const std::string& text);
const std::vector<View>& keyViews();  // all six, in the order above

struct RenderRequest {
  std::vector<View> views = keyViews();  // key views to render
  int spin_frames = 36;                  // 0: no spin
  int width = 512, height = 512;
  // A line burned into the top left (e.g. patient ID and study date, already
  // expanded by the caller). Empty draws none.
  std::string annotation;
  bool annotation_has_identifiers = true;  // whether `annotation` holds patient identifiers
  bool orientation_letters = true;
  bool preset_label = true;
  double fill = 0.9;  // fraction of the frame the object spans (largest dimension over the spin)
};

// A free camera for the interactive viewer, about the same centre and at the
// same framing as the spin: at elevation 0, zoom 1, no pan and no clip, azimuth a
// is the spin frame at angle a (azimuth 0 anterior, 90 the patient's left).
struct OrbitView {
  double azimuth_deg = 0;
  double elevation_deg = 0;  // -90 .. 90; 90: from above the head
  double zoom = 1;           // > 1 enlarges
  double pan_x = 0, pan_y = 0;  // image shift in fractions of the frame height, right and down
  // Cut away what lies outside this box (LPS mm: xmin, xmax, ymin, ymax, zmin, zmax).
  std::optional<std::array<double, 6>> clip_box;
  // Cut away what lies behind this plane (point x, y, z, then the normal of the kept side).
  std::optional<std::array<double, 6>> clip_plane;
  // Moves the preset's transfer functions (and MIP window) by this many units (HU for CT),
  // after relative presets are resolved.
  double shift = 0;

  bool isSpinCamera() const {
    return elevation_deg == 0 && zoom == 1 && pan_x == 0 && pan_y == 0 && !clip_box && !clip_plane && shift == 0;
  }
};

class VolumeRenderer {
 public:
  struct Options {
    RenderBackend backend = RenderBackend::Auto;
    // Render on this display; null: DisplayServer::shared() (a private Xvfb
    // when DISPLAY is unset).
    std::shared_ptr<DisplayServer> display;
    // Render from a downsampled copy (box average for composite, max-pooling for
    // MIP) when voxels are finer than the output pixels: along each axis the
    // factor is floor(downsample_ratio * pixel size / spacing), 1..4, so rendered
    // voxels stay at most `downsample_ratio` pixels wide. 0 disables.
    double downsample_ratio = 2.5;
    // CPU composite: rays are cast about one per rendered voxel, at most this
    // many pixels apart (VTK's image sample distance), and the ray image is
    // drawn scaled to the frame. 1 casts a ray per pixel.
    double max_image_sample_distance = 2.0;
    int threads = 0;  // CPU ray-cast threads; 0: all cores
  };

  VolumeRenderer();
  explicit VolumeRenderer(Options options);
  ~VolumeRenderer();
  VolumeRenderer(const VolumeRenderer&) = delete;
  VolumeRenderer& operator=(const VolumeRenderer&) = delete;

  // The volume to render. It is shared, not copied, where possible: keep it
  // unchanged while it is set.
  void setVolume(std::shared_ptr<const Volume> volume);

  RenderedFrame renderView(const RenderPreset& preset, View view, const RenderRequest& request);
  // The interactive viewer's frame: the spin's scene seen through `view`.
  RenderedFrame renderOrbit(const RenderPreset& preset, const OrbitView& view, const RenderRequest& request);
  std::vector<RenderedFrame> renderSpin(const RenderPreset& preset, const RenderRequest& request);
  // request.views then request.spin_frames spin frames; a key view whose camera
  // equals a spin frame's is rendered once and copied.
  std::vector<RenderedFrame> render(const RenderPreset& preset, const RenderRequest& request);

  RenderBackend activeBackend() const;  // Cpu or Gpu after Auto is resolved
  std::string openGlRenderer() const;   // GL_RENDERER, e.g. "llvmpipe (LLVM 15.0.6, 256 bits)"
  const StageTimings& timings() const;  // accumulated since construction
  void resetTimings();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Writes a frame as PNG (RGB or grey). Throws Error(Errc::Io).
void writePng(const RenderedFrame& frame, const std::filesystem::path& file);

// Writes every frame as <dir>/<prefix><view>.png, on all cores (PNG encoding is
// a serial zlib pass per file). Throws the first Error(Errc::Io).
void writePngs(const std::vector<RenderedFrame>& frames, const std::filesystem::path& dir, const std::string& prefix);

}  // namespace volnode
