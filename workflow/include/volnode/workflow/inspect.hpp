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
//                             "rule": "ct-bundle"|null} ] } ],
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
