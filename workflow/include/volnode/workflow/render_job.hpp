#pragma once
// One render job, start to end: the series' files are assembled into a volume,
// preprocessed per the rule, rendered (spins, key views), meshed, and encoded as
// DICOM (Secondary Capture, Encapsulated STL) with the output UIDs planned once
// per job in the queue. Files land in <results>/<job id>/{dicom,png,mesh}.
// The same code serves the node's render workers.
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "volnode/core/config.hpp"
#include "volnode/render/render.hpp"
#include "volnode/rules/routing_rules.hpp"
#include "volnode/storage/index.hpp"
#include "volnode/storage/job_queue.hpp"
#include "volnode/volume/stack_prefetch.hpp"

namespace volnode {

struct RenderJobSettings {
  RenderConfig render;
  OutputsConfig outputs;
  std::string node_aet = "VOLNODE";
  std::filesystem::path store_root;     // where the index's file paths point
  std::filesystem::path results_root;   // where outputs are written
  std::filesystem::path presets_dir;
  // Slices this worker decoded while a series arrived (receiving_prefetch.hpp); a job
  // of that series assembles from them. Null: none.
  StackPrefetch* prefetch = nullptr;
};

// Reports progress: stage name and percent of the job done.
using ProgressFn = std::function<void(const std::string& stage, double percent)>;
// Reports that objects were encoded and recorded (job_outputs.file_path) while the job
// still runs, so that they can be sent at once.
using OutputsReadyFn = std::function<void()>;

struct RenderJobResult {
  std::vector<JobOutput> outputs;  // with file paths (relative to results_root)
  StageTimings timings;
  std::string volume_summary;      // "512x512x140, 0.45x0.45x1.00 mm; cropped to body ..."
};

class RenderJobRunner {
 public:
  RenderJobRunner(RenderJobSettings settings, Index& index, JobQueue& jobs, const RuleSet& rules);
  ~RenderJobRunner();

  // Runs a claimed render job. Throws Error(Errc::NotAVolume) when the series
  // has no renderable volume (a permanent failure), other Errors otherwise.
  RenderJobResult run(const Job& job, const ProgressFn& progress, const OutputsReadyFn& outputs_ready = {});

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace volnode
