#include "volnode/workflow/index_outage.hpp"

#include <algorithm>
#include <cmath>
#include <utility>

#include "volnode/core/logging.hpp"
#include "volnode/storage/database_unavailable.hpp"

namespace volnode {

IndexOutage::IndexOutage(std::string who, double max_wait_s) : who_(std::move(who)), max_wait_s_(max_wait_s) {}

bool IndexOutage::interrupted(const std::exception& error) {
  if (!isDatabaseUnavailable(error)) return false;
  if (failures_++ == 0)
    moduleLogger("pipeline")->error("{}: paused, the index cannot be reached: {}; trying again with back-off", who_,
                                    error.what());
  return true;
}

void IndexOutage::answered() {
  if (failures_ == 0) return;
  moduleLogger("pipeline")->warn("{}: the index answers again after {} failed tr{}; resuming", who_, failures_,
                                 failures_ == 1 ? "y" : "ies");
  failures_ = 0;
}

double IndexOutage::waitSeconds(double idle_s) const {
  if (failures_ == 0) return idle_s;
  return std::min(max_wait_s_, 0.5 * std::pow(2.0, std::min(failures_ - 1, 16)));
}

}  // namespace volnode
