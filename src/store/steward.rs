//! The data steward's tables: `match_reviews` (pairs the matcher could not decide) and
//! `steward_decisions` (audited actions whose record pairs every later master rebuild obeys).
//!
//! Invariants:
//! - a review is keyed by its ordered pair of records ((source, key) ascending); a rebuild
//!   refreshes the open ones, reopens obsolete ones it finds again, and marks open ones it no
//!   longer finds `obsolete`; approved and rejected reviews are never touched by a rebuild;
//! - a decision row is never deleted: undoing it sets `undone_at`, `undone_by`, `undo_reason`;
//! - probabilities are exact decimals with six places.

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::Serialize;
use serde_json::Value;
use sqlx::types::Json;

use super::sql::{Dec, RowExt, Stamp, WritePool, on_pool};
use super::{Store, StoreError};

const REVIEWS: &str = "match_reviews";
const DECISIONS: &str = "steward_decisions";

/// A source record: (connector, key).
pub type RecordRef = (String, String);

/// Where a review stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ReviewStatus {
    /// Waiting for a steward.
    Open,
    /// The steward said: the same customer.
    Approved,
    /// The steward said: different customers.
    Rejected,
    /// The last rebuild no longer found the pair undecided.
    Obsolete,
}

impl ReviewStatus {
    /// Its stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            ReviewStatus::Open => "open",
            ReviewStatus::Approved => "approved",
            ReviewStatus::Rejected => "rejected",
            ReviewStatus::Obsolete => "obsolete",
        }
    }

    fn parse(s: &str) -> Result<Self, StoreError> {
        Ok(match s {
            "open" => ReviewStatus::Open,
            "approved" => ReviewStatus::Approved,
            "rejected" => ReviewStatus::Rejected,
            "obsolete" => ReviewStatus::Obsolete,
            other => {
                return Err(StoreError::Corrupt {
                    table: REVIEWS,
                    reason: format!("unknown status `{other}`"),
                });
            }
        })
    }
}

/// A pair to review, as a rebuild proposes it.
#[derive(Debug, Clone, PartialEq)]
pub struct ReviewInput {
    /// One record.
    pub left: RecordRef,
    /// The other.
    pub right: RecordRef,
    /// Match probability.
    pub probability: f64,
    /// Why it was not linked automatically.
    pub reason: String,
    /// The explanation (waterfall), as JSON.
    pub explanation: Value,
}

/// A stored review.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Review {
    /// Its number.
    pub id: i64,
    /// One record (the smaller).
    #[schema(value_type = Vec<String>)]
    pub left: RecordRef,
    /// The other.
    #[schema(value_type = Vec<String>)]
    pub right: RecordRef,
    /// Match probability (six decimals).
    pub probability: Decimal,
    /// Why it needs a steward.
    pub reason: String,
    /// How the score came about.
    pub explanation: Value,
    /// Where it stands.
    pub status: ReviewStatus,
    /// First proposed.
    pub created_at: DateTime<Utc>,
    /// Last refreshed or decided.
    pub updated_at: DateTime<Utc>,
}

/// What a rebuild did to the review queue.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct ReviewCounts {
    /// Reviews created.
    pub created: u64,
    /// Open (or reopened) reviews refreshed.
    pub refreshed: u64,
    /// Open reviews no longer proposed.
    pub obsoleted: u64,
    /// Open reviews after the update.
    pub open: u64,
}

/// What a steward did: the action and the record pairs it decided.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Action {
    /// `approve`, `reject`, `force_link`, `force_split`, `merge` or `split`.
    pub action: String,
    /// Must-link (true) or cannot-link (false).
    pub same: bool,
    /// The record pairs decided.
    #[schema(value_type = Vec<Vec<Vec<String>>>)]
    pub pairs: Vec<(RecordRef, RecordRef)>,
    /// The review it answers.
    pub review_id: Option<i64>,
    /// The master(s) it was about, for history.
    pub subject: String,
    /// Who.
    pub actor: String,
    /// Why.
    pub reason: String,
}

/// A recorded steward action.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Decision {
    /// Its number.
    pub id: i64,
    /// What was done.
    #[serde(flatten)]
    pub what: Action,
    /// When.
    pub created_at: DateTime<Utc>,
    /// When it was undone, if it was.
    pub undone_at: Option<DateTime<Utc>>,
    /// Who undid it.
    pub undone_by: Option<String>,
    /// Why it was undone.
    pub undo_reason: Option<String>,
}

/// The pair in stored order (smaller record first).
pub fn ordered(a: RecordRef, b: RecordRef) -> (RecordRef, RecordRef) {
    if a <= b { (a, b) } else { (b, a) }
}

fn probability(p: f64) -> Decimal {
    Decimal::from_f64_retain(p.clamp(0.0, 1.0))
        .unwrap_or_default()
        .round_dp(6)
}

fn decode_review(row: &impl RowExt) -> Result<Review, StoreError> {
    Ok(Review {
        id: row.int(REVIEWS, "id")?,
        left: (
            row.text(REVIEWS, "left_source")?,
            row.text(REVIEWS, "left_key")?,
        ),
        right: (
            row.text(REVIEWS, "right_source")?,
            row.text(REVIEWS, "right_key")?,
        ),
        probability: row.decimal(REVIEWS, "probability")?,
        reason: row.text(REVIEWS, "reason")?,
        explanation: row.json(REVIEWS, "explanation")?,
        status: ReviewStatus::parse(&row.text(REVIEWS, "status")?)?,
        created_at: row.stamp(REVIEWS, "created_at")?,
        updated_at: row.stamp(REVIEWS, "updated_at")?,
    })
}

fn decode_decision(row: &impl RowExt) -> Result<Decision, StoreError> {
    let pairs =
        serde_json::from_value(row.json(DECISIONS, "pairs")?).map_err(|e| StoreError::Corrupt {
            table: DECISIONS,
            reason: format!("pairs: {e}"),
        })?;
    Ok(Decision {
        id: row.int(DECISIONS, "id")?,
        what: Action {
            action: row.text(DECISIONS, "action")?,
            same: row.flag(DECISIONS, "same")?,
            pairs,
            review_id: row.opt_int(DECISIONS, "review_id")?,
            subject: row.text(DECISIONS, "subject")?,
            actor: row.text(DECISIONS, "actor")?,
            reason: row.text(DECISIONS, "reason")?,
        },
        created_at: row.stamp(DECISIONS, "created_at")?,
        undone_at: row.opt_stamp(DECISIONS, "undone_at")?,
        undone_by: row.opt_text(DECISIONS, "undone_by")?,
        undo_reason: row.opt_text(DECISIONS, "undo_reason")?,
    })
}

const REVIEW_COLUMNS: &str = "id, left_source, left_key, right_source, right_key, probability, \
     reason, explanation, status, created_at, updated_at";
const DECISION_COLUMNS: &str = "id, action, same, pairs, review_id, subject, actor, reason, \
     created_at, undone_at, undone_by, undo_reason";

impl Store {
    /// Brings the review queue in line with what a rebuild proposes (see the module doc).
    /// With a `scope` (an incremental rebuild: the records it clustered again), only open
    /// reviews touching a record of the scope and not proposed again become obsolete; the
    /// others stand.
    pub async fn save_reviews(
        &self,
        proposed: &[ReviewInput],
        scope: Option<&std::collections::HashSet<(String, String)>>,
        now: DateTime<Utc>,
    ) -> Result<ReviewCounts, StoreError> {
        let select = format!("SELECT {REVIEW_COLUMNS} FROM {REVIEWS}");
        on_pool!(self, pool => {
            let mut tx = pool.begin_write().await?;
            let rows = sqlx::query(sqlx::AssertSqlSafe(select.clone())).fetch_all(&mut *tx).await?;
            let existing: Vec<Review> = rows.iter().map(decode_review).collect::<Result<_, _>>()?;
            let mut counts = ReviewCounts::default();
            let mut seen = std::collections::HashSet::new();
            for p in proposed {
                let (left, right) = ordered(p.left.clone(), p.right.clone());
                seen.insert((left.clone(), right.clone()));
                match existing.iter().find(|r| r.left == left && r.right == right) {
                    Some(r) if matches!(r.status, ReviewStatus::Approved | ReviewStatus::Rejected) => {}
                    Some(r) => {
                        sqlx::query(
                            "UPDATE match_reviews SET probability = $2, reason = $3, \
                             explanation = $4, status = 'open', updated_at = $5 WHERE id = $1",
                        )
                        .bind(r.id)
                        .bind(Dec(probability(p.probability)))
                        .bind(p.reason.as_str())
                        .bind(Json(&p.explanation))
                        .bind(Stamp(now))
                        .execute(&mut *tx)
                        .await?;
                        counts.refreshed += 1;
                    }
                    None => {
                        sqlx::query(
                            "INSERT INTO match_reviews (left_source, left_key, right_source, \
                             right_key, probability, reason, explanation, status, created_at, \
                             updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, 'open', $8, $8)",
                        )
                        .bind(left.0.as_str())
                        .bind(left.1.as_str())
                        .bind(right.0.as_str())
                        .bind(right.1.as_str())
                        .bind(Dec(probability(p.probability)))
                        .bind(p.reason.as_str())
                        .bind(Json(&p.explanation))
                        .bind(Stamp(now))
                        .execute(&mut *tx)
                        .await?;
                        counts.created += 1;
                    }
                }
            }
            let in_scope =
                |r: &Review| scope.is_none_or(|s| s.contains(&r.left) || s.contains(&r.right));
            for r in existing.iter().filter(|r| r.status == ReviewStatus::Open) {
                if !seen.contains(&(r.left.clone(), r.right.clone())) && in_scope(r) {
                    sqlx::query(
                        "UPDATE match_reviews SET status = 'obsolete', updated_at = $2 WHERE id = $1",
                    )
                    .bind(r.id)
                    .bind(Stamp(now))
                    .execute(&mut *tx)
                    .await?;
                    counts.obsoleted += 1;
                }
            }
            let open: i64 =
                sqlx::query_scalar("SELECT COUNT(*) FROM match_reviews WHERE status = 'open'")
                    .fetch_one(&mut *tx)
                    .await?;
            counts.open = open.max(0) as u64;
            tx.commit().await?;
            Ok(counts)
        })
    }

    /// Reviews with `status` (all when `None`), most probable first.
    pub async fn reviews(&self, status: Option<ReviewStatus>) -> Result<Vec<Review>, StoreError> {
        let sql = format!(
            "SELECT {REVIEW_COLUMNS} FROM {REVIEWS} WHERE ($1 = '' OR status = $1) \
             ORDER BY probability DESC, id"
        );
        on_pool!(self, pool => {
            let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(status.map_or("", ReviewStatus::as_str))
                .fetch_all(pool)
                .await?;
            rows.iter().map(decode_review).collect()
        })
    }

    /// One review.
    pub async fn review(&self, id: i64) -> Result<Option<Review>, StoreError> {
        let sql = format!("SELECT {REVIEW_COLUMNS} FROM {REVIEWS} WHERE id = $1");
        on_pool!(self, pool => {
            let row = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(id).fetch_optional(pool).await?;
            row.as_ref().map(decode_review).transpose()
        })
    }

    /// Records a steward action, and closes the review it answers, in one transaction.
    pub async fn add_decision(&self, d: &Action, now: DateTime<Utc>) -> Result<i64, StoreError> {
        let pairs: Vec<(RecordRef, RecordRef)> = d
            .pairs
            .iter()
            .map(|(a, b)| ordered(a.clone(), b.clone()))
            .collect();
        on_pool!(self, pool => {
            let mut tx = pool.begin_write().await?;
            let row = sqlx::query(
                "INSERT INTO steward_decisions (action, same, pairs, review_id, subject, actor, \
                 reason, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
            )
            .bind(d.action.as_str())
            .bind(d.same)
            .bind(Json(&pairs))
            .bind(d.review_id)
            .bind(d.subject.as_str())
            .bind(d.actor.as_str())
            .bind(d.reason.as_str())
            .bind(Stamp(now))
            .fetch_one(&mut *tx)
            .await?;
            let id = row.int(DECISIONS, "id")?;
            if let Some(review) = d.review_id {
                let status = if d.same { "approved" } else { "rejected" };
                sqlx::query("UPDATE match_reviews SET status = $2, updated_at = $3 WHERE id = $1")
                    .bind(review)
                    .bind(status)
                    .bind(Stamp(now))
                    .execute(&mut *tx)
                    .await?;
            }
            tx.commit().await?;
            Ok(id)
        })
    }

    /// Every steward action, oldest first.
    pub async fn decisions(&self) -> Result<Vec<Decision>, StoreError> {
        let sql = format!("SELECT {DECISION_COLUMNS} FROM {DECISIONS} ORDER BY id");
        on_pool!(self, pool => {
            let rows = sqlx::query(sqlx::AssertSqlSafe(sql)).fetch_all(pool).await?;
            rows.iter().map(decode_decision).collect()
        })
    }

    /// Undoes an action: it stops constraining the master, and the review it answered opens
    /// again. False when there is no such action or it was already undone.
    pub async fn undo_decision(
        &self,
        id: i64,
        actor: &str,
        reason: &str,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        on_pool!(self, pool => {
            let mut tx = pool.begin_write().await?;
            let done = sqlx::query(
                "UPDATE steward_decisions SET undone_at = $2, undone_by = $3, undo_reason = $4 \
                 WHERE id = $1 AND undone_at IS NULL",
            )
            .bind(id)
            .bind(Stamp(now))
            .bind(actor)
            .bind(reason)
            .execute(&mut *tx)
            .await?
            .rows_affected()
                == 1;
            if done {
                sqlx::query(
                    "UPDATE match_reviews SET status = 'open', updated_at = $2 \
                     WHERE id = (SELECT review_id FROM steward_decisions WHERE id = $1)",
                )
                .bind(id)
                .bind(Stamp(now))
                .execute(&mut *tx)
                .await?;
            }
            tx.commit().await?;
            Ok(done)
        })
    }
}
