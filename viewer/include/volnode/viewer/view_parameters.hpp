#pragma once
// The query parameters of the interactive view's two requests, parsed and checked
// in one place: a bad value throws ParameterError naming the parameter, which the
// console answers as 400. Plain C++, no VTK.
//   view3d: preset, azimuth, elevation, zoom, pan, clip, clip_plane, shift, size, quality, format
//   slice:  plane, position_mm | through, normal, window, thickness_mm, mode, size, format
#include <array>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>

namespace volnode::viewer {

using Params = std::map<std::string, std::string>;

class ParameterError : public std::runtime_error {
 public:
  ParameterError(std::string parameter, const std::string& message)
      : std::runtime_error(message), parameter_(std::move(parameter)) {}
  const std::string& parameter() const { return parameter_; }

 private:
  std::string parameter_;
};

enum class ImageFormat { Jpeg, Png };

// An axis-aligned box in patient coordinates (LPS, mm): what lies outside is cut away.
struct ClipBox {
  std::array<double, 3> min{}, max{};
};
// A plane through `point`; what lies on the side `normal` points to is kept.
struct ClipPlane {
  std::array<double, 3> point{}, normal{};
};

struct View3dParameters {
  std::string preset;         // empty: the default for the series' modality
  double azimuth_deg = 0;     // about the head-foot axis: 0 anterior, 90 the patient's left
  double elevation_deg = 0;   // 90: from above (head end)
  double zoom = 1;            // 1: the spin's framing
  double pan_x = 0, pan_y = 0;  // image shift in fractions of the frame height: right, down
  std::optional<ClipBox> clip;
  std::optional<ClipPlane> clip_plane;
  double shift = 0;           // moves the preset's transfer function by this many units (HU for CT)
  int size = 0;               // frame edge in pixels; 0: render.size
  bool draft = false;         // quality=draft: half size, for dragging
  ImageFormat format = ImageFormat::Jpeg;

  // The spin's own camera: full frames then equal the batch render's spin frames.
  bool isSpinCamera() const {
    return elevation_deg == 0 && zoom == 1 && pan_x == 0 && pan_y == 0 && !clip && !clip_plane && shift == 0;
  }
};

enum class SlicePlane { Axial, Coronal, Sagittal, Oblique };
enum class SliceMode { Average, Maximum };

struct SliceParameters {
  SlicePlane plane = SlicePlane::Axial;
  // Axial: the patient z (S) coordinate; coronal: y (P); sagittal: x (L); oblique:
  // the signed distance along `normal` from the volume's centre. Absent: the centre.
  std::optional<double> position_mm;
  // Instead of position_mm: a patient point (LPS mm) the plane passes through, so
  // linked panes of any orientation meet at one point.
  std::optional<std::array<double, 3>> through;
  std::array<double, 3> normal{0, 0, 1};  // oblique only (LPS, normalised when parsed)
  std::optional<std::array<double, 2>> window;  // centre, width; absent: from the modality
  double thickness_mm = 0;  // 0: one sample; more: average or maximum across the slab
  SliceMode mode = SliceMode::Average;
  int size = 0;             // longest edge in pixels; 0: at the volume's finest spacing (at most 1024)
  ImageFormat format = ImageFormat::Png;
};

View3dParameters parseView3dParameters(const Params& params);
SliceParameters parseSliceParameters(const Params& params);

}  // namespace volnode::viewer
