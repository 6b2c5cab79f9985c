-- PostgreSQL version of ../005_typed_states.sql: the same CHECK constraints, added
-- in place (PostgreSQL alters constraints; SQLite has to rebuild the tables), and
-- the crashes column. Constraints are named so that later migrations can replace them.
ALTER TABLE series ADD CONSTRAINT series_state_check
  CHECK (state IN ('receiving','complete','queued','processing','done','refused','failed','canceled','indexed'));
ALTER TABLE jobs ADD CONSTRAINT jobs_kind_check CHECK (kind IN ('route','render','send'));
ALTER TABLE jobs ADD CONSTRAINT jobs_state_check
  CHECK (state IN ('queued','running','retry','succeeded','failed','canceled'));
ALTER TABLE jobs ADD COLUMN crashes BIGINT NOT NULL DEFAULT 0;  -- attempts whose worker process died
ALTER TABLE jobs ADD CONSTRAINT jobs_running_leased CHECK (state <> 'running' OR lease_owner IS NOT NULL);
