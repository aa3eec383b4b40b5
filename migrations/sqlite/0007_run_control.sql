-- no-transaction
-- Run control for `tributary serve`. Keep in step with migrations/postgres/0006_run_control.sql.
--
-- 1. A run stopped by a shutdown between two pages ends `cancelled`. SQLite cannot change a CHECK
--    constraint in place, so `runs` is rebuilt the documented way (foreign keys off outside the
--    transaction, new table, copy, drop, rename); `staged` and `quarantine` refer to it by name.
-- 2. `run_locks`: one row per connector being run, with its owner and a lease. A lock whose lease
--    has expired (its holder died) may be taken over. PostgreSQL uses advisory locks instead.
PRAGMA foreign_keys = OFF;
BEGIN IMMEDIATE;

CREATE TABLE runs_new (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    connector   TEXT    NOT NULL,
    started_at  TEXT    NOT NULL,
    finished_at TEXT,
    status      TEXT    NOT NULL
                CHECK (status IN ('running', 'success', 'partial', 'failed', 'cancelled')),
    fetched     INTEGER NOT NULL DEFAULT 0,
    staged      INTEGER NOT NULL DEFAULT 0,
    unchanged   INTEGER NOT NULL DEFAULT 0,
    quarantined INTEGER NOT NULL DEFAULT 0,
    error       TEXT
) STRICT;
INSERT INTO runs_new (id, connector, started_at, finished_at, status, fetched, staged, unchanged,
                      quarantined, error)
    SELECT id, connector, started_at, finished_at, status, fetched, staged, unchanged, quarantined,
           error
    FROM runs;
DROP TABLE runs;
ALTER TABLE runs_new RENAME TO runs;
CREATE INDEX runs_by_connector ON runs (connector, id);

CREATE TABLE run_locks (
    connector   TEXT PRIMARY KEY,
    owner       TEXT NOT NULL,
    acquired_at TEXT NOT NULL,
    expires_at  TEXT NOT NULL
) STRICT;

COMMIT;
PRAGMA foreign_keys = ON;
