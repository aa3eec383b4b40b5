-- What the master knows about each customer, derived after every sync (src/insight) and replaced
-- whole in one transaction. Keep in step with migrations/postgres/0003_customer_insights.sql.
-- No foreign key to masters: the master is saved first and may drop a master this still names
-- until the insights are replaced. Decimals are exact text; dates are YYYY-MM-DD.
CREATE TABLE customer_insights (
    master_id             TEXT    PRIMARY KEY,
    as_of                 TEXT    NOT NULL,
    computed_at           TEXT    NOT NULL,
    currency              TEXT    NOT NULL,
    tier                  TEXT    NOT NULL CHECK (tier IN ('A', 'B', 'C')),
    revenue_rank          INTEGER NOT NULL,
    ranked_customers      INTEGER NOT NULL,
    revenue               TEXT    NOT NULL,
    revenue_share_pct     TEXT    NOT NULL,
    cumulative_share_pct  TEXT    NOT NULL,
    top_20_pct            INTEGER NOT NULL,
    stage                 TEXT    NOT NULL
        CHECK (stage IN ('prospect', 'first_time', 'repeat', 'loyal', 'lapsed')),
    orders                INTEGER NOT NULL,
    order_days            INTEGER NOT NULL,
    first_order           TEXT,
    last_order            TEXT,
    days_since_last_order INTEGER,
    median_gap_days       TEXT,
    active_periods        INTEGER NOT NULL,
    churn                 TEXT    NOT NULL CHECK (churn IN ('ok', 'at_risk', 'no_history')),
    churn_threshold_days  TEXT,
    churn_reason          TEXT    NOT NULL,
    dealer                INTEGER NOT NULL,
    channel               TEXT    NOT NULL
) STRICT;
CREATE INDEX customer_insights_by_tier ON customer_insights (tier, revenue_rank);
