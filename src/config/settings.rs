//! `config/tributary.toml`: store, currencies, reconciliation and exposure settings.

use std::collections::BTreeMap;

use rust_decimal::Decimal;
use serde::{Deserialize, Deserializer};

use crate::model::Currency;

/// The whole settings file. Every key may be overridden by an environment variable
/// `TRIBUTARY__<SECTION>__<KEY>`, e.g. `TRIBUTARY__STORE__URL`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// Where data is kept.
    #[serde(default)]
    pub store: StoreSettings,
    /// Base currency and FX rates.
    pub currency: CurrencySettings,
    /// Reconciliation.
    #[serde(default)]
    pub reconcile: ReconcileSettings,
    /// Credit exposure.
    #[serde(default)]
    pub exposure: ExposureSettings,
}

/// `[store]`
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoreSettings {
    /// `sqlite://data/tributary.db` (default, relative to the project root) or `postgres://…`.
    #[serde(default = "default_store_url")]
    pub url: String,
}

impl Default for StoreSettings {
    fn default() -> Self {
        StoreSettings {
            url: default_store_url(),
        }
    }
}

fn default_store_url() -> String {
    "sqlite://data/tributary.db".into()
}

/// `[currency]`
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CurrencySettings {
    /// Currency every report is in.
    pub base: Currency,
    /// 1 unit of the key currency = value units of base. Write rates as strings so they stay
    /// exact (`USD = "7.10"`).
    #[serde(default, deserialize_with = "exact_rates")]
    pub rates: BTreeMap<Currency, Decimal>,
}

/// `[reconcile]`
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReconcileSettings {
    /// Connector names, most trusted first, for golden-record survivorship.
    #[serde(default)]
    pub source_priority: Vec<String>,
    /// Probabilistic matching: thresholds, blocking rules, comparisons.
    #[serde(default)]
    pub matching: crate::reconcile::matching::MatchSettings,
}

/// `[exposure]`
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExposureSettings {
    /// A source whose last successful sync is older than this is marked stale.
    #[serde(default = "default_stale_hours")]
    pub stale_after_hours: u64,
}

impl Default for ExposureSettings {
    fn default() -> Self {
        ExposureSettings {
            stale_after_hours: default_stale_hours(),
        }
    }
}

fn default_stale_hours() -> u64 {
    36
}

/// Reads FX rates as exact decimals: strings or integers, never floats.
fn exact_rates<'de, D: Deserializer<'de>>(d: D) -> Result<BTreeMap<Currency, Decimal>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Rate {
        Text(String),
        Whole(i64),
        Float(f64),
    }
    let raw = BTreeMap::<String, Rate>::deserialize(d)?;
    let mut rates = BTreeMap::new();
    for (code, rate) in raw {
        let currency: Currency = code.parse().map_err(serde::de::Error::custom)?;
        let value = match rate {
            Rate::Text(s) => s.trim().parse::<Decimal>().map_err(|e| {
                serde::de::Error::custom(format!(
                    "rate for {currency}: `{s}` is not a decimal ({e})"
                ))
            })?,
            Rate::Whole(n) => Decimal::from(n),
            Rate::Float(f) => {
                return Err(serde::de::Error::custom(format!(
                    "rate for {currency} is a float ({f}); write it as a string, e.g. \"{f}\", so it stays exact"
                )));
            }
        };
        if value <= Decimal::ZERO {
            return Err(serde::de::Error::custom(format!(
                "rate for {currency} must be positive"
            )));
        }
        rates.insert(currency, value);
    }
    Ok(rates)
}
