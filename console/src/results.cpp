#include "results.hpp"

#include <algorithm>
#include <map>
#include <regex>

#include "json_views.hpp"

namespace volnode::console {
namespace {

const std::regex& pngPattern() {
  static const std::regex pattern(
      "^([A-Za-z0-9][A-Za-z0-9_-]{0,63})-(anterior|posterior|left|right|superior|inferior|spin-[0-9]{3})\\.png$");
  return pattern;
}

const char* const kViewOrder[] = {"anterior", "posterior", "left", "right", "superior", "inferior"};

}  // namespace

bool isResultPngName(const std::string& name, std::string* preset, std::string* view) {
  std::smatch m;
  if (name.size() > 96 || !std::regex_match(name, m, pngPattern())) return false;
  if (preset) *preset = m[1];
  if (view) *view = m[2];
  return true;
}

bool isDicomUid(const std::string& text) {
  if (text.empty() || text.size() > 64) return false;
  for (char c : text)
    if (!(c == '.' || (c >= '0' && c <= '9'))) return false;
  return true;
}

std::optional<std::filesystem::path> insideRoot(const std::filesystem::path& root, const std::filesystem::path& relative) {
  if (relative.empty() || relative.is_absolute()) return std::nullopt;
  std::error_code ec;
  auto base = std::filesystem::weakly_canonical(root, ec);
  if (ec) return std::nullopt;
  auto full = std::filesystem::weakly_canonical(base / relative, ec);
  if (ec) return std::nullopt;
  auto b = base.begin();
  auto f = full.begin();
  for (; b != base.end(); ++b, ++f)
    if (f == full.end() || *f != *b) return std::nullopt;
  if (f == full.end()) return std::nullopt;  // the root itself
  return full;
}

nlohmann::json renderResultsJson(const std::filesystem::path& results_root, int64_t job_id,
                                 const std::vector<JobOutput>& outputs) {
  const std::string base = "/api/jobs/" + std::to_string(job_id) + "/files/";
  nlohmann::json outs = nlohmann::json::array();
  for (const auto& o : outputs) outs.push_back(toJson(o));

  // Preset -> views and spin frames, from the job's png folder (names checked).
  std::map<std::string, std::map<std::string, std::string>> views;
  std::map<std::string, std::vector<std::string>> spins;
  std::error_code ec;
  auto png_dir = results_root / std::to_string(job_id) / "png";
  for (std::filesystem::directory_iterator it(png_dir, ec), end; !ec && it != end; it.increment(ec)) {
    if (!it->is_regular_file(ec)) continue;
    std::string name = it->path().filename().string(), preset, view;
    if (!isResultPngName(name, &preset, &view)) continue;
    if (view.rfind("spin-", 0) == 0)
      spins[preset].push_back(name);
    else
      views[preset][view] = base + "png/" + name;
  }
  nlohmann::json images = nlohmann::json::array();
  std::string thumbnail;
  std::map<std::string, bool> presets;
  for (const auto& [p, _] : views) presets[p] = true;
  for (const auto& [p, _] : spins) presets[p] = true;
  for (const auto& [preset, _] : presets) {
    nlohmann::json entry{{"preset", preset}};
    nlohmann::json v = nlohmann::json::object();
    for (const char* view : kViewOrder) {
      auto found = views[preset].find(view);
      if (found != views[preset].end()) v[view] = found->second;
    }
    entry["views"] = v;
    auto frames = spins[preset];
    std::sort(frames.begin(), frames.end());
    nlohmann::json spin = nlohmann::json::array();
    for (const auto& f : frames) spin.push_back(base + "png/" + f);
    entry["spin"] = spin;
    if (thumbnail.empty() && v.contains("anterior")) thumbnail = v["anterior"];
    images.push_back(entry);
  }
  // Without key views, the first spin frame (the anterior direction) stands in.
  if (thumbnail.empty())
    for (const auto& entry : images)
      if (!entry["spin"].empty()) {
        thumbnail = entry["spin"][0];
        break;
      }

  nlohmann::json mesh = nullptr;
  auto stl = results_root / std::to_string(job_id) / "mesh" / "model.stl";
  if (std::filesystem::is_regular_file(stl, ec))
    mesh = {{"url", base + "mesh/model.stl"}, {"file_size", std::filesystem::file_size(stl, ec)}, {"format", "stl"}};
  return {{"job_id", job_id}, {"outputs", outs}, {"images", images}, {"mesh", mesh},
          {"thumbnail", thumbnail.empty() ? nlohmann::json(nullptr) : nlohmann::json(thumbnail)}};
}

}  // namespace volnode::console
