//! Aging buckets of open receivables by days past due.

use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::Serialize;

use super::ExposureError;

/// Receivables by days past due.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Aging {
    /// Not yet due.
    #[serde(with = "rust_decimal::serde::str")]
    pub not_due: Decimal,
    /// 1–30 days overdue.
    #[serde(with = "rust_decimal::serde::str")]
    pub d1_30: Decimal,
    /// 31–60 days overdue.
    #[serde(with = "rust_decimal::serde::str")]
    pub d31_60: Decimal,
    /// 61–90 days overdue.
    #[serde(with = "rust_decimal::serde::str")]
    pub d61_90: Decimal,
    /// More than 90 days overdue.
    #[serde(with = "rust_decimal::serde::str")]
    pub over_90: Decimal,
}

/// One aging bucket.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Bucket {
    /// Due today or later.
    NotDue,
    /// 1–30 days past due.
    D1To30,
    /// 31–60 days past due.
    D31To60,
    /// 61–90 days past due.
    D61To90,
    /// More than 90 days past due.
    Over90,
}

/// Days `today` is past `due` (zero or negative = not yet overdue).
pub fn days_past_due(due: NaiveDate, today: NaiveDate) -> i64 {
    (today - due).num_days()
}

/// The bucket of an item due on `due`, as of `today`. An item due today is not yet due.
pub fn bucket(due: NaiveDate, today: NaiveDate) -> Bucket {
    match days_past_due(due, today) {
        i64::MIN..=0 => Bucket::NotDue,
        1..=30 => Bucket::D1To30,
        31..=60 => Bucket::D31To60,
        61..=90 => Bucket::D61To90,
        _ => Bucket::Over90,
    }
}

impl Aging {
    /// Adds an amount (negative for credit notes) to the bucket of its due date.
    pub fn add(
        &mut self,
        due: NaiveDate,
        today: NaiveDate,
        amount: Decimal,
    ) -> Result<(), ExposureError> {
        let slot = match bucket(due, today) {
            Bucket::NotDue => &mut self.not_due,
            Bucket::D1To30 => &mut self.d1_30,
            Bucket::D31To60 => &mut self.d31_60,
            Bucket::D61To90 => &mut self.d61_90,
            Bucket::Over90 => &mut self.over_90,
        };
        *slot = slot
            .checked_add(amount)
            .ok_or_else(|| ExposureError::Overflow {
                what: "aging bucket".to_string(),
            })?;
        Ok(())
    }
}
