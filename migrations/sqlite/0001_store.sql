-- Tributary store, SQLite flavour. Keep in step with migrations/postgres/0001_store.sql.
-- Timestamps: RFC 3339 text in UTC with six fraction digits and `Z`, so text order = time order.
-- JSON: text.

CREATE TABLE runs (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    connector   TEXT    NOT NULL,
    started_at  TEXT    NOT NULL,
    finished_at TEXT,
    status      TEXT    NOT NULL CHECK (status IN ('running', 'success', 'partial', 'failed')),
    fetched     INTEGER NOT NULL DEFAULT 0,
    staged      INTEGER NOT NULL DEFAULT 0,
    unchanged   INTEGER NOT NULL DEFAULT 0,
    quarantined INTEGER NOT NULL DEFAULT 0,
    error       TEXT
) STRICT;
CREATE INDEX runs_by_connector ON runs (connector, id);

CREATE TABLE cursors (
    connector  TEXT NOT NULL,
    stream     TEXT NOT NULL,
    value      TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (connector, stream)
) STRICT;

CREATE TABLE staged (
    connector    TEXT    NOT NULL,
    stream       TEXT    NOT NULL,
    key          TEXT    NOT NULL,
    entity       TEXT    NOT NULL,
    customer_key TEXT,
    payload      TEXT    NOT NULL,
    canonical    TEXT    NOT NULL,
    hash         TEXT    NOT NULL,
    run          INTEGER NOT NULL REFERENCES runs (id),
    updated_at   TEXT    NOT NULL,
    PRIMARY KEY (connector, stream, key)
) STRICT;
CREATE INDEX staged_by_entity ON staged (entity, connector, stream, key);

CREATE TABLE quarantine (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    run        INTEGER NOT NULL REFERENCES runs (id),
    connector  TEXT    NOT NULL,
    stream     TEXT    NOT NULL,
    key        TEXT    NOT NULL,
    locator    TEXT    NOT NULL,
    payload    TEXT    NOT NULL,
    reason     TEXT    NOT NULL,
    created_at TEXT    NOT NULL
) STRICT;
CREATE INDEX quarantine_by_connector ON quarantine (connector, id);

CREATE TABLE masters (
    master_id  TEXT PRIMARY KEY,
    golden     TEXT NOT NULL,
    lineage    TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
) STRICT;

CREATE TABLE xref (
    source    TEXT NOT NULL,
    key       TEXT NOT NULL,
    master_id TEXT NOT NULL REFERENCES masters (master_id),
    rule      TEXT NOT NULL,
    PRIMARY KEY (source, key)
) STRICT;
CREATE INDEX xref_by_master ON xref (master_id);

CREATE TABLE master_alias (
    old_id    TEXT PRIMARY KEY,
    master_id TEXT NOT NULL
) STRICT;
