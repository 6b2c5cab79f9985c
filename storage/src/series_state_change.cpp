#include "series_state_change.hpp"

#include "volnode/core/logging.hpp"

namespace volnode::sql {

SeriesChangeResult changeSeriesState(Connection& db, const std::string& series_uid, SeriesState to,
                                     const std::string& reason, const std::string& now) {
  int64_t id = 0;
  std::string current_text;
  {
    // The row stays locked until the caller's transaction ends (PostgreSQL).
    auto find = db.cached("SELECT id, state FROM series WHERE series_uid = ?" + db.dialect().forUpdate());
    find->bind(1, series_uid);
    if (!find->step()) return SeriesChangeResult::Unknown;
    id = find->integer(0);
    current_text = find->text(1);
  }
  auto current = parseSeriesState(current_text);
  if (!current || !seriesTransitionAllowed(*current, to)) {
    moduleLogger("storage")->debug("series {}: {} -> {} not allowed; stays {}", series_uid, current_text,
                                   toString(to), current_text);
    return SeriesChangeResult::NotAllowed;
  }
  const std::string state(toString(to));
  db.cached("UPDATE series SET state = ?, state_reason = ?, state_time = ? WHERE id = ?")
      ->bind(1, state).bind(2, reason).bind(3, now).bind(4, id).run();
  db.cached("INSERT INTO series_transitions(series_pk, state, reason, at) VALUES (?,?,?,?)")
      ->bind(1, id).bind(2, state).bind(3, reason).bind(4, now).run();
  return SeriesChangeResult::Changed;
}

}  // namespace volnode::sql
