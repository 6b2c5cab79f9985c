-- volnode index, schema version 1: what the node holds and where it came from.
-- Times are UTC ISO 8601 strings; file paths are relative to the store root.

CREATE TABLE patients (
  id            INTEGER PRIMARY KEY,
  patient_id    TEXT NOT NULL,           -- (0010,0020)
  issuer        TEXT NOT NULL DEFAULT '',-- (0010,0021)
  patient_name  TEXT NOT NULL DEFAULT '',-- (0010,0010), UTF-8
  birth_date    TEXT NOT NULL DEFAULT '',
  sex           TEXT NOT NULL DEFAULT '',
  UNIQUE (patient_id, issuer)
);

CREATE TABLE studies (
  id                  INTEGER PRIMARY KEY,
  study_uid           TEXT NOT NULL UNIQUE,
  patient_pk          INTEGER NOT NULL REFERENCES patients(id),
  study_date          TEXT NOT NULL DEFAULT '',
  study_time          TEXT NOT NULL DEFAULT '',
  accession_number    TEXT NOT NULL DEFAULT '',
  study_id            TEXT NOT NULL DEFAULT '',
  study_description   TEXT NOT NULL DEFAULT '',
  referring_physician TEXT NOT NULL DEFAULT '',
  first_received      TEXT NOT NULL,
  last_received       TEXT NOT NULL
);
CREATE INDEX studies_patient ON studies(patient_pk);

CREATE TABLE series (
  id                 INTEGER PRIMARY KEY,
  series_uid         TEXT NOT NULL UNIQUE,
  study_pk           INTEGER NOT NULL REFERENCES studies(id),
  modality           TEXT NOT NULL DEFAULT '',
  series_description TEXT NOT NULL DEFAULT '',
  series_number      TEXT NOT NULL DEFAULT '',
  body_part          TEXT NOT NULL DEFAULT '',
  protocol_name      TEXT NOT NULL DEFAULT '',
  frame_of_reference TEXT NOT NULL DEFAULT '',
  calling_aet        TEXT NOT NULL DEFAULT '', -- who sent the latest instance
  instance_count     INTEGER NOT NULL DEFAULT 0,
  first_received     TEXT NOT NULL,
  last_received      TEXT NOT NULL,
  last_received_unix REAL NOT NULL,           -- for the completion monitor
  state              TEXT NOT NULL DEFAULT 'receiving',
  state_reason       TEXT NOT NULL DEFAULT 'first instance received',
  state_time         TEXT NOT NULL
);
CREATE INDEX series_study ON series(study_pk);
CREATE INDEX series_state ON series(state);

-- Every state change of a series, for the timeline and for audit.
CREATE TABLE series_transitions (
  id         INTEGER PRIMARY KEY,
  series_pk  INTEGER NOT NULL REFERENCES series(id),
  state      TEXT NOT NULL,
  reason     TEXT NOT NULL,
  at         TEXT NOT NULL
);
CREATE INDEX series_transitions_series ON series_transitions(series_pk);

CREATE TABLE associations (
  id           INTEGER PRIMARY KEY,
  calling_aet  TEXT NOT NULL,
  called_aet   TEXT NOT NULL,
  peer_host    TEXT NOT NULL,
  started_at   TEXT NOT NULL,
  ended_at     TEXT,
  instances    INTEGER NOT NULL DEFAULT 0,
  bytes        INTEGER NOT NULL DEFAULT 0,
  failures     INTEGER NOT NULL DEFAULT 0,
  outcome      TEXT NOT NULL DEFAULT 'open'  -- open | released | aborted | refused | interrupted
);

CREATE TABLE instances (
  id                  INTEGER PRIMARY KEY,
  sop_uid             TEXT NOT NULL,
  series_pk           INTEGER NOT NULL REFERENCES series(id),
  association_pk      INTEGER REFERENCES associations(id),
  sop_class_uid       TEXT NOT NULL,
  transfer_syntax_uid TEXT NOT NULL,
  instance_number     INTEGER,
  rows                INTEGER,
  columns             INTEGER,
  number_of_frames    INTEGER,
  bits_allocated      INTEGER,
  pixel_spacing       TEXT NOT NULL DEFAULT '',  -- "row\col" as in the data
  image_position      TEXT NOT NULL DEFAULT '',  -- "x\y\z" mm, LPS
  image_orientation   TEXT NOT NULL DEFAULT '',  -- six direction cosines
  slice_thickness     TEXT NOT NULL DEFAULT '',
  image_type          TEXT NOT NULL DEFAULT '',
  acquisition_number  TEXT NOT NULL DEFAULT '',
  images_in_acquisition INTEGER,
  temporal_positions  INTEGER,
  specific_character_set TEXT NOT NULL DEFAULT '',
  file_path           TEXT NOT NULL UNIQUE,
  file_size           INTEGER NOT NULL,
  conflict            INTEGER NOT NULL DEFAULT 0,-- 1: another instance with the same SOP UID but other content exists
  received_at         TEXT NOT NULL
);
CREATE INDEX instances_series ON instances(series_pk);
CREATE INDEX instances_sop ON instances(sop_uid);
