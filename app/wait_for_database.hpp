#pragma once
// Starting while the index cannot be reached (PostgreSQL not up yet, a fail-over, a
// network outage) is waited for, by `volnode serve` and `volnode worker` alike: the
// process says that it waits for the database and tries again with back-off, until
// the database answers or a stop signal arrives. Any other start-up error ends it.
#include <signal.h>

#include <functional>

namespace volnode {

// Runs `attempt` until it returns. While it throws an error that isDatabaseUnavailable
// recognises, logs it and tries again after 1, 2, 4 … 30 s; any other error propagates.
// `attempt` undoes what it started before it throws (locks, connections, threads).
// False when one of `signals` (blocked by the caller) arrived while waiting: stop, exit 0.
bool startWhenDatabaseAnswers(const sigset_t& signals, const std::function<void()>& attempt);

}  // namespace volnode
