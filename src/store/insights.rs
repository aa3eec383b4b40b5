//! `customer_insights`: what the master knows about each customer, as [`crate::insight`]
//! derived it after the last sync.
//!
//! Invariants:
//! - [`Store::replace_insights`] replaces the WHOLE table in one transaction: readers see the
//!   insights of one sync, never a mix of two;
//! - one row per master ID; decimals stay exact (`NUMERIC` on PostgreSQL, text on SQLite);
//! - a stored value that does not decode is [`StoreError::Corrupt`].

use sqlx::types::Json;

use super::sql::{Dec, RowExt, Stamp, WritePool, on_pool, with_rows};
use super::{Store, StoreError};
use crate::insight::{Churn, CustomerInsight, Lifecycle, ValueRank};

const T: &str = "customer_insights";

const COLUMNS: &str = "master_id, as_of, computed_at, currency, tier, revenue_rank, \
     ranked_customers, revenue, revenue_share_pct, cumulative_share_pct, top_20_pct, stage, \
     orders, order_days, first_order, last_order, days_since_last_order, median_gap_days, \
     active_periods, churn, churn_threshold_days, churn_reason, dealer, channel";
/// Parameters per row of the insert (the columns above).
const WIDTH: usize = 24;
/// Rows per insert: 400 × 24 parameters stays far below both backends' limits.
const ROWS: usize = 400;

/// Reads a number that must fit `u32`.
fn small(row: &impl RowExt, col: &str) -> Result<u32, StoreError> {
    let n = row.int(T, col)?;
    u32::try_from(n).map_err(|_| StoreError::Corrupt {
        table: T,
        reason: format!("column {col}: {n} is out of range"),
    })
}

/// Parses a stored name (tier, stage, churn status).
fn named<N: std::str::FromStr<Err = String>>(
    row: &impl RowExt,
    col: &str,
) -> Result<N, StoreError> {
    row.text(T, col)?
        .parse()
        .map_err(|reason| StoreError::Corrupt {
            table: T,
            reason: format!("column {col}: {reason}"),
        })
}

fn decode(row: &impl RowExt) -> Result<CustomerInsight, StoreError> {
    let corrupt = |col: &str, e: &dyn std::fmt::Display| StoreError::Corrupt {
        table: T,
        reason: format!("column {col}: {e}"),
    };
    Ok(CustomerInsight {
        master_id: row.text(T, "master_id")?,
        as_of: row
            .opt_date(T, "as_of")?
            .ok_or_else(|| corrupt("as_of", &"unexpected NULL"))?,
        computed_at: row.stamp(T, "computed_at")?,
        currency: row
            .text(T, "currency")?
            .parse()
            .map_err(|e| corrupt("currency", &e))?,
        value: ValueRank {
            tier: named(row, "tier")?,
            rank: small(row, "revenue_rank")?,
            customers: small(row, "ranked_customers")?,
            revenue: row.decimal(T, "revenue")?,
            revenue_share_pct: row.decimal(T, "revenue_share_pct")?,
            cumulative_share_pct: row.decimal(T, "cumulative_share_pct")?,
            top_20_pct: row.flag(T, "top_20_pct")?,
        },
        lifecycle: Lifecycle {
            stage: named(row, "stage")?,
            orders: small(row, "orders")?,
            order_days: small(row, "order_days")?,
            first_order: row.opt_date(T, "first_order")?,
            last_order: row.opt_date(T, "last_order")?,
            days_since_last_order: row.opt_int(T, "days_since_last_order")?,
            median_gap_days: row.opt_decimal(T, "median_gap_days")?,
            active_periods: small(row, "active_periods")?,
            churn: Churn {
                status: named(row, "churn")?,
                threshold_days: row.opt_decimal(T, "churn_threshold_days")?,
                reason: row.text(T, "churn_reason")?,
            },
        },
        dealer: row.flag(T, "dealer")?,
        channel: serde_json::from_value(row.json(T, "channel")?)
            .map_err(|e| corrupt("channel", &e))?,
    })
}

impl Store {
    /// Replaces every stored insight with `insights`, in one transaction.
    pub async fn replace_insights(&self, insights: &[CustomerInsight]) -> Result<(), StoreError> {
        let insert = format!("INSERT INTO {T} ({COLUMNS}) VALUES {{rows}}");
        on_pool!(self, pool => {
            let mut tx = pool.begin_write().await?;
            sqlx::query("DELETE FROM customer_insights").execute(&mut *tx).await?;
            for chunk in insights.chunks(ROWS) {
                let mut q = sqlx::query(with_rows(&insert, chunk.len(), 0, WIDTH));
                for i in chunk {
                    let (v, l) = (&i.value, &i.lifecycle);
                    q = q
                        .bind(i.master_id.as_str())
                        .bind(i.as_of)
                        .bind(Stamp(i.computed_at))
                        .bind(i.currency.to_string())
                        .bind(v.tier.as_str())
                        .bind(i64::from(v.rank))
                        .bind(i64::from(v.customers))
                        .bind(Dec(v.revenue))
                        .bind(Dec(v.revenue_share_pct))
                        .bind(Dec(v.cumulative_share_pct))
                        .bind(v.top_20_pct)
                        .bind(l.stage.as_str())
                        .bind(i64::from(l.orders))
                        .bind(i64::from(l.order_days))
                        .bind(l.first_order)
                        .bind(l.last_order)
                        .bind(l.days_since_last_order)
                        .bind(l.median_gap_days.map(Dec))
                        .bind(i64::from(l.active_periods))
                        .bind(l.churn.status.as_str())
                        .bind(l.churn.threshold_days.map(Dec))
                        .bind(l.churn.reason.as_str())
                        .bind(i.dealer)
                        .bind(Json(&i.channel));
                }
                q.execute(&mut *tx).await?;
            }
            tx.commit().await?;
            Ok(())
        })
    }

    /// Every stored insight, highest revenue first (then by master ID).
    pub async fn insights(&self) -> Result<Vec<CustomerInsight>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM {T} ORDER BY revenue_rank, master_id");
        on_pool!(self, pool => {
            let rows = sqlx::query(sqlx::AssertSqlSafe(sql)).fetch_all(pool).await?;
            rows.iter().map(decode).collect()
        })
    }

    /// The stored insight of one master, if any.
    pub async fn insight(&self, master_id: &str) -> Result<Option<CustomerInsight>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM {T} WHERE master_id = $1");
        on_pool!(self, pool => {
            let row = sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(master_id)
                .fetch_optional(pool)
                .await?;
            row.as_ref().map(decode).transpose()
        })
    }
}
