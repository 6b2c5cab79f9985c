#pragma once
// `volnode render DIR --out OUT`: the node's own pipeline, without a server.
// The folder's DICOM files are taken into a private store and index under
// OUT/.work exactly as the DICOM listener would keep them, each series is routed
// and rendered by a worker process as in the node (so a file that crashes a
// library fails that series only, with the reason), and the results are laid
// out as
//   OUT/png/<SeriesInstanceUID>/<preset>-<view>.png, <preset>-spin-NNN.png
//   OUT/dicom/<SeriesInstanceUID>_*.dcm      OUT/mesh/<SeriesInstanceUID>.stl
#include <filesystem>
#include <string>
#include <vector>

#include "volnode/core/config.hpp"

namespace volnode {

struct OfflineRenderRequest {
  std::filesystem::path input_dir;
  std::filesystem::path out_dir;
  std::string rule;                  // force this routing rule; empty: the rules decide
  std::vector<std::string> presets;  // render these presets (spin + key views each) instead of the rule's outputs
  Config config;                     // render.*, outputs.*, pipeline.presets_dir
  std::vector<std::string> worker_command;  // how to start a worker (main.cpp: this binary, same configuration)
};

// Renders every renderable series; prints progress and a summary to `out`.
// Returns the number of series rendered.
int renderOffline(const OfflineRenderRequest& request, std::ostream& out);

}  // namespace volnode
