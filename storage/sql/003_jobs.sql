-- The persistent job queue. One class (JobQueue) owns every state change:
--   queued -> running -> succeeded | failed | retry(not_before) | canceled
-- A running job holds a lease; when its worker dies the lease expires and the
-- job returns to queued.
CREATE TABLE jobs (
  id               INTEGER PRIMARY KEY,
  kind             TEXT NOT NULL,              -- render | send
  study_uid        TEXT NOT NULL DEFAULT '',
  series_uid       TEXT NOT NULL DEFAULT '',
  rule             TEXT NOT NULL DEFAULT '',
  destination      TEXT NOT NULL DEFAULT '',
  payload          TEXT NOT NULL DEFAULT '{}', -- JSON, kind-specific
  state            TEXT NOT NULL DEFAULT 'queued',
  priority         INTEGER NOT NULL DEFAULT 0, -- higher first
  attempts         INTEGER NOT NULL DEFAULT 0,
  max_attempts     INTEGER NOT NULL DEFAULT 3,
  not_before       REAL NOT NULL DEFAULT 0,    -- unix seconds: earliest next attempt (retry)
  lease_owner      TEXT,
  lease_until      REAL,
  last_error       TEXT NOT NULL DEFAULT '',
  warning          TEXT NOT NULL DEFAULT '',
  progress_stage   TEXT NOT NULL DEFAULT '',
  progress_percent REAL NOT NULL DEFAULT 0,
  created_at       TEXT NOT NULL,
  updated_at       TEXT NOT NULL,
  started_at       TEXT,
  finished_at      TEXT
);
CREATE INDEX jobs_claim ON jobs(state, kind, priority, id);
CREATE INDEX jobs_series ON jobs(series_uid);
CREATE INDEX jobs_study ON jobs(study_uid);

-- What happened to each job, in order (the console's timeline).
CREATE TABLE job_events (
  id      INTEGER PRIMARY KEY,
  job_id  INTEGER NOT NULL REFERENCES jobs(id),
  state   TEXT NOT NULL,
  message TEXT NOT NULL DEFAULT '',
  at      TEXT NOT NULL
);
CREATE INDEX job_events_job ON job_events(job_id);

-- The objects a render job produces. UIDs are planned before rendering and kept,
-- so a re-run or a re-send produces and sends the very same objects.
CREATE TABLE job_outputs (
  id            INTEGER PRIMARY KEY,
  job_id        INTEGER NOT NULL REFERENCES jobs(id),
  output_key    TEXT NOT NULL,      -- e.g. "vr_spin:ct-bone", unique per job
  kind          TEXT NOT NULL,      -- vr_spin | mip_spin | key_views | key_view | mesh
  preset        TEXT NOT NULL DEFAULT '',
  series_uid    TEXT NOT NULL,
  sop_uid       TEXT NOT NULL,
  series_number INTEGER NOT NULL,
  description   TEXT NOT NULL,
  sop_class_uid TEXT NOT NULL DEFAULT '',
  file_path     TEXT NOT NULL DEFAULT '',   -- relative to the results root, once written
  file_size     INTEGER NOT NULL DEFAULT 0,
  frames        INTEGER NOT NULL DEFAULT 0,
  UNIQUE (job_id, output_key)
);
CREATE INDEX job_outputs_sop ON job_outputs(sop_uid);

-- Per destination, which output objects it acknowledged (a send resumes after them).
CREATE TABLE deliveries (
  id          INTEGER PRIMARY KEY,
  destination TEXT NOT NULL,
  sop_uid     TEXT NOT NULL,
  status      INTEGER NOT NULL,
  detail      TEXT NOT NULL DEFAULT '',
  at          TEXT NOT NULL,
  UNIQUE (destination, sop_uid)
);

-- SOP classes a destination refused at association; not proposed to it again.
CREATE TABLE destination_refusals (
  destination   TEXT NOT NULL,
  sop_class_uid TEXT NOT NULL,
  at            TEXT NOT NULL,
  PRIMARY KEY (destination, sop_class_uid)
);
