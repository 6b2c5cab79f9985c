#pragma once
// The name a node's job leases carry on a shared database ("<host>:<DICOM port>"):
// the same after a restart on the same host and port, so the node recognises the
// jobs it held, and different for two nodes on one host (they listen on different
// ports). The worker processes, started with the node's configuration, derive the
// same name.
#include <string>

#include "volnode/core/config.hpp"

namespace volnode {

std::string nodeName(const Config& config);

}  // namespace volnode
