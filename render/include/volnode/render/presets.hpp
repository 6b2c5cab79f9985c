#pragma once
// Rendering presets: data, not code. One JSON file per preset in presets/
// (schema documented in presets/README.md, "schema": 1). Values are physical
// units of the volume (Hounsfield units for CT).
#include <array>
#include <filesystem>
#include <string>
#include <vector>

namespace volnode {

enum class BlendMode { Composite, MaximumIntensity };

struct ScalarPoint {
  double value = 0;  // physical units (HU for CT)
  double y = 0;      // opacity 0..1 (or gradient-opacity 0..1)
};

struct ColorPoint {
  double value = 0;
  double r = 0, g = 0, b = 0;  // 0..1
};

struct RenderPreset {
  static constexpr int kSchema = 1;

  std::string name;                     // "ct-bone"; equals the file stem
  std::string description;
  std::vector<std::string> modalities;  // "CT", "MR": what the preset is meant for
  BlendMode blend = BlendMode::Composite;
  // "physical" (default): values are physical units (HU for CT).
  // "relative": values are fractions of the volume's 99th-percentile intensity
  // (for MR, whose stored values have no fixed scale). Gradient-opacity values too.
  bool relative_units = false;
  // "volume": "bone-removed": rendered from the volume with the bone removed (CT
  // angiography, volume/bone_removal.hpp); "as-acquired" (default): the volume itself.
  bool bone_removed = false;

  // Composite (volume rendering)
  std::vector<ScalarPoint> scalar_opacity;    // piecewise linear, values ascending
  std::vector<ColorPoint> color;              // piecewise linear, values ascending
  std::vector<ScalarPoint> gradient_opacity;  // empty: no gradient-opacity modulation
  bool shade = true;
  double ambient = 0.2, diffuse = 0.7, specular = 0.3, specular_power = 10;
  // Cut-away: the part of the object on these patient sides of its centre is
  // not drawn, so what lies inside shows (e.g. the brain under the skin).
  // Per LPS axis: +1 cuts the left / posterior / superior side, -1 the right /
  // anterior / inferior side, 0 does not cut along that axis. JSON: "cutaway":
  // ["left", "anterior", "superior"] removes that octant.
  std::array<int, 3> cutaway{0, 0, 0};
  bool hasCutaway() const { return cutaway[0] != 0 || cutaway[1] != 0 || cutaway[2] != 0; }

  // Maximum intensity projection: grey window on the projected maximum.
  double window_center = 0, window_width = 0;

  // Ray sample distance as a fraction of the smallest voxel spacing (0.5 = two
  // samples per voxel). Smaller is finer and slower.
  double sample_distance = 0.5;

  // The lowest value that shows in a render: below it everything is transparent
  // (composite) or black (MIP). Used to frame the object and skip air.
  double lowestVisibleValue() const;

  // A copy with every value (opacity, colour, gradient points, window) in
  // physical units: relative values are multiplied by `reference` (the
  // volume's 99th-percentile intensity). A physical preset is returned as is.
  RenderPreset resolved(double reference) const;
};

// Parses one preset. `source` names the file in error messages. Throws
// Error(Errc::InvalidConfig) with "<source>: <field>: <what is wrong>".
RenderPreset parsePreset(const std::string& json_text, const std::string& source);

// Reads and parses presets/<name>.json; the name in the file must match the stem.
RenderPreset loadPresetFile(const std::filesystem::path& file);

// All *.json files directly in `dir` (sub-folders such as rules/ are not presets),
// sorted by name.
std::vector<RenderPreset> loadPresetDirectory(const std::filesystem::path& dir);

// presets/<name>.json from `dir`; Error(Errc::NotFound) lists the available names.
RenderPreset loadPreset(const std::filesystem::path& dir, const std::string& name);

}  // namespace volnode
