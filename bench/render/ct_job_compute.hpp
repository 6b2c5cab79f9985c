#pragma once
// The compute of one CT render job under the default "ct-bundle" rule, as the render
// job (workflow/src/render_job.cpp) runs it, for `bench_render --reformat-cost`:
// preprocess; the prepared volume written for the viewer; the surface model on its own
// thread; the reformats resampled and written as CT image series on their own thread
// (when asked); the spins and key views rendered, written as PNG and encoded as DICOM;
// the STL extracted, written and encoded. Assembly (about 0.4 s for 300 slices), planning in the queue and sending are
// left out (they do not depend on the reformats, except the sending of their slices).
#include <filesystem>
#include <memory>

#include "volnode/encode/output_identity.hpp"
#include "volnode/render/render.hpp"
#include "volnode/volume/volume.hpp"

namespace volnode::bench {

struct CtJobSeconds {
  double job = 0;             // wall time of the whole job
  double reformats = 0;       // the reformat thread's wall time (0 without reformats)
  double reformat_cpu = 0;    // its CPU time (the reformats run on that one thread)
  double reformat_wait = 0;   // how long the job waited for it after the renders
  int reformat_slices = 0;
  int frames = 0;
};

CtJobSeconds runCtJob(const Volume& acquired, const OutputIdentity& identity, bool with_reformats,
                      const std::filesystem::path& presets, const std::filesystem::path& out,
                      VolumeRenderer& renderer);

}  // namespace volnode::bench
