#include "node_name.hpp"

#include "volnode/workflow/cluster_presence.hpp"

namespace volnode {

std::string nodeName(const Config& config) { return thisHostName() + ":" + std::to_string(config.dicom.port); }

}  // namespace volnode
