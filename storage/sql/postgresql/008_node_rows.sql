-- PostgreSQL version of ../008_node_rows.sql: the node's name on its slots and associations.
ALTER TABLE file_slots ADD COLUMN node TEXT;
ALTER TABLE associations ADD COLUMN node TEXT;
ALTER TABLE cluster_members ADD COLUMN node TEXT NOT NULL DEFAULT '';
CREATE INDEX file_slots_node ON file_slots(node);
CREATE INDEX associations_open ON associations(node) WHERE outcome = 'open';
CREATE INDEX instances_association ON instances(association_pk, series_pk);
