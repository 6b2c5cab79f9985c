#include "volnode/viewer/view_parameters.hpp"

#include <cerrno>
#include <cctype>
#include <cmath>
#include <cstdlib>
#include <set>
#include <vector>

namespace volnode::viewer {
namespace {

void rejectUnknown(const Params& params, const std::set<std::string>& known) {
  for (const auto& [name, value] : params) {
    if (known.count(name)) continue;
    std::string list;
    for (const auto& k : known) list += (list.empty() ? "" : ", ") + k;
    throw ParameterError(name, "unknown parameter '" + name.substr(0, 40) + "'; known: " + list);
  }
}

double number(const std::string& name, const std::string& text) {
  const char* begin = text.c_str();
  char* end = nullptr;
  errno = 0;
  const double value = std::strtod(begin, &end);
  if (text.empty() || end != begin + text.size() || errno == ERANGE || !std::isfinite(value))
    throw ParameterError(name, name + ": '" + text.substr(0, 40) + "' is not a number");
  return value;
}

double numberIn(const Params& params, const std::string& name, double fallback, double lo, double hi) {
  auto it = params.find(name);
  if (it == params.end()) return fallback;
  const double value = number(name, it->second);
  if (value < lo || value > hi)
    throw ParameterError(name, name + ": " + it->second.substr(0, 40) + " is outside " + std::to_string(lo).substr(0, 8) +
                                   " .. " + std::to_string(hi).substr(0, 8));
  return value;
}

std::vector<double> numberList(const std::string& name, const std::string& text, size_t count) {
  std::vector<double> values;
  size_t start = 0;
  while (true) {
    const size_t comma = text.find(',', start);
    values.push_back(number(name, text.substr(start, comma == std::string::npos ? std::string::npos : comma - start)));
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  if (values.size() != count)
    throw ParameterError(name, name + ": expected " + std::to_string(count) + " comma-separated numbers, got " +
                                   std::to_string(values.size()));
  return values;
}

std::string oneOf(const Params& params, const std::string& name, const std::string& fallback,
                  const std::vector<std::string>& allowed) {
  auto it = params.find(name);
  if (it == params.end()) return fallback;
  for (const auto& a : allowed)
    if (it->second == a) return a;
  std::string list;
  for (const auto& a : allowed) list += (list.empty() ? "" : ", ") + a;
  throw ParameterError(name, name + ": '" + it->second.substr(0, 40) + "' is not one of " + list);
}

int sizeOf(const Params& params) {
  const double size = numberIn(params, "size", 0, 64, 1024);
  if (size != std::floor(size)) throw ParameterError("size", "size: expected whole pixels");
  return static_cast<int>(size);
}

ImageFormat formatOf(const Params& params, const std::string& fallback) {
  return oneOf(params, "format", fallback, {"jpeg", "png"}) == "png" ? ImageFormat::Png : ImageFormat::Jpeg;
}

std::array<double, 3> unit(const std::string& name, double x, double y, double z) {
  const double length = std::sqrt(x * x + y * y + z * z);
  if (!(length > 1e-9)) throw ParameterError(name, name + ": the normal must not be zero");
  return {x / length, y / length, z / length};
}

}  // namespace

View3dParameters parseView3dParameters(const Params& params) {
  rejectUnknown(params, {"preset", "azimuth", "elevation", "zoom", "pan", "clip", "clip_plane", "shift", "size",
                         "quality", "format"});
  View3dParameters p;
  if (auto it = params.find("preset"); it != params.end()) {
    const std::string& name = it->second;
    bool plain = !name.empty() && name.size() <= 64;
    for (char c : name) plain = plain && (std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_');
    if (!plain) throw ParameterError("preset", "preset: '" + name.substr(0, 40) + "' is not a preset name");
    p.preset = name;
  }
  p.azimuth_deg = std::fmod(numberIn(params, "azimuth", 0, -1e6, 1e6), 360.0);
  if (p.azimuth_deg < 0) p.azimuth_deg += 360;
  p.elevation_deg = numberIn(params, "elevation", 0, -90, 90);
  p.zoom = numberIn(params, "zoom", 1, 0.25, 16);
  if (auto it = params.find("pan"); it != params.end()) {
    auto xy = numberList("pan", it->second, 2);
    if (std::fabs(xy[0]) > 4 || std::fabs(xy[1]) > 4)
      throw ParameterError("pan", "pan: each part must lie within -4 .. 4 frame heights");
    p.pan_x = xy[0];
    p.pan_y = xy[1];
  }
  if (auto it = params.find("clip"); it != params.end()) {
    auto v = numberList("clip", it->second, 6);  // xmin,xmax,ymin,ymax,zmin,zmax
    ClipBox box;
    for (int c = 0; c < 3; ++c) {
      if (!(v[2 * c] < v[2 * c + 1]))
        throw ParameterError("clip", "clip: expected xmin,xmax,ymin,ymax,zmin,zmax (mm, LPS) with each min below its max");
      box.min[c] = v[2 * c];
      box.max[c] = v[2 * c + 1];
    }
    p.clip = box;
  }
  if (auto it = params.find("clip_plane"); it != params.end()) {
    auto v = numberList("clip_plane", it->second, 6);  // point x,y,z then normal x,y,z
    p.clip_plane = ClipPlane{{v[0], v[1], v[2]}, unit("clip_plane", v[3], v[4], v[5])};
  }
  p.shift = numberIn(params, "shift", 0, -4000, 4000);
  p.size = sizeOf(params);
  p.draft = oneOf(params, "quality", "full", {"draft", "full"}) == "draft";
  p.format = formatOf(params, "jpeg");
  return p;
}

SliceParameters parseSliceParameters(const Params& params) {
  rejectUnknown(params, {"plane", "position_mm", "through", "normal", "window", "thickness_mm", "mode", "size", "format"});
  SliceParameters p;
  const std::string plane = oneOf(params, "plane", "axial", {"axial", "coronal", "sagittal", "oblique"});
  p.plane = plane == "axial"     ? SlicePlane::Axial
            : plane == "coronal" ? SlicePlane::Coronal
            : plane == "sagittal" ? SlicePlane::Sagittal
                                  : SlicePlane::Oblique;
  if (params.count("position_mm")) p.position_mm = numberIn(params, "position_mm", 0, -1e5, 1e5);
  if (auto it = params.find("through"); it != params.end()) {
    if (p.position_mm) throw ParameterError("through", "through: give either position_mm or through, not both");
    auto v = numberList("through", it->second, 3);
    for (double c : v)
      if (std::fabs(c) > 1e5) throw ParameterError("through", "through: each coordinate must lie within -100000 .. 100000 mm");
    p.through = std::array<double, 3>{v[0], v[1], v[2]};
  }
  if (auto it = params.find("normal"); it != params.end()) {
    if (p.plane != SlicePlane::Oblique) throw ParameterError("normal", "normal: only for plane=oblique");
    auto v = numberList("normal", it->second, 3);
    p.normal = unit("normal", v[0], v[1], v[2]);
  } else if (p.plane == SlicePlane::Oblique) {
    throw ParameterError("normal", "normal: plane=oblique needs normal=x,y,z (LPS)");
  }
  if (auto it = params.find("window"); it != params.end()) {
    auto v = numberList("window", it->second, 2);
    if (!(v[1] >= 1)) throw ParameterError("window", "window: the width must be at least 1");
    p.window = std::array<double, 2>{v[0], v[1]};
  }
  p.thickness_mm = numberIn(params, "thickness_mm", 0, 0, 500);
  p.mode = oneOf(params, "mode", "avg", {"avg", "mip"}) == "mip" ? SliceMode::Maximum : SliceMode::Average;
  p.size = sizeOf(params);
  p.format = formatOf(params, "png");
  return p;
}

}  // namespace volnode::viewer
