#pragma once
// Bounds the whole of each wait inside an association, not only each read.
//
// DCMTK's DIMSE timeout bounds the reading of each PDU, not of a message, so a peer
// that sends a command or a data set as tiny PDUs, one within each timeout, holds
// its association, one of dicom.max_associations, for as long as it likes. The sessions tell the watch
// what they are waiting for; the listener calls enforce() about once a second, and a
// connection whose wait is over its bound has its socket shut down: the blocked read
// returns at once and the session aborts the association.
#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <vector>

namespace volnode {

class TransferWatch {
 public:
  using Clock = std::chrono::steady_clock;

  struct Limits {
    std::chrono::seconds command_wait{120};  // from the start of the wait to a complete command
    std::chrono::seconds data_grace{60};     // a data set may take this long before its rate counts
    int64_t min_data_bytes_per_s = 4096;     // average after the grace; 0 = no minimum
    std::chrono::seconds send_wait{60};      // writing one answer to a peer that does not read
  };

  explicit TransferWatch(Limits limits) : limits_(limits) {}

  using Id = uint64_t;

  // Watches a connection's socket until forget(); `label` names it in messages.
  // Between the phases below nothing is watched (the node itself is working).
  Id watch(int fd, std::string label);
  // After forget() returns the watch never touches the socket again, so the owner may close it.
  void forget(Id id);

  void waitingForCommand(Id id, Clock::time_point now);
  void receivingData(Id id, Clock::time_point now);
  void sending(Id id, Clock::time_point now);
  void working(Id id);
  // Bytes of the data set being received (from the thread that receives it).
  void received(Id id, int64_t bytes);

  // Shuts down (both ways) the socket of every connection over its bound and stops
  // watching it; returns one sentence per connection cut, for the log.
  std::vector<std::string> enforce(Clock::time_point now);

 private:
  enum class Phase { Working, Command, Data, Sending };
  struct Entry {
    int fd = -1;
    std::string label;
    Phase phase = Phase::Working;
    Clock::time_point since{};
    int64_t bytes = 0;
  };
  void enter(Id id, Phase phase, Clock::time_point now);
  std::string overdue(const Entry& entry, Clock::time_point now) const;  // "" when within bounds

  const Limits limits_;
  std::mutex mutex_;
  std::map<Id, Entry> entries_;
  Id next_id_ = 1;
};

}  // namespace volnode
