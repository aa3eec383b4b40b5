-- The group structure of the customer master (src/reconcile/groups.rs), derived after every master
-- rebuild and replaced whole in one transaction. Keep in step with migrations/sqlite/0005_master_groups.sql.
-- No foreign key to masters: like customer_insights, it is written after the master is saved.

-- One row per master that has a parent: the parent master and the source record that named it.
CREATE TABLE master_groups (
    master_id   TEXT PRIMARY KEY,
    parent_id   TEXT NOT NULL,
    source      TEXT NOT NULL,
    key         TEXT NOT NULL,
    parent_key  TEXT NOT NULL
);
CREATE INDEX master_groups_by_parent ON master_groups (parent_id);

-- Parent references that gave no edge: dangling keys, self-references, dropped cycle edges and
-- parents overruled by a more trusted record of the same master. One per source record.
CREATE TABLE master_group_issues (
    source      TEXT NOT NULL,
    key         TEXT NOT NULL,
    kind        TEXT NOT NULL CHECK (kind IN ('dangling', 'self_reference', 'cycle', 'overruled')),
    master_id   TEXT NOT NULL,
    parent_key  TEXT NOT NULL,
    parent_id   TEXT,
    detail      TEXT NOT NULL,
    PRIMARY KEY (source, key)
);
CREATE INDEX master_group_issues_by_master ON master_group_issues (master_id);
