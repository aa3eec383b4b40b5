-- The webhook inbox (src/store/inbox.rs): every accepted webhook event, written before the sender
-- gets its 2xx, then staged by src/webhook/process.rs. Keep in step with
-- migrations/postgres/0006_webhook_inbox.sql.
-- Timestamps: RFC 3339 text in UTC with six fraction digits and `Z`, as in 0001.

CREATE TABLE webhook_inbox (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    connector       TEXT    NOT NULL,
    -- The event ID the sender gave (header or JSON field), or `sha256:<hex>` of the body.
    idempotency_key TEXT    NOT NULL,
    -- The stream whose mapping the event's records take, resolved when it was accepted.
    stream          TEXT    NOT NULL,
    received_at     TEXT    NOT NULL,
    -- The body exactly as received (UTF-8 JSON text; the signature was computed over it).
    body            TEXT    NOT NULL,
    -- The headers that mattered (signature, timestamp, event ID, content type), as a JSON object.
    headers         TEXT    NOT NULL,
    status          TEXT    NOT NULL DEFAULT 'pending'
                            CHECK (status IN ('pending', 'processed', 'failed')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    processed_at    TEXT,
    -- The sync run that staged (or failed) it.
    run             INTEGER REFERENCES runs (id),
    error           TEXT,
    UNIQUE (connector, idempotency_key)
) STRICT;
CREATE INDEX webhook_inbox_by_status ON webhook_inbox (status, id);
