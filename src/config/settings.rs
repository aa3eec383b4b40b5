//! `config/tributary.toml`: store, currencies, reconciliation, exposure and insight settings.

use std::collections::BTreeMap;

use rust_decimal::Decimal;
use serde::{Deserialize, Deserializer};

pub use crate::insight::InsightSettings;
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
    /// What is derived about each customer after a sync (lifecycle, churn, channel).
    #[serde(default)]
    pub insights: InsightSettings,
    /// `tributary serve`: address, API tokens, logs.
    #[serde(default)]
    pub server: ServerSettings,
    /// The schedules run by `tributary serve`.
    #[serde(default)]
    pub scheduler: SchedulerSettings,
}

/// `[server]`
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerSettings {
    /// Address the daemon listens on.
    #[serde(default = "default_bind")]
    pub bind: String,
    /// Seconds an API request may take before it is answered 503.
    #[serde(default = "default_request_timeout")]
    pub request_timeout_seconds: u64,
    /// Bearer tokens of the API, each with a role.
    #[serde(default)]
    pub tokens: Vec<ApiToken>,
}

impl Default for ServerSettings {
    fn default() -> Self {
        ServerSettings {
            bind: default_bind(),
            request_timeout_seconds: default_request_timeout(),
            tokens: Vec::new(),
        }
    }
}

/// `[scheduler]`: defaults for the connectors' `schedule` and `full_schedule`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SchedulerSettings {
    /// Time zone of every connector schedule that names none (IANA name, default `UTC`).
    #[serde(
        default = "default_timezone",
        deserialize_with = "crate::support::cron::timezone"
    )]
    pub timezone: chrono_tz::Tz,
    /// How many connectors may run at once (default 2, at least 1).
    #[serde(default = "default_max_concurrent_runs")]
    pub max_concurrent_runs: usize,
}

impl Default for SchedulerSettings {
    fn default() -> Self {
        SchedulerSettings {
            timezone: default_timezone(),
            max_concurrent_runs: default_max_concurrent_runs(),
        }
    }
}

fn default_timezone() -> chrono_tz::Tz {
    chrono_tz::Tz::UTC
}

fn default_max_concurrent_runs() -> usize {
    2
}

fn default_bind() -> String {
    "127.0.0.1:8080".into()
}

fn default_request_timeout() -> u64 {
    30
}

/// `[[server.tokens]]`: one API bearer token.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApiToken {
    /// Who holds it (shown in logs and steward audit entries; never the token itself).
    pub name: String,
    /// The token, only as `${ENV_VAR}`. After loading: the variable's value, or `None` when the
    /// variable is unset (the token is then disabled and `serve` says so).
    #[serde(deserialize_with = "token_reference")]
    pub token: Option<String>,
    /// What it may do.
    pub role: Role,
}

/// What an API token may do; each role includes the ones before it.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize, serde::Serialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Read customers and credit exposure.
    Finance,
    /// Also answer review tasks and merge, split and link masters.
    Steward,
    /// Also trigger runs, replay quarantined records and read the configuration.
    Admin,
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Role::Finance => "finance",
            Role::Steward => "steward",
            Role::Admin => "admin",
        })
    }
}

fn token_reference<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    let raw = String::deserialize(d)?;
    if !crate::support::secrets::is_reference(&raw) {
        return Err(serde::de::Error::custom(
            "a token is a secret: write it as \"${ENV_VAR}\" and set the variable",
        ));
    }
    Ok(Some(raw))
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
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReconcileSettings {
    /// Connector names, most trusted first, for golden-record survivorship.
    #[serde(default)]
    pub source_priority: Vec<String>,
    /// How long a master rebuild or a steward's action waits for another holder of the master
    /// lock before it gives up (seconds).
    #[serde(default = "default_lock_wait")]
    pub lock_wait_secs: u64,
    /// Probabilistic matching: thresholds, blocking rules, comparisons.
    #[serde(default)]
    pub matching: crate::reconcile::matching::MatchSettings,
}

impl Default for ReconcileSettings {
    fn default() -> Self {
        ReconcileSettings {
            source_priority: Vec::new(),
            lock_wait_secs: default_lock_wait(),
            matching: Default::default(),
        }
    }
}

fn default_lock_wait() -> u64 {
    900
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
