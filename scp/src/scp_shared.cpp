#include "scp_shared.hpp"

namespace volnode {
namespace {

TransferWatch::Limits watchLimits(const DicomConfig& config) {
  return {std::chrono::seconds(config.idle_timeout_s + config.dimse_timeout_s),
          std::chrono::seconds(config.dimse_timeout_s), int64_t(config.min_receive_kib_per_s) * 1024,
          std::chrono::seconds(config.dimse_timeout_s)};
}

}  // namespace

ScpShared::ScpShared(const DicomConfig& c, InstanceSink& s)
    : config(c), sink(s), policy(c.allowed_peers), watch(watchLimits(c)), hosts(c.max_associations_per_host) {}

void ScpShared::recordRefusal(const AssociationInfo& info, const std::string& why) {
  refused++;
  log->warn("refused association from '{}' at {} to '{}': {}", info.calling_aet, info.peer_host, info.called_aet, why);
  try {
    sink.associationRefused(info, why);
  } catch (const std::exception& e) {
    log->error("cannot record refused association: {}", e.what());
  }
}

std::string trimmedTitle(const char* text) {
  std::string s = text ? text : "";
  auto end = s.find_last_not_of(' ');
  return end == std::string::npos ? std::string() : s.substr(0, end + 1);
}

}  // namespace volnode
