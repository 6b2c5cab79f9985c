// Preset loader (see presets.hpp and presets/README.md).
#include "volnode/render/presets.hpp"

#include <algorithm>
#include <nlohmann/json.hpp>

#include "volnode/core/error.hpp"
#include "volnode/core/files.hpp"

namespace volnode {
namespace {

using nlohmann::json;

[[noreturn]] void fail(const std::string& source, const std::string& field, const std::string& what) {
  throw Error(Errc::InvalidConfig, source + ": " + (field.empty() ? std::string() : field + ": ") + what);
}

std::string typeName(const json& j) { return j.type_name(); }

double number(const json& j, const std::string& source, const std::string& field, double lo, double hi) {
  if (!j.is_number()) fail(source, field, std::string("expected a number, got ") + typeName(j));
  const double v = j.get<double>();
  if (!(v >= lo && v <= hi))
    fail(source, field, "value " + std::to_string(v) + " is outside [" + std::to_string(lo) + ", " +
                            std::to_string(hi) + "]");
  return v;
}

const json& member(const json& obj, const char* key, const std::string& source, const std::string& prefix = "") {
  auto it = obj.find(key);
  if (it == obj.end()) fail(source, prefix + key, "missing");
  return *it;
}

constexpr double kAnyValue = 1e7;

std::vector<ScalarPoint> scalarPoints(const json& j, const std::string& source, const std::string& field,
                                      bool allow_empty) {
  if (!j.is_array()) fail(source, field, "expected an array of [value, opacity] pairs, got " + typeName(j));
  if (j.empty() && !allow_empty) fail(source, field, "needs at least one point");
  std::vector<ScalarPoint> points;
  for (size_t i = 0; i < j.size(); ++i) {
    const std::string f = field + "[" + std::to_string(i) + "]";
    const json& p = j[i];
    if (!p.is_array() || p.size() != 2) fail(source, f, "expected [value, opacity]");
    ScalarPoint sp{number(p[0], source, f + ".value", -kAnyValue, kAnyValue),
                   number(p[1], source, f + ".opacity", 0.0, 1.0)};
    if (!points.empty() && sp.value <= points.back().value)
      fail(source, f + ".value", "values must be strictly ascending");
    points.push_back(sp);
  }
  return points;
}

std::vector<ColorPoint> colorPoints(const json& j, const std::string& source, const std::string& field) {
  if (!j.is_array()) fail(source, field, "expected an array of [value, r, g, b], got " + typeName(j));
  if (j.empty()) fail(source, field, "needs at least one point");
  std::vector<ColorPoint> points;
  for (size_t i = 0; i < j.size(); ++i) {
    const std::string f = field + "[" + std::to_string(i) + "]";
    const json& p = j[i];
    if (!p.is_array() || p.size() != 4) fail(source, f, "expected [value, r, g, b] with r, g, b in 0..1");
    ColorPoint cp{number(p[0], source, f + ".value", -kAnyValue, kAnyValue), number(p[1], source, f + ".r", 0, 1),
                  number(p[2], source, f + ".g", 0, 1), number(p[3], source, f + ".b", 0, 1)};
    if (!points.empty() && cp.value <= points.back().value)
      fail(source, f + ".value", "values must be strictly ascending");
    points.push_back(cp);
  }
  return points;
}

}  // namespace

double RenderPreset::lowestVisibleValue() const {
  if (blend == BlendMode::MaximumIntensity) return window_center - window_width / 2;
  // The opacity function is piecewise linear and constant beyond its ends.
  for (size_t i = 0; i < scalar_opacity.size(); ++i) {
    if (scalar_opacity[i].y > 0) {
      if (i == 0) return -kAnyValue;  // visible from -infinity
      return scalar_opacity[i - 1].value;
    }
  }
  return kAnyValue;  // nothing visible
}

RenderPreset RenderPreset::resolved(double reference) const {
  if (!relative_units) return *this;
  RenderPreset p = *this;
  p.relative_units = false;
  for (auto& o : p.scalar_opacity) o.value *= reference;
  for (auto& c : p.color) c.value *= reference;
  for (auto& g : p.gradient_opacity) g.value *= reference;
  p.window_center *= reference;
  p.window_width *= reference;
  return p;
}

RenderPreset parsePreset(const std::string& text, const std::string& source) {
  json j;
  try {
    j = json::parse(text);
  } catch (const json::exception& e) {  // parse errors and out-of-range numbers (1e400)
    fail(source, "", std::string("not valid JSON: ") + e.what());
  }
  if (!j.is_object()) fail(source, "", "expected a JSON object");

  const json& schema = member(j, "schema", source);
  if (!schema.is_number_integer()) fail(source, "schema", "expected an integer");
  if (schema.get<int>() != RenderPreset::kSchema)
    fail(source, "schema", "version " + std::to_string(schema.get<int>()) + " is not supported (this build reads " +
                               std::to_string(RenderPreset::kSchema) + ")");

  static const char* known[] = {"schema",           "name",    "description", "modalities",      "blend",
                                "scalar_opacity",   "color",   "shading",     "sample_distance", "window",
                                "gradient_opacity", "comment", "units",       "cutaway",         "volume"};
  for (auto it = j.begin(); it != j.end(); ++it)
    if (std::find_if(std::begin(known), std::end(known), [&](const char* k) { return it.key() == k; }) ==
        std::end(known))
      fail(source, it.key(), "unknown field (misspelt?)");

  RenderPreset p;
  const json& name = member(j, "name", source);
  if (!name.is_string() || name.get<std::string>().empty()) fail(source, "name", "expected a non-empty string");
  p.name = name.get<std::string>();
  if (auto it = j.find("description"); it != j.end()) {
    if (!it->is_string()) fail(source, "description", "expected a string");
    p.description = it->get<std::string>();
  }
  if (auto it = j.find("modalities"); it != j.end()) {
    if (!it->is_array()) fail(source, "modalities", "expected an array of strings");
    for (size_t i = 0; i < it->size(); ++i) {
      if (!(*it)[i].is_string()) fail(source, "modalities[" + std::to_string(i) + "]", "expected a string");
      p.modalities.push_back((*it)[i].get<std::string>());
    }
  }
  if (auto it = j.find("units"); it != j.end()) {
    if (*it == "physical")
      p.relative_units = false;
    else if (*it == "relative")
      p.relative_units = true;
    else
      fail(source, "units", "expected \"physical\" or \"relative\", got " + it->dump());
  }
  if (auto it = j.find("volume"); it != j.end()) {
    if (*it == "bone-removed")
      p.bone_removed = true;
    else if (*it != "as-acquired")
      fail(source, "volume", "expected \"as-acquired\" or \"bone-removed\", got " + it->dump());
  }
  const json& blend = member(j, "blend", source);
  if (blend == "composite")
    p.blend = BlendMode::Composite;
  else if (blend == "mip")
    p.blend = BlendMode::MaximumIntensity;
  else
    fail(source, "blend", "expected \"composite\" or \"mip\", got " + blend.dump());

  if (auto it = j.find("sample_distance"); it != j.end())
    p.sample_distance = number(*it, source, "sample_distance", 0.05, 4.0);

  if (p.blend == BlendMode::MaximumIntensity) {
    const json& w = member(j, "window", source);
    if (!w.is_object()) fail(source, "window", "expected {\"center\": c, \"width\": w}");
    p.window_center = number(member(w, "center", source, "window."), source, "window.center", -kAnyValue, kAnyValue);
    p.window_width = number(member(w, "width", source, "window."), source, "window.width", 1e-3, kAnyValue);
    p.shade = false;
    if (j.contains("scalar_opacity") || j.contains("color") || j.contains("gradient_opacity"))
      fail(source, "blend", "a \"mip\" preset uses \"window\"; scalar_opacity/color/gradient_opacity do not apply");
    return p;
  }

  if (j.contains("window")) fail(source, "window", "only used with \"blend\": \"mip\"");
  p.scalar_opacity = scalarPoints(member(j, "scalar_opacity", source), source, "scalar_opacity", false);
  p.color = colorPoints(member(j, "color", source), source, "color");
  if (auto it = j.find("gradient_opacity"); it != j.end())
    p.gradient_opacity = scalarPoints(*it, source, "gradient_opacity", true);
  if (std::none_of(p.scalar_opacity.begin(), p.scalar_opacity.end(), [](auto& s) { return s.y > 0; }))
    fail(source, "scalar_opacity", "every opacity is 0: nothing would be visible");
  if (auto it = j.find("cutaway"); it != j.end()) {
    static const std::pair<const char*, std::pair<int, int>> sides[] = {
        {"left", {0, 1}},      {"right", {0, -1}},     {"posterior", {1, 1}},
        {"anterior", {1, -1}}, {"superior", {2, 1}},   {"inferior", {2, -1}}};
    if (!it->is_array() || it->empty() || it->size() > 3)
      fail(source, "cutaway", "expected 1 to 3 patient sides, e.g. [\"left\", \"anterior\", \"superior\"]");
    for (size_t i = 0; i < it->size(); ++i) {
      const std::string f = "cutaway[" + std::to_string(i) + "]";
      const auto side = std::find_if(std::begin(sides), std::end(sides),
                                     [&](const auto& s) { return (*it)[i].is_string() && (*it)[i] == s.first; });
      if (side == std::end(sides))
        fail(source, f, "expected left, right, anterior, posterior, superior or inferior, got " + (*it)[i].dump());
      const auto [axis, sign] = side->second;
      if (p.cutaway[size_t(axis)] != 0) fail(source, f, "two sides along the same axis");
      p.cutaway[size_t(axis)] = sign;
    }
  }
  if (auto it = j.find("shading"); it != j.end()) {
    if (!it->is_object()) fail(source, "shading", "expected an object");
    for (auto s = it->begin(); s != it->end(); ++s) {
      const std::string f = "shading." + s.key();
      if (s.key() == "enabled") {
        if (!s->is_boolean()) fail(source, f, "expected true or false");
        p.shade = s->get<bool>();
      } else if (s.key() == "ambient")
        p.ambient = number(*s, source, f, 0, 1);
      else if (s.key() == "diffuse")
        p.diffuse = number(*s, source, f, 0, 1);
      else if (s.key() == "specular")
        p.specular = number(*s, source, f, 0, 1);
      else if (s.key() == "specular_power")
        p.specular_power = number(*s, source, f, 1, 128);
      else
        fail(source, f, "unknown field (misspelt?)");
    }
  }
  return p;
}

RenderPreset loadPresetFile(const std::filesystem::path& file) {
  std::string text;
  try {
    text = readFile(file);
  } catch (const Error& e) {
    throw Error(Errc::InvalidConfig, file.string() + ": cannot read preset: " + e.what());
  }
  RenderPreset p = parsePreset(text, file.string());
  if (p.name != file.stem().string())
    fail(file.string(), "name", "\"" + p.name + "\" does not match the file name \"" + file.stem().string() + "\"");
  return p;
}

std::vector<RenderPreset> loadPresetDirectory(const std::filesystem::path& dir) {
  std::error_code ec;
  if (!std::filesystem::is_directory(dir, ec))
    throw Error(Errc::NotFound, dir.string() + ": preset folder does not exist");
  std::vector<std::filesystem::path> files;
  for (const auto& entry : std::filesystem::directory_iterator(dir))
    if (entry.is_regular_file() && entry.path().extension() == ".json") files.push_back(entry.path());
  std::sort(files.begin(), files.end());
  std::vector<RenderPreset> presets;
  for (const auto& f : files) presets.push_back(loadPresetFile(f));
  return presets;
}

RenderPreset loadPreset(const std::filesystem::path& dir, const std::string& name) {
  const auto file = dir / (name + ".json");
  std::error_code ec;
  if (!std::filesystem::exists(file, ec)) {
    std::string available;
    if (std::filesystem::is_directory(dir, ec))
      for (const auto& entry : std::filesystem::directory_iterator(dir))
        if (entry.path().extension() == ".json") available += (available.empty() ? "" : ", ") + entry.path().stem().string();
    throw Error(Errc::NotFound, "no rendering preset \"" + name + "\" in " + dir.string() +
                                    (available.empty() ? "" : " (available: " + available + ")"));
  }
  return loadPresetFile(file);
}

}  // namespace volnode
