-- PostgreSQL version of ../006_retrieve_jobs.sql: the kind CHECK gains 'retrieve'.
ALTER TABLE jobs DROP CONSTRAINT jobs_kind_check;
ALTER TABLE jobs ADD CONSTRAINT jobs_kind_check CHECK (kind IN ('route','render','send','retrieve'));
