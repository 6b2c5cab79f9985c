#pragma once
// `volnode viewer-worker`: one interactive-view worker process, started by `volnode
// serve` through the ViewerPool when the node starts, never by hand. It confines itself like
// the job workers (worker_sandbox.hpp), then answers the requests the node forwards
// on its socket (fd 3) until the node closes it.
#include "volnode/core/config.hpp"

namespace volnode {

int runViewerWorker(const Config& config, int slot);

}  // namespace volnode
