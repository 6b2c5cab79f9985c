#pragma once
// What a viewer worker process does with one request: finds the series' prepared
// volume (kept in memory, least recently used dropped beyond viewer.memory_mb; else
// read from the file its batch render kept; else assembled and preprocessed like a
// batch render), then renders the 3D frame or reformats the slice and encodes it.
// Every failure becomes a reply with an HTTP status: 400 naming the parameter, 404,
// 422 for a series that is not a volume, 500.
#include <filesystem>
#include <memory>

#include "volnode/core/config.hpp"
#include "volnode/rules/routing_rules.hpp"
#include "volnode/storage/index.hpp"
#include "volnode/storage/job_queue.hpp"
#include "volnode/viewer/viewer_protocol.hpp"

namespace volnode::viewer {

struct ViewerEngineSettings {
  RenderConfig render;                  // backend, frame size, spin frames, annotation: as the batch render
  std::filesystem::path store_root;     // where the index's file paths point
  std::filesystem::path results_root;   // <results>/<render job id>/volume.vol
  std::filesystem::path presets_dir;
  int memory_mb = 2048;                 // prepared volumes kept in memory
};

class ViewerEngine {
 public:
  ViewerEngine(ViewerEngineSettings settings, Index& index, JobQueue& jobs, const RuleSet& rules);
  ~ViewerEngine();
  ViewerEngine(const ViewerEngine&) = delete;
  ViewerEngine& operator=(const ViewerEngine&) = delete;

  ViewerReply handle(const ViewerRequest& request);
  // Opens the render windows now, so the first frame does not wait for them.
  void warmUp();
  // After a reply is sent: when it was a full frame, the draft renderer prepares
  // the series just shown, so the user's first drag does not pay its grid. Does
  // nothing when it already holds that series.
  void prepareAhead();
  // Idle: gives the volumes back (the render windows are opened again, empty).
  void release();
  size_t volumesHeld() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace volnode::viewer
