#pragma once
// `volnode worker`: one worker process, started by `volnode serve` (or `volnode
// render`) through the WorkerSupervisor, never by hand. It confines itself
// (worker_sandbox.hpp), then runs route and render jobs from the queue until
// the node closes its control socket (fd 3).
#include "volnode/core/config.hpp"

namespace volnode {

int runWorker(const Config& config, int slot);

}  // namespace volnode
