-- PostgreSQL version of ../004_output_created.sql.
-- The creation date/time of each planned output, so that a re-render after a
-- crash produces the very same object (UIDs and bytes) as the first attempt.
ALTER TABLE job_outputs ADD COLUMN created TEXT NOT NULL DEFAULT '';
