#include "node_name.hpp"

#include <unistd.h>

#include <climits>
#include <cstdio>

namespace volnode {

std::string nodeName(const Config& config) {
  char host[HOST_NAME_MAX + 1] = {};
  if (::gethostname(host, sizeof host - 1) != 0 || host[0] == '\0') std::snprintf(host, sizeof host, "localhost");
  return std::string(host) + ":" + std::to_string(config.dicom.port);
}

}  // namespace volnode
