#pragma once
// How a loop that works on the index rides out a database outage (PostgreSQL
// stopped, restarting or out of reach): the first failure is logged once, saying
// what pauses; the loop waits longer between tries (0.5 s doubling up to a limit)
// instead of spinning or logging every second; the first answer after it is logged
// once. Nothing is marked failed for the outage: a job it interrupted goes back to
// the queue uncounted once the database answers (JobQueue::returnInterrupted).
#include <exception>
#include <string>

namespace volnode {

class IndexOutage {
 public:
  // `who`: the loop, for the log ("render worker worker-1-123", "export").
  explicit IndexOutage(std::string who, double max_wait_s = 5.0);

  // After an operation threw: true when the database was unreachable (counted and,
  // the first time in an outage, logged); false for any other error.
  bool interrupted(const std::exception& error);
  // After an operation that reached the database: ends an outage (logged).
  void answered();
  bool ongoing() const { return failures_ > 0; }
  // How long the loop waits before its next try: `idle_s` normally, the back-off
  // during an outage.
  double waitSeconds(double idle_s) const;

 private:
  std::string who_;
  double max_wait_s_;
  int failures_ = 0;
};

}  // namespace volnode
