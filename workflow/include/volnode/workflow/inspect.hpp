#pragma once
// `volnode inspect DIR [--json]`: reads a folder recursively (headers only),
// skips non-DICOM files, groups files by series and reports what each series
// would assemble into and which routing rule would render it.
//
// JSON (stable):
// {"series": [ {"SeriesInstanceUID": "...", "Modality": "CT", "SeriesDescription": "...",
//               "instances": 140, "decision": "renderable"|"refused", "reason": "...",
//               "volumes": [ {"dimensions": [512,512,140], "spacing": [..3 mm], "origin": [..3 mm LPS],
//                             "direction": [..9 row-major], "tilt_deg": 0, "uniform": true,
//                             "decision": "renderable"|"refused", "reason": "", "corrections": [],
//                             "rule": "ct-bundle"|null,
//                             "matched_rule": "never-diffusion"|null, "why": "diffusion-weighted series ...",
//                             "because": ["Modality CT", "series description \"CTA Aorta\" contains \"CTA\"", ...],
//                             "presets": ["ct-bone", ...], "outputs": ["vr_spin:ct-bone", "COR 3mm", ...]} ] } ],
//  "skipped_files": 3}
#include <filesystem>
#include <string>
#include <vector>

#include "volnode/rules/routing_rules.hpp"
#include "volnode/volume/assembly.hpp"
#include "volnode/volume/directory_scan.hpp"

namespace volnode {

struct InspectedVolume {
  VolumeCandidate candidate;  // without voxels
  std::string rule;           // name of the rendering rule; empty when none
  std::string matched_rule;   // the first rule that matched, rendering or not; empty when none
  std::string why;            // why it is (not) rendered: the rule and its reason, or the volume's refusal
  std::vector<std::string> because;  // of the rendering rule: each condition that held, with its value
  std::vector<std::string> presets;  // of the rendering rule
  std::vector<std::string> outputs;  // of the rendering rule: output keys, reformats by their description
};

struct InspectedSeries {
  SeriesInfo info;
  size_t instances = 0;
  VolumeDecision decision = VolumeDecision::Refused;
  std::string reason;
  std::vector<InspectedVolume> volumes;
};

struct InspectReport {
  std::filesystem::path root;
  std::vector<InspectedSeries> series;  // ordered by modality, description, UID
  size_t skipped_files = 0;             // not DICOM, DICOMDIR, unreadable
};

// Throws volnode::Error(Errc::NotFound) when dir does not exist, Errc::Io when it cannot be listed.
// rules may be null (every "rule" is then null).
InspectReport inspectDirectory(const std::filesystem::path& dir, const RuleSet* rules,
                               const AssemblyOptions& options = {});

// The attributes a routing rule sees for one volume of a series.
SeriesAttributes attributesFor(const SeriesInfo& info, const VolumeCandidate& volume,
                               const std::string& calling_ae_title = {});

std::string toJson(const InspectReport& report);  // pretty-printed, 2-space indent
std::string toText(const InspectReport& report);  // human readable table

}  // namespace volnode
