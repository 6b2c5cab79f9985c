-- The members of a cluster: every `volnode serve` node and `volnode worker` process
-- that uses this index records itself here and renews heartbeat_at on the database's
-- clock (unix seconds) every heartbeat_s, so any node's console can show them all,
-- and one silent for three intervals as stale. current_jobs: the ids of the jobs
-- its worker processes run, comma-separated ('' when idle). detail: what the member
-- offers (e.g. "AE VOLNODE on port 11112, console :8080"). A member that stops
-- cleanly deletes its row; one that died stays, stale, until forgotten a day later.

CREATE TABLE cluster_members (
  id            INTEGER PRIMARY KEY,
  role          TEXT NOT NULL CHECK (role IN ('serve','worker')),
  host          TEXT NOT NULL,
  pid           INTEGER NOT NULL,
  started_at    REAL NOT NULL,
  heartbeat_at  REAL NOT NULL,
  heartbeat_s   REAL NOT NULL,
  workers       INTEGER NOT NULL DEFAULT 0,
  current_jobs  TEXT NOT NULL DEFAULT '',
  detail        TEXT NOT NULL DEFAULT ''
);
CREATE INDEX cluster_members_heartbeat ON cluster_members(heartbeat_at);
