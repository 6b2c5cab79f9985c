#pragma once
// `volnode render DIR --out OUT [--rule NAME] [--preset NAME ...] [--size N] [--frames N]`:
// assembles every renderable series under DIR and writes PNG files
//   OUT/png/<SeriesInstanceUID>/<preset>-<view>.png       key views (anterior, ..., inferior)
//   OUT/png/<SeriesInstanceUID>/<preset>-spin-NNN.png     spin frames
// (a second renderable volume of the same series goes to <SeriesInstanceUID>-2, ...).
#include <filesystem>
#include <string>
#include <vector>

#include "volnode/pipeline/render.hpp"

namespace volnode {

struct OfflineRenderOptions {
  std::filesystem::path input_dir;
  std::filesystem::path out_dir;
  // Routing rule to apply to every series (by name); empty: each series' first
  // matching rule (series no rule renders are skipped with a reason).
  std::string rule;
  // Presets to render (key views + spin each); empty: the rule's outputs
  // (vr_spin / mip_spin: spin, key_views: key views).
  std::vector<std::string> presets;
  int size = 512;
  int frames = 36;
  std::filesystem::path presets_dir = "presets";  // presets; rules from presets_dir/rules (else built-in)
  // Burned-in line; {PatientID}, {PatientName}, {Modality}, {SeriesDescription}
  // are replaced, other {...} fields by nothing. "" draws no identifiers.
  std::string annotation = "{PatientID}";
  bool apply_preprocess = false;  // run the rule's preprocess step (crop, isotropic, ...) first
  RenderBackend backend = RenderBackend::Auto;
};

struct OfflineRenderedSeries {
  std::string series_instance_uid;
  std::string modality;
  std::string description;
  std::string rule;                          // rule used; empty with explicit presets and no rule
  std::vector<std::filesystem::path> files;  // PNGs written
  std::string skipped;                       // why nothing was rendered; empty when rendered
};

struct OfflineRenderResult {
  std::vector<OfflineRenderedSeries> series;
  StageTimings timings;  // inspect, assemble, preprocess, render stages, png
  size_t frames_written = 0;
  std::string summary() const;  // a few human-readable lines
};

// Throws Error(NotFound) for a missing DIR or preset, Error(InvalidConfig) for bad
// presets/rules or an unknown --rule, Error(Render) when no display can be had.
OfflineRenderResult runOfflineRender(const OfflineRenderOptions& options);

}  // namespace volnode
