-- What the customer master was last built from and with, for incremental matching
-- (src/reconcile/incremental.rs). Keep in step with migrations/sqlite/0008_match_basis.sql.

-- One row: the kept model (trained parameters, as exact text), the fingerprints of the settings
-- it was trained and applied under, the steward decisions the master was built with, and when.
CREATE TABLE match_model (
    id                SMALLINT PRIMARY KEY CHECK (id = 1),
    model_fingerprint TEXT    NOT NULL,
    rules_fingerprint TEXT    NOT NULL,
    params            JSONB   NOT NULL,
    decisions         JSONB   NOT NULL,
    trained_records   BIGINT  NOT NULL,
    trained_at        TIMESTAMPTZ NOT NULL,
    built_at          TIMESTAMPTZ NOT NULL
);

-- Per source customer: the digest of the staged row the master was built from, and its blocking
-- keys then (a bit mask of the rules with a key, then each key as 8 bytes little-endian).
CREATE TABLE master_basis (
    source      TEXT NOT NULL,
    key         TEXT NOT NULL,
    digest      TEXT NOT NULL,
    block_keys  BYTEA NOT NULL,
    PRIMARY KEY (source, key)
);
