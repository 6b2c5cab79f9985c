#include "volnode/rules/routing_rules.hpp"

#include <algorithm>
#include <cmath>
#include <cctype>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>

#include <nlohmann/json.hpp>

#include "volnode/core/error.hpp"

namespace volnode {
namespace {

using json = nlohmann::json;

const std::set<std::string> kOutputTypes{"vr_spin", "mip_spin", "key_views", "mesh", "reformat"};
const std::set<std::string> kReformatPlanes{"axial", "coronal", "sagittal"};
const std::set<std::string> kReformatModes{"average", "mip"};
const std::set<std::string> kPresets{"ct-bone", "ct-soft-tissue", "ct-angio", "ct-angio-vessels", "ct-angio-mip",
                                     "ct-lung", "ct-mip", "mr-head", "mr-mip"};

std::string upper(std::string s) {
  for (auto& c : s) c = char(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

std::string joined(const std::set<std::string>& s) {
  std::string out;
  for (const auto& x : s) out += (out.empty() ? "" : ", ") + x;
  return out;
}

[[noreturn]] void fail(const std::string& where, const std::string& what) {
  throw Error(Errc::InvalidConfig, where + ": " + what);
}

void checkKeys(const json& obj, const std::set<std::string>& allowed, const std::string& where) {
  for (const auto& [k, v] : obj.items())
    if (!allowed.count(k)) fail(where, "unknown key \"" + k + "\" (allowed: " + joined(allowed) + ")");
}

std::vector<std::string> stringList(const json& v, const std::string& where) {
  std::vector<std::string> out;
  if (v.is_string()) {
    out.push_back(v.get<std::string>());
    return out;
  }
  if (!v.is_array()) fail(where, "expected a list of strings");
  for (const auto& x : v) {
    if (!x.is_string()) fail(where, "expected a list of strings");
    out.push_back(x.get<std::string>());
  }
  return out;
}

int integer(const json& v, const std::string& where) {
  if (!v.is_number_integer()) fail(where, "expected an integer");
  return v.get<int>();
}

std::string regexString(const json& v, const std::string& where) {
  if (!v.is_string()) fail(where, "expected a regular expression string");
  const auto s = v.get<std::string>();
  try {
    std::regex re(s, std::regex::ECMAScript | std::regex::icase);
  } catch (const std::regex_error& e) {
    fail(where, "invalid regular expression \"" + s + "\": " + e.what());
  }
  return s;
}

PreprocessOptions parsePreprocess(const json& p, const std::string& where) {
  if (!p.is_object()) fail(where, "expected an object");
  checkKeys(p,
            {"isotropic", "target_spacing_mm", "max_voxels", "smoothing", "smoothing_iterations", "crop_body",
             "body_threshold", "clamp"},
            where);
  PreprocessOptions o;
  if (p.contains("isotropic")) {
    if (!p["isotropic"].is_boolean()) fail(where + ".isotropic", "expected true or false");
    o.isotropic = p["isotropic"].get<bool>();
  }
  if (p.contains("target_spacing_mm")) {
    if (!p["target_spacing_mm"].is_number() || p["target_spacing_mm"].get<double>() < 0)
      fail(where + ".target_spacing_mm", "expected a number >= 0");
    o.target_spacing_mm = p["target_spacing_mm"].get<double>();
  }
  if (p.contains("max_voxels")) {
    if (!p["max_voxels"].is_number_integer() || p["max_voxels"].get<long long>() < 1000)
      fail(where + ".max_voxels", "expected an integer >= 1000");
    o.max_voxels = size_t(p["max_voxels"].get<long long>());
  }
  if (p.contains("smoothing")) {
    if (!p["smoothing"].is_string()) fail(where + ".smoothing", "expected \"none\", \"median\" or \"anisotropic\"");
    auto s = parseSmoothing(p["smoothing"].get<std::string>());
    if (!s) fail(where + ".smoothing", "unknown smoothing \"" + p["smoothing"].get<std::string>() +
                                           "\" (known: none, median, anisotropic)");
    o.smoothing = *s;
  }
  if (p.contains("smoothing_iterations")) {
    o.smoothing_iterations = integer(p["smoothing_iterations"], where + ".smoothing_iterations");
    if (o.smoothing_iterations < 1 || o.smoothing_iterations > 50) fail(where + ".smoothing_iterations", "expected 1..50");
  }
  if (p.contains("crop_body")) {
    if (!p["crop_body"].is_boolean()) fail(where + ".crop_body", "expected true or false");
    o.crop_body = p["crop_body"].get<bool>();
  }
  if (p.contains("body_threshold")) {
    if (!p["body_threshold"].is_number()) fail(where + ".body_threshold", "expected a number");
    o.body_threshold = p["body_threshold"].get<double>();
  }
  if (p.contains("clamp")) {
    const auto& c = p["clamp"];
    if (c.is_null()) {
      o.clamp.reset();
    } else {
      if (!c.is_array() || c.size() != 2 || !c[0].is_number_integer() || !c[1].is_number_integer() ||
          c[0].get<int>() >= c[1].get<int>())
        fail(where + ".clamp", "expected [low, high] integers with low < high, or null");
      o.clamp = std::make_pair(c[0].get<int>(), c[1].get<int>());
    }
  }
  return o;
}

double numberIn(const json& v, double lo, double hi, const std::string& where) {
  if (!v.is_number() || v.get<double>() < lo || v.get<double>() > hi)
    fail(where, "expected a number in [" + std::to_string(lo) + ", " + std::to_string(hi) + "]");
  return v.get<double>();
}

ReformatParams parseReformat(const json& o, const std::string& where) {
  ReformatParams p;
  if (o.contains("plane")) {
    if (o["plane"] == "oblique")
      fail(where + ".plane", "an oblique plane is one of " + joined(kReformatPlanes) + " angled by tilt_deg and turn_deg");
    if (!o["plane"].is_string() || !kReformatPlanes.count(o["plane"].get<std::string>()))
      fail(where + ".plane", "expected one of " + joined(kReformatPlanes));
    p.plane = o["plane"].get<std::string>();
  }
  if (o.contains("mode")) {
    if (!o["mode"].is_string() || !kReformatModes.count(o["mode"].get<std::string>()))
      fail(where + ".mode", "expected one of " + joined(kReformatModes));
    p.mode = o["mode"].get<std::string>();
  }
  if (o.contains("thickness_mm")) p.thickness_mm = numberIn(o["thickness_mm"], 0, 200, where + ".thickness_mm");
  if (o.contains("spacing_mm")) p.spacing_mm = numberIn(o["spacing_mm"], 0.1, 200, where + ".spacing_mm");
  if (o.contains("tilt_deg")) p.tilt_deg = numberIn(o["tilt_deg"], -90, 90, where + ".tilt_deg");
  if (o.contains("turn_deg")) p.turn_deg = numberIn(o["turn_deg"], -90, 90, where + ".turn_deg");
  if (o.contains("window")) {
    const json& w = o["window"];
    if (!w.is_array() || w.size() != 2 || !w[0].is_number() || !w[1].is_number() || w[1].get<double>() < 1)
      fail(where + ".window", "expected [centre, width] with width >= 1");
    p.window = std::make_pair(w[0].get<double>(), w[1].get<double>());
  }
  if (o.contains("window_name")) {
    if (!o["window_name"].is_string()) fail(where + ".window_name", "expected a string");
    p.window_name = o["window_name"].get<std::string>();
  }
  if (o.contains("bone_removed")) {
    if (!o["bone_removed"].is_boolean()) fail(where + ".bone_removed", "expected true or false");
    p.bone_removed = o["bone_removed"].get<bool>();
  }
  if (o.contains("description")) {
    if (!o["description"].is_string() || o["description"].get<std::string>().size() > 64)
      fail(where + ".description", "expected a string of at most 64 characters");
    p.description = o["description"].get<std::string>();
  }
  return p;
}

// "3", "2.5": millimetres as a technologist writes them.
std::string millimetres(double mm) {
  std::ostringstream s;
  s << std::round(mm * 10) / 10;
  return s.str();
}

RoutingRule parseRule(const json& r, const std::string& where, const std::string& source) {
  if (!r.is_object()) fail(where, "expected an object");
  checkKeys(r,
            {"name", "description", "reason", "match", "render", "outputs", "destinations", "mesh_threshold_hu",
             "mesh_min_island_mm3", "preprocess"},
            where);
  RoutingRule rule;
  rule.source = source;
  if (!r.contains("name") || !r["name"].is_string() || r["name"].get<std::string>().empty())
    fail(where, "missing \"name\" (a non-empty string)");
  rule.name = r["name"].get<std::string>();
  const std::string at = where + " (" + rule.name + ")";
  if (!r.contains("match") || !r["match"].is_object()) fail(at, "missing \"match\" (an object)");
  const json& m = r["match"];
  checkKeys(m,
            {"modality", "body_part", "series_description", "protocol_name", "series_text", "study_text", "min_slices",
             "max_slices", "calling_ae", "image_type", "sop_class", "mr_acquisition_type", "contrast", "kernel",
             "min_slice_thickness_mm", "max_slice_thickness_mm"},
            at + ".match");
  if (m.contains("modality")) rule.match.modality = stringList(m["modality"], at + ".match.modality");
  if (m.contains("body_part")) rule.match.body_part = stringList(m["body_part"], at + ".match.body_part");
  if (m.contains("series_description"))
    rule.match.series_description = regexString(m["series_description"], at + ".match.series_description");
  if (m.contains("protocol_name")) rule.match.protocol_name = regexString(m["protocol_name"], at + ".match.protocol_name");
  if (m.contains("series_text")) rule.match.series_text = regexString(m["series_text"], at + ".match.series_text");
  if (m.contains("study_text")) rule.match.study_text = regexString(m["study_text"], at + ".match.study_text");
  if (m.contains("min_slices")) rule.match.min_slices = integer(m["min_slices"], at + ".match.min_slices");
  if (m.contains("max_slices")) rule.match.max_slices = integer(m["max_slices"], at + ".match.max_slices");
  if (m.contains("calling_ae")) rule.match.calling_ae = stringList(m["calling_ae"], at + ".match.calling_ae");
  if (m.contains("image_type")) rule.match.image_type = stringList(m["image_type"], at + ".match.image_type");
  if (m.contains("sop_class")) rule.match.sop_class = stringList(m["sop_class"], at + ".match.sop_class");
  if (m.contains("contrast")) {
    if (!m["contrast"].is_boolean()) fail(at + ".match.contrast", "expected true or false");
    rule.match.contrast = m["contrast"].get<bool>();
  }
  if (m.contains("kernel")) rule.match.kernel = regexString(m["kernel"], at + ".match.kernel");
  if (m.contains("min_slice_thickness_mm"))
    rule.match.min_slice_thickness_mm = numberIn(m["min_slice_thickness_mm"], 0, 1000, at + ".match.min_slice_thickness_mm");
  if (m.contains("max_slice_thickness_mm"))
    rule.match.max_slice_thickness_mm = numberIn(m["max_slice_thickness_mm"], 0, 1000, at + ".match.max_slice_thickness_mm");
  if (m.contains("mr_acquisition_type"))
    rule.match.mr_acquisition_type = stringList(m["mr_acquisition_type"], at + ".match.mr_acquisition_type");

  if (r.contains("render")) {
    if (!r["render"].is_boolean()) fail(at + ".render", "expected true or false");
    rule.render = r["render"].get<bool>();
  }
  if (r.contains("reason")) {
    if (!r["reason"].is_string()) fail(at + ".reason", "expected a string");
    rule.reason = r["reason"].get<std::string>();
  }
  if (r.contains("outputs")) {
    const json& outs = r["outputs"];
    if (!outs.is_array()) fail(at + ".outputs", "expected a list of {\"type\", \"preset\"} objects");
    for (size_t i = 0; i < outs.size(); ++i) {
      const std::string ow = at + ".outputs[" + std::to_string(i) + "]";
      const json& o = outs[i];
      RuleOutput out;
      if (o.is_string()) {
        out.type = o.get<std::string>();
      } else if (o.is_object()) {
        checkKeys(o,
                  {"type", "preset", "plane", "mode", "thickness_mm", "spacing_mm", "window", "window_name",
                   "bone_removed", "description", "tilt_deg", "turn_deg"},
                  ow);
        if (!o.contains("type") || !o["type"].is_string()) fail(ow, "missing \"type\"");
        out.type = o["type"].get<std::string>();
        if (o.contains("preset")) {
          if (!o["preset"].is_string()) fail(ow + ".preset", "expected a string");
          out.preset = o["preset"].get<std::string>();
        }
        const bool reformat_keys = o.contains("plane") || o.contains("mode") || o.contains("thickness_mm") ||
                                   o.contains("spacing_mm") || o.contains("window") || o.contains("window_name") ||
                                   o.contains("bone_removed") || o.contains("description") ||
                                   o.contains("tilt_deg") || o.contains("turn_deg");
        if (out.type == "reformat")
          out.reformat = parseReformat(o, ow);
        else if (reformat_keys)
          fail(ow, "plane, mode, thickness_mm, spacing_mm, tilt_deg, turn_deg, window, bone_removed and description "
                   "belong to \"reformat\" outputs");
      } else {
        fail(ow, "expected an object {\"type\", \"preset\"}");
      }
      if (!kOutputTypes.count(out.type))
        fail(ow + ".type", "unknown output \"" + out.type + "\" (known: " + joined(kOutputTypes) + ")");
      if (!out.preset.empty() && !kPresets.count(out.preset))
        fail(ow + ".preset", "unknown preset \"" + out.preset + "\" (known: " + joined(kPresets) + ")");
      if (out.preset.empty() && out.type != "mesh" && out.type != "reformat")
        fail(ow, "output \"" + out.type + "\" needs a \"preset\"");
      for (const auto& earlier : rule.outputs)
        if (earlier.key() == out.key()) fail(ow, "the same output twice (" + out.key() + ")");
      rule.outputs.push_back(out);
    }
  }
  if (rule.render && rule.outputs.empty()) fail(at, "a rendering rule needs \"outputs\" (or \"render\": false)");
  if (r.contains("destinations")) {
    rule.destinations = stringList(r["destinations"], at + ".destinations");
    if (rule.destinations.empty()) fail(at + ".destinations", "must not be empty");
  }
  if (r.contains("mesh_threshold_hu")) {
    if (!r["mesh_threshold_hu"].is_number()) fail(at + ".mesh_threshold_hu", "expected a number");
    rule.mesh_threshold_hu = r["mesh_threshold_hu"].get<double>();
  }
  if (r.contains("mesh_min_island_mm3"))
    rule.mesh_min_island_mm3 = numberIn(r["mesh_min_island_mm3"], 0, 1e7, at + ".mesh_min_island_mm3");
  if (r.contains("preprocess")) rule.preprocess = parsePreprocess(r["preprocess"], at + ".preprocess");
  return rule;
}

bool inList(const std::vector<std::string>& list, const std::string& value) {
  const std::string v = upper(value);
  return std::any_of(list.begin(), list.end(), [&](const std::string& x) { return upper(x) == v; });
}

bool searches(const std::string& pattern, const std::string& value) {
  return std::regex_search(value, std::regex(pattern, std::regex::ECMAScript | std::regex::icase));
}

// The part of `value` that `pattern` finds, or nothing.
std::optional<std::string> found(const std::string& pattern, const std::string& value) {
  std::smatch m;
  if (!std::regex_search(value, m, std::regex(pattern, std::regex::ECMAScript | std::regex::icase))) return std::nullopt;
  return m.str(0);
}

std::string inQuotes(const std::string& s) { return "\"" + s + "\""; }

}  // namespace

bool RoutingRule::matches(const SeriesAttributes& a) const {
  const RuleMatch& m = match;
  if (!m.modality.empty() && !inList(m.modality, a.modality)) return false;
  if (!m.body_part.empty() && !inList(m.body_part, a.body_part_examined)) return false;
  if (m.series_description && !searches(*m.series_description, a.series_description)) return false;
  if (m.protocol_name && !searches(*m.protocol_name, a.protocol_name)) return false;
  if (m.series_text && !searches(*m.series_text, a.series_description) && !searches(*m.series_text, a.protocol_name))
    return false;
  if (m.study_text && !searches(*m.study_text, a.study_description)) return false;
  if (m.min_slices && a.slice_count < *m.min_slices) return false;
  if (m.max_slices && a.slice_count > *m.max_slices) return false;
  if (!m.calling_ae.empty() && !inList(m.calling_ae, a.calling_ae_title)) return false;
  if (!m.mr_acquisition_type.empty() && !inList(m.mr_acquisition_type, a.mr_acquisition_type)) return false;
  if (m.contrast && *m.contrast == a.contrast_bolus_agent.empty()) return false;
  if (m.kernel && !searches(*m.kernel, a.convolution_kernel)) return false;
  if ((m.min_slice_thickness_mm || m.max_slice_thickness_mm) && !(a.slice_thickness_mm > 0)) return false;
  if (m.min_slice_thickness_mm && a.slice_thickness_mm < *m.min_slice_thickness_mm) return false;
  if (m.max_slice_thickness_mm && a.slice_thickness_mm > *m.max_slice_thickness_mm) return false;
  if (!m.image_type.empty()) {
    bool any = false;
    for (const auto& t : a.image_type)
      if (inList(m.image_type, t)) any = true;
    if (!any) return false;
  }
  if (!m.sop_class.empty()) {
    bool any = false;
    for (const auto& s : m.sop_class) {
      if (!s.empty() && s.back() == '.' ? a.sop_class_uid.rfind(s, 0) == 0 : a.sop_class_uid == s) any = true;
    }
    if (!any) return false;
  }
  return true;
}

std::vector<std::string> RoutingRule::explain(const SeriesAttributes& a) const {
  std::vector<std::string> why;
  if (!matches(a)) return why;
  const RuleMatch& m = match;
  auto text = [&](const std::optional<std::string>& pattern, const char* what, const std::string& value) {
    if (!pattern) return false;
    if (auto hit = found(*pattern, value)) {
      why.push_back(std::string(what) + " " + inQuotes(value) + " contains " + inQuotes(*hit));
      return true;
    }
    return false;
  };
  if (!m.modality.empty()) why.push_back("Modality " + a.modality);
  if (!m.body_part.empty()) why.push_back("BodyPartExamined " + a.body_part_examined);
  text(m.series_description, "series description", a.series_description);
  text(m.protocol_name, "protocol name", a.protocol_name);
  if (!text(m.series_text, "series description", a.series_description))
    text(m.series_text, "protocol name", a.protocol_name);
  text(m.study_text, "study description", a.study_description);
  if (m.contrast)
    why.push_back(*m.contrast ? "ContrastBolusAgent " + inQuotes(a.contrast_bolus_agent) : "no ContrastBolusAgent");
  if (m.min_slices || m.max_slices) why.push_back(std::to_string(a.slice_count) + " slices");
  if (!m.mr_acquisition_type.empty()) why.push_back("MRAcquisitionType " + a.mr_acquisition_type);
  if (m.kernel) text(m.kernel, "ConvolutionKernel", a.convolution_kernel);
  if (m.min_slice_thickness_mm || m.max_slice_thickness_mm)
    why.push_back("SliceThickness " + millimetres(a.slice_thickness_mm) + " mm");
  if (!m.calling_ae.empty()) why.push_back("sent by " + a.calling_ae_title);
  if (!m.image_type.empty()) {
    for (const auto& t : a.image_type)
      if (inList(m.image_type, t)) {
        why.push_back("ImageType " + t);
        break;
      }
  }
  if (!m.sop_class.empty()) why.push_back("SOP class " + a.sop_class_uid);
  return why;
}

std::vector<std::string> RoutingRule::presets() const {
  std::vector<std::string> out;
  for (const auto& o : outputs)
    if (!o.preset.empty() && std::find(out.begin(), out.end(), o.preset) == out.end()) out.push_back(o.preset);
  return out;
}

std::string RoutingRule::refusal() const {
  return reason.empty() ? "not rendered: rule " + name : "not rendered: " + reason + " (rule " + name + ")";
}

std::string RuleOutput::key() const {
  if (type != "reformat") return type + ":" + preset;
  std::string key = type + ":" + reformat.plane + "-" + reformat.mode + "-" + millimetres(reformat.thickness_mm) + "-" +
                    millimetres(reformat.spacing_mm);
  if (reformat.tilt_deg != 0) key += "-tilt" + millimetres(reformat.tilt_deg);
  if (reformat.turn_deg != 0) key += "-turn" + millimetres(reformat.turn_deg);
  if (reformat.bone_removed) key += "-bone-removed";
  if (!reformat.window_name.empty()) key += "-" + reformat.window_name;
  return key;
}

std::string RuleOutput::reformatDescription() const {
  if (!reformat.description.empty()) return reformat.description;
  const std::string plane = reformat.plane == "axial" ? "AX" : reformat.plane == "sagittal" ? "SAG" : "COR";
  const double thickness = reformat.thickness_mm > 0 ? reformat.thickness_mm : reformat.spacing_mm;
  const bool oblique = reformat.tilt_deg != 0 || reformat.turn_deg != 0;
  return plane + (oblique ? " OBL" : "") + (reformat.mode == "mip" ? " MIP " : " ") + millimetres(thickness) + "mm" +
         (reformat.bone_removed ? " bone removed" : "") + (reformat.window_name.empty() ? "" : " " + reformat.window_name);
}

RuleSet RuleSet::parse(const std::string& text, const std::string& source) {
  json doc;
  try {
    doc = json::parse(text);
  } catch (const json::exception& e) {  // parse errors and out-of-range numbers (1e400)
    fail(source, std::string("not valid JSON: ") + e.what());
  }
  if (!doc.is_object()) fail(source, "expected a JSON object with \"schema\" and \"rules\"");
  checkKeys(doc, {"schema", "description", "rules"}, source);
  if (!doc.contains("schema")) fail(source, "missing \"schema\" (expected " + std::to_string(kSchemaVersion) + ")");
  if (!doc["schema"].is_number_integer() || doc["schema"].get<int>() != kSchemaVersion)
    fail(source, "unsupported schema " + doc["schema"].dump() + " (this volnode reads schema " +
                     std::to_string(kSchemaVersion) + ")");
  if (!doc.contains("rules") || !doc["rules"].is_array()) fail(source, "missing \"rules\" (a list)");
  RuleSet set;
  std::set<std::string> names;
  const json& rules = doc["rules"];
  for (size_t i = 0; i < rules.size(); ++i) {
    RoutingRule r = parseRule(rules[i], source + ": rules[" + std::to_string(i) + "]", source);
    if (!names.insert(r.name).second) fail(source + ": rules[" + std::to_string(i) + "]", "duplicate rule name \"" + r.name + "\"");
    set.rules_.push_back(std::move(r));
  }
  return set;
}

RuleSet RuleSet::loadFile(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) throw Error(Errc::Io, file.string() + ": cannot open rules file");
  std::stringstream ss;
  ss << in.rdbuf();
  if (in.bad()) throw Error(Errc::Io, file.string() + ": cannot read rules file");
  return parse(ss.str(), file.string());
}

RuleSet RuleSet::loadDirectory(const std::filesystem::path& dir) {
  std::error_code ec;
  if (!std::filesystem::is_directory(dir, ec)) throw Error(Errc::NotFound, dir.string() + ": no such rules directory");
  std::vector<std::filesystem::path> files;
  for (const auto& e : std::filesystem::directory_iterator(dir, ec))
    if (e.is_regular_file() && e.path().extension() == ".json") files.push_back(e.path());
  if (ec) throw Error(Errc::Io, dir.string() + ": " + ec.message());
  std::sort(files.begin(), files.end());
  RuleSet set;
  for (const auto& f : files) set.append(loadFile(f));
  return set;
}

RuleSet RuleSet::forPresets(const std::filesystem::path& presets_dir) {
  auto rules_dir = presets_dir / "rules";
  return std::filesystem::is_directory(rules_dir) ? loadDirectory(rules_dir) : defaults();
}

RuleSet RuleSet::defaults() {
  static const char* const kDefault =
#include "default_rules.inc"
      ;
  return parse(kDefault, "presets/rules/default.json (built in)");
}

void RuleSet::append(const RuleSet& other) {
  for (const auto& r : other.rules_) {
    if (std::any_of(rules_.begin(), rules_.end(), [&](const RoutingRule& x) { return x.name == r.name; }))
      throw Error(Errc::InvalidConfig, r.source + ": rule \"" + r.name + "\" is already defined by another file");
    rules_.push_back(r);
  }
}

const RoutingRule* RuleSet::firstMatch(const SeriesAttributes& attributes) const {
  for (const auto& r : rules_)
    if (r.matches(attributes)) return &r;
  return nullptr;
}

std::string RuleSet::noMatchReason(const SeriesAttributes& attributes) const {
  std::string reason = "not rendered: no routing rule matches";
  for (const auto& r : rules_) {
    const RuleMatch& m = r.match;
    if (!r.render) continue;
    SeriesAttributes at_limit = attributes;
    std::string needs;
    if (m.min_slices && attributes.slice_count < *m.min_slices) {
      at_limit.slice_count = *m.min_slices;
      needs = "at least " + std::to_string(*m.min_slices);
    } else if (m.max_slices && attributes.slice_count > *m.max_slices) {
      at_limit.slice_count = *m.max_slices;
      needs = "at most " + std::to_string(*m.max_slices);
    } else {
      continue;
    }
    if (r.matches(at_limit))
      return reason + " (rule " + r.name + " needs " + needs + " slices; the stack has " +
             std::to_string(attributes.slice_count) + ")";
  }
  return reason;
}

std::optional<RoutingRule> RuleSet::match(const SeriesAttributes& attributes) const {
  const RoutingRule* r = firstMatch(attributes);
  if (!r || !r->render) return std::nullopt;
  return *r;
}

}  // namespace volnode
