-- The data steward's work: review tasks the matcher leaves, and decisions (must-link / cannot-link) that
-- every later master rebuild obeys until they are undone. Keep in step with migrations/sqlite/0004_steward.sql.
CREATE TABLE match_reviews (
    id            BIGSERIAL   PRIMARY KEY,
    left_source   TEXT        NOT NULL,
    left_key      TEXT        NOT NULL,
    right_source  TEXT        NOT NULL,
    right_key     TEXT        NOT NULL,
    probability   NUMERIC     NOT NULL,
    reason        TEXT        NOT NULL,
    explanation   JSONB       NOT NULL,
    status        TEXT        NOT NULL CHECK (status IN ('open', 'approved', 'rejected', 'obsolete')),
    created_at    TIMESTAMPTZ NOT NULL,
    updated_at    TIMESTAMPTZ NOT NULL,
    UNIQUE (left_source, left_key, right_source, right_key)
);
CREATE INDEX match_reviews_by_status ON match_reviews (status, probability DESC);

-- One row per steward action (who, when, why), with the record pairs it decided: `same` = must-link,
-- otherwise cannot-link. Undoing an action marks it; the row stays as history.
CREATE TABLE steward_decisions (
    id            BIGSERIAL   PRIMARY KEY,
    action        TEXT        NOT NULL
        CHECK (action IN ('approve', 'reject', 'force_link', 'force_split', 'merge', 'split')),
    same          BOOLEAN     NOT NULL,
    pairs         JSONB       NOT NULL,
    review_id     BIGINT      REFERENCES match_reviews (id),
    subject       TEXT        NOT NULL,
    actor         TEXT        NOT NULL,
    reason        TEXT        NOT NULL,
    created_at    TIMESTAMPTZ NOT NULL,
    undone_at     TIMESTAMPTZ,
    undone_by     TEXT,
    undo_reason   TEXT
);
