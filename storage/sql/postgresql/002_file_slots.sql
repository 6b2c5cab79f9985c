-- PostgreSQL version of ../002_file_slots.sql.
-- Pre-created files in the store that do not (yet) hold an acknowledged instance.
-- A slot leaves this table in the same transaction that indexes its instance;
-- whatever is still here at start-up was never acknowledged and is deleted.
CREATE TABLE file_slots (
  path TEXT PRIMARY KEY   -- relative to the store root
);
