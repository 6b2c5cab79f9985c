#pragma once
// How many associations at once each destination takes. A send opens the destination's
// configured number; a peer that takes fewer (it refuses the others, or drops them)
// still gets every object, its refused lanes' objects going again over one association
// after the others (ParallelDelivery). Remembering what it took spares the next sends
// those refusals and that serial tail; the configured number is tried again after a
// while, since a PACS busy with other senders takes more once they are done.
#include <chrono>
#include <cstddef>
#include <map>
#include <string>

#include "volnode/core/config.hpp"

namespace volnode {

class AssociationLimits {
 public:
  using Clock = std::chrono::steady_clock;
  // How long a lower count is kept before the configured one is tried again.
  static constexpr std::chrono::minutes kRemembered{10};

  // Associations to open for the next send to `destination`: its configured number, or
  // fewer while a lower count it took is remembered.
  int associationsFor(const Destination& destination, Clock::time_point now = Clock::now());

  // After a send over `opened` associations of which `turned_away` failed as a whole
  // while another worked: remembers the count the destination took (at least 1). True
  // when that lowered what the next sends open (worth a log line).
  bool recordSend(const Destination& destination, std::size_t opened, std::size_t turned_away,
                  Clock::time_point now = Clock::now());

 private:
  struct Taken {
    int associations = 1;
    Clock::time_point until;
  };
  std::map<std::string, Taken> taken_;  // by destination name
};

}  // namespace volnode
