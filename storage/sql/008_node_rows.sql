-- Several serve nodes on one index and one store: the slots a node pre-created and the
-- associations it received on carry its name ("<host>:<dicom.port>", the name its job
-- leases carry), so a starting node settles only its own slots and closes only its own
-- open associations, and completion sees an association to the same study still open on
-- another node. Rows from before this migration have node NULL: they were written while
-- one serve node used the store, and count as the starting node's own.
-- cluster_members.node: a member's node name, joining its heartbeat to those rows (a
-- peer whose heartbeat is stale holds up no completion).
ALTER TABLE file_slots ADD COLUMN node TEXT;
ALTER TABLE associations ADD COLUMN node TEXT;
ALTER TABLE cluster_members ADD COLUMN node TEXT NOT NULL DEFAULT '';
CREATE INDEX file_slots_node ON file_slots(node);
CREATE INDEX associations_open ON associations(node) WHERE outcome = 'open';
-- Which series an open association delivered, without reading the instances' rows.
CREATE INDEX instances_association ON instances(association_pk, series_pk);
