-- Typed states: the series and job tables are rebuilt with CHECK constraints that
-- list the states and kinds of storage/include/volnode/storage/states.hpp, so no
-- code path (nor a hand-made UPDATE) can write another. Jobs also count the
-- attempts whose worker process died (a crash, the OOM killer, a time-out).
-- SQLite cannot add a CHECK to a table: create, copy, drop, rename (foreign keys
-- are off while migrations run, and checked before each commits).

CREATE TABLE series_typed (
  id                 INTEGER PRIMARY KEY,
  series_uid         TEXT NOT NULL UNIQUE,
  study_pk           INTEGER NOT NULL REFERENCES studies(id),
  modality           TEXT NOT NULL DEFAULT '',
  series_description TEXT NOT NULL DEFAULT '',
  series_number      TEXT NOT NULL DEFAULT '',
  body_part          TEXT NOT NULL DEFAULT '',
  protocol_name      TEXT NOT NULL DEFAULT '',
  frame_of_reference TEXT NOT NULL DEFAULT '',
  calling_aet        TEXT NOT NULL DEFAULT '',
  instance_count     INTEGER NOT NULL DEFAULT 0,
  first_received     TEXT NOT NULL,
  last_received      TEXT NOT NULL,
  last_received_unix REAL NOT NULL,
  state              TEXT NOT NULL DEFAULT 'receiving'
    CHECK (state IN ('receiving','complete','queued','processing','done','refused','failed','canceled','indexed')),
  state_reason       TEXT NOT NULL DEFAULT 'first instance received',
  state_time         TEXT NOT NULL
);
INSERT INTO series_typed SELECT * FROM series;
DROP TABLE series;
ALTER TABLE series_typed RENAME TO series;
CREATE INDEX series_study ON series(study_pk);
CREATE INDEX series_state ON series(state);

CREATE TABLE jobs_typed (
  id               INTEGER PRIMARY KEY,
  kind             TEXT NOT NULL CHECK (kind IN ('route','render','send')),
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
  crashes          INTEGER NOT NULL DEFAULT 0,   -- attempts whose worker process died
  CHECK (state <> 'running' OR lease_owner IS NOT NULL)
);
INSERT INTO jobs_typed(id, kind, study_uid, series_uid, rule, destination, payload, state, priority, attempts,
                       max_attempts, not_before, lease_owner, lease_until, last_error, warning, progress_stage,
                       progress_percent, created_at, updated_at, started_at, finished_at)
  SELECT id, kind, study_uid, series_uid, rule, destination, payload, state, priority, attempts, max_attempts,
         not_before, lease_owner, lease_until, last_error, warning, progress_stage, progress_percent, created_at,
         updated_at, started_at, finished_at FROM jobs;
DROP TABLE jobs;
ALTER TABLE jobs_typed RENAME TO jobs;
CREATE INDEX jobs_claim ON jobs(state, kind, priority, id);
CREATE INDEX jobs_series ON jobs(series_uid);
CREATE INDEX jobs_study ON jobs(study_uid);
