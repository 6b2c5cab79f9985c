#include "volnode/workflow/association_limits.hpp"

#include <algorithm>

namespace volnode {

int AssociationLimits::associationsFor(const Destination& destination, Clock::time_point now) {
  const int configured = std::max(1, destination.associations);
  const auto found = taken_.find(destination.name);
  if (found == taken_.end()) return configured;
  if (now >= found->second.until) {
    taken_.erase(found);
    return configured;
  }
  return std::min(configured, found->second.associations);
}

bool AssociationLimits::recordSend(const Destination& destination, std::size_t opened, std::size_t turned_away,
                                   Clock::time_point now) {
  // Nothing worked (the peer is down, or refuses us): that says nothing about how many
  // at once it takes, and the send fails and is retried as it is.
  if (turned_away == 0 || turned_away >= opened) return false;
  const int took = static_cast<int>(opened - turned_away);
  const int before = associationsFor(destination, now);
  taken_[destination.name] = Taken{took, now + kRemembered};
  return took < before;
}

}  // namespace volnode
