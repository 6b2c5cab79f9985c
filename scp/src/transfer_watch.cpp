#include "volnode/scp/transfer_watch.hpp"

#include <sys/socket.h>

namespace volnode {

namespace {

double secondsBetween(TransferWatch::Clock::time_point from, TransferWatch::Clock::time_point to) {
  return std::chrono::duration<double>(to - from).count();
}

}  // namespace

TransferWatch::Id TransferWatch::watch(int fd, std::string label) {
  std::lock_guard lock(mutex_);
  Id id = next_id_++;
  entries_[id] = Entry{fd, std::move(label), Phase::Working, {}, 0};
  return id;
}

void TransferWatch::forget(Id id) {
  std::lock_guard lock(mutex_);
  entries_.erase(id);
}

void TransferWatch::enter(Id id, Phase phase, Clock::time_point now) {
  std::lock_guard lock(mutex_);
  auto it = entries_.find(id);
  if (it == entries_.end()) return;  // already cut
  it->second.phase = phase;
  it->second.since = now;
  it->second.bytes = 0;
}

void TransferWatch::waitingForCommand(Id id, Clock::time_point now) { enter(id, Phase::Command, now); }
void TransferWatch::receivingData(Id id, Clock::time_point now) { enter(id, Phase::Data, now); }
void TransferWatch::sending(Id id, Clock::time_point now) { enter(id, Phase::Sending, now); }
void TransferWatch::working(Id id) { enter(id, Phase::Working, Clock::time_point{}); }

void TransferWatch::received(Id id, int64_t bytes) {
  std::lock_guard lock(mutex_);
  auto it = entries_.find(id);
  if (it != entries_.end()) it->second.bytes += bytes;
}

std::string TransferWatch::overdue(const Entry& e, Clock::time_point now) const {
  const double waited = secondsBetween(e.since, now);
  switch (e.phase) {
    case Phase::Working:
      return "";
    case Phase::Command:
      if (now - e.since <= limits_.command_wait) return "";
      return "no complete command within " + std::to_string(limits_.command_wait.count()) +
             " s (dicom.idle_timeout_s + dicom.dimse_timeout_s)";
    case Phase::Sending:
      if (now - e.since <= limits_.send_wait) return "";
      return "the peer did not take an answer within " + std::to_string(limits_.send_wait.count()) +
             " s (dicom.dimse_timeout_s)";
    case Phase::Data: {
      if (limits_.min_data_bytes_per_s <= 0 || now - e.since <= limits_.data_grace) return "";
      // After the grace the data set must have kept up with the minimum rate since then.
      const double counted = waited - std::chrono::duration<double>(limits_.data_grace).count();
      if (static_cast<double>(e.bytes) >= counted * static_cast<double>(limits_.min_data_bytes_per_s)) return "";
      return "data set arriving too slowly: " + std::to_string(e.bytes) + " bytes in " +
             std::to_string(static_cast<int64_t>(waited)) + " s, below " +
             std::to_string(limits_.min_data_bytes_per_s / 1024) +
             " KiB/s once dicom.dimse_timeout_s had passed (dicom.min_receive_kib_per_s)";
    }
  }
  return "";
}

std::vector<std::string> TransferWatch::enforce(Clock::time_point now) {
  std::vector<std::string> cut;
  std::lock_guard lock(mutex_);
  for (auto it = entries_.begin(); it != entries_.end();) {
    std::string why = overdue(it->second, now);
    if (why.empty()) {
      ++it;
      continue;
    }
    // Under the lock: the owner closes the socket only after forget(), so this
    // descriptor still belongs to the watched connection.
    ::shutdown(it->second.fd, SHUT_RDWR);
    cut.push_back(it->second.label + ": " + why + "; connection cut");
    it = entries_.erase(it);
  }
  return cut;
}

}  // namespace volnode
