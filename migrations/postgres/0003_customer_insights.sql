-- What the master knows about each customer, derived after every sync (src/insight) and replaced
-- whole in one transaction. Keep in step with migrations/sqlite/0003_customer_insights.sql.
-- No foreign key to masters: the master is saved first and may drop a master this still names
-- until the insights are replaced.
CREATE TABLE customer_insights (
    master_id             TEXT        PRIMARY KEY,
    as_of                 DATE        NOT NULL,
    computed_at           TIMESTAMPTZ NOT NULL,
    currency              TEXT        NOT NULL,
    tier                  TEXT        NOT NULL CHECK (tier IN ('A', 'B', 'C')),
    revenue_rank          BIGINT      NOT NULL,
    ranked_customers      BIGINT      NOT NULL,
    revenue               NUMERIC     NOT NULL,
    revenue_share_pct     NUMERIC     NOT NULL,
    cumulative_share_pct  NUMERIC     NOT NULL,
    top_20_pct            BOOLEAN     NOT NULL,
    stage                 TEXT        NOT NULL
        CHECK (stage IN ('prospect', 'first_time', 'repeat', 'loyal', 'lapsed')),
    orders                BIGINT      NOT NULL,
    order_days            BIGINT      NOT NULL,
    first_order           DATE,
    last_order            DATE,
    days_since_last_order BIGINT,
    median_gap_days       NUMERIC,
    active_periods        BIGINT      NOT NULL,
    churn                 TEXT        NOT NULL CHECK (churn IN ('ok', 'at_risk', 'no_history')),
    churn_threshold_days  NUMERIC,
    churn_reason          TEXT        NOT NULL,
    dealer                BOOLEAN     NOT NULL,
    channel               JSONB       NOT NULL
);
CREATE INDEX customer_insights_by_tier ON customer_insights (tier, revenue_rank);
