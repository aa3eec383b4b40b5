//! Conversion to the base currency.
//!
//! Each amount is converted on its own and rounded to cents (half away from zero) before it is
//! added to anything, so a figure can be re-computed by hand from the documents.

use std::collections::HashMap;

use rust_decimal::{Decimal, RoundingStrategy};

use super::ExposureError;
use crate::model::Currency;

/// FX rates to the base currency: 1 unit of a currency = `rate` units of base.
#[derive(Debug, Clone, PartialEq)]
pub struct FxTable {
    /// The base currency.
    pub base: Currency,
    /// Rates per currency (the base itself is implicit 1).
    pub rates: HashMap<Currency, Decimal>,
}

/// Rounds to cents, half away from zero.
pub fn to_cents(amount: Decimal) -> Decimal {
    amount.round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero)
}

impl FxTable {
    /// Converts an amount to the base currency, rounded to cents (half away from zero).
    ///
    /// The base currency converts at 1 (a rate listed for it is ignored). A currency without
    /// a rate is [`ExposureError::MissingRate`]; a product too large for a decimal is
    /// [`ExposureError::Overflow`].
    pub fn to_base(&self, amount: Decimal, currency: Currency) -> Result<Decimal, ExposureError> {
        let rate = if currency == self.base {
            Decimal::ONE
        } else {
            *self
                .rates
                .get(&currency)
                .ok_or(ExposureError::MissingRate {
                    from: currency,
                    base: self.base,
                })?
        };
        amount
            .checked_mul(rate)
            .map(to_cents)
            .ok_or_else(|| ExposureError::Overflow {
                what: format!("{amount} {currency} × {rate}"),
            })
    }
}
