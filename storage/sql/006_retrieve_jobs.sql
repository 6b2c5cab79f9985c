-- Retrieve jobs: an on-demand C-MOVE of a study or a series from a peer to this
-- node is a job like the others, so it survives a restart and the console reads
-- its state from the table. study_uid: the study retrieved (for a series, the one
-- the peer's C-FIND named), series_uid: the series alone or '' for the whole
-- study, destination: the peer asked, rule and priority: how its series are routed.
-- The kind CHECK gains 'retrieve': create, copy, drop, rename (as in 005).

CREATE TABLE jobs_typed (
  id               INTEGER PRIMARY KEY,
  kind             TEXT NOT NULL CHECK (kind IN ('route','render','send','retrieve')),
  study_uid        TEXT NOT NULL DEFAULT '',
  series_uid       TEXT NOT NULL DEFAULT '',
  rule             TEXT NOT NULL DEFAULT '',
  destination      TEXT NOT NULL DEFAULT '',
  payload          TEXT NOT NULL DEFAULT '{}',
  state            TEXT NOT NULL DEFAULT 'queued'
    CHECK (state IN ('queued','running','retry','succeeded','failed','canceled')),
  priority         INTEGER NOT NULL DEFAULT 0,
  attempts         INTEGER NOT NULL DEFAULT 0,
  max_attempts     INTEGER NOT NULL DEFAULT 3,
  not_before       REAL NOT NULL DEFAULT 0,
  lease_owner      TEXT,
  lease_until      REAL,
  last_error       TEXT NOT NULL DEFAULT '',
  warning          TEXT NOT NULL DEFAULT '',
  progress_stage   TEXT NOT NULL DEFAULT '',
  progress_percent REAL NOT NULL DEFAULT 0,
  created_at       TEXT NOT NULL,
  updated_at       TEXT NOT NULL,
  started_at       TEXT,
  finished_at      TEXT,
  crashes          INTEGER NOT NULL DEFAULT 0,
  CHECK (state <> 'running' OR lease_owner IS NOT NULL)
);
INSERT INTO jobs_typed(id, kind, study_uid, series_uid, rule, destination, payload, state, priority, attempts,
                       max_attempts, not_before, lease_owner, lease_until, last_error, warning, progress_stage,
                       progress_percent, created_at, updated_at, started_at, finished_at, crashes)
  SELECT id, kind, study_uid, series_uid, rule, destination, payload, state, priority, attempts, max_attempts,
         not_before, lease_owner, lease_until, last_error, warning, progress_stage, progress_percent, created_at,
         updated_at, started_at, finished_at, crashes FROM jobs;
DROP TABLE jobs;
ALTER TABLE jobs_typed RENAME TO jobs;
CREATE INDEX jobs_claim ON jobs(state, kind, priority, id);
CREATE INDEX jobs_series ON jobs(series_uid);
CREATE INDEX jobs_study ON jobs(study_uid);
