#pragma once
// The one place that writes a series' state: inside the caller's transaction, and
// only along a transition that states.hpp allows. Index (receiving, complete) and
// JobQueue (the states a route or render job brings) both come through here.
#include <string>

#include "database/connection.hpp"
#include "volnode/storage/states.hpp"

namespace volnode::sql {

enum class SeriesChangeResult { Changed, Unknown, NotAllowed };

// Moves the series to `to` and records the transition. Unknown: no such series;
// NotAllowed: its current state does not lead to `to` (e.g. a late instance
// reopened it while it rendered): nothing is written then.
SeriesChangeResult changeSeriesState(Connection& db, const std::string& series_uid, SeriesState to,
                                     const std::string& reason, const std::string& now);

}  // namespace volnode::sql
