#pragma once
// `volnode pixel-worker`: a DICOMweb pixel worker process, started by `volnode serve`
// through a worker pool on the first WADO-RS request that needs pixel data read
// (compressed frames as stored, decoded frames, rendered images), never by hand. It
// confines itself like the viewer workers (worker_sandbox.hpp), then answers the
// requests the node forwards on its socket (fd 3) until the node closes it.
//
// Requests (viewer_protocol's ViewerRequest; series_uid carries the SOP Instance UID):
//   kind "stored" | "decoded": params file, frames ("1,3"); the reply's body is the
//     frames one after another, their lengths in the header X-Frame-Lengths ("n1,n2");
//   kind "rendered": params file, frame, and optionally window_center, window_width,
//     viewport_columns, viewport_rows, png ("1"), quality; the reply is the image.
// A file outside the node's storage folder is refused (403).
#include "volnode/core/config.hpp"

namespace volnode {

int runPixelWorker(const Config& config, int slot);

}  // namespace volnode
