//! `[insights]` of `config/tributary.toml`: the insight engine's own settings.

use rust_decimal::Decimal;
use serde::{Deserialize, Deserializer};

/// `[insights]`: the thresholds of the lifecycle ladder, the churn warning and the channel
/// window. Multiples are exact decimals (`2`, `2.5` or `"2.5"`).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InsightSettings {
    /// Length of one loyalty period in days.
    #[serde(default = "default_period_days")]
    pub period_days: u32,
    /// How many periods, counted back from the as-of date, the loyalty test looks at.
    #[serde(default = "default_loyal_periods")]
    pub loyal_periods: u32,
    /// In how many of those periods a loyal customer has ordered.
    #[serde(default = "default_loyal_min_periods")]
    pub loyal_min_periods: u32,
    /// Lapsed when the days since the last order exceed this many median gaps.
    #[serde(
        default = "default_lapsed_multiple",
        deserialize_with = "exact_multiple"
    )]
    pub lapsed_multiple: Decimal,
    /// Lapsed, for a customer without a gap history (one order day), after this many days.
    #[serde(default = "default_lapsed_days")]
    pub lapsed_days_without_history: u32,
    /// Churn warning when the days since the last order exceed this many median gaps.
    #[serde(
        default = "default_churn_multiple",
        deserialize_with = "exact_multiple"
    )]
    pub churn_multiple: Decimal,
    /// Sell-through window (days) of the channel inventory shown for dealers.
    #[serde(default = "default_channel_days")]
    pub channel_days: u32,
}

impl Default for InsightSettings {
    fn default() -> Self {
        InsightSettings {
            period_days: default_period_days(),
            loyal_periods: default_loyal_periods(),
            loyal_min_periods: default_loyal_min_periods(),
            lapsed_multiple: default_lapsed_multiple(),
            lapsed_days_without_history: default_lapsed_days(),
            churn_multiple: default_churn_multiple(),
            channel_days: default_channel_days(),
        }
    }
}

impl InsightSettings {
    /// The first key whose value cannot work, with the reason.
    pub fn invalid(&self) -> Option<(&'static str, String)> {
        let zero = [
            ("period_days", self.period_days),
            ("loyal_periods", self.loyal_periods),
            ("loyal_min_periods", self.loyal_min_periods),
            ("channel_days", self.channel_days),
        ];
        if let Some((key, _)) = zero.iter().find(|(_, v)| *v == 0) {
            return Some((key, "must be at least 1".into()));
        }
        if self.loyal_min_periods > self.loyal_periods {
            return Some((
                "loyal_min_periods",
                format!(
                    "{} is more than loyal_periods ({})",
                    self.loyal_min_periods, self.loyal_periods
                ),
            ));
        }
        None
    }
}

fn default_period_days() -> u32 {
    30
}
fn default_loyal_periods() -> u32 {
    3
}
fn default_loyal_min_periods() -> u32 {
    3
}
fn default_lapsed_multiple() -> Decimal {
    Decimal::from(3)
}
fn default_lapsed_days() -> u32 {
    180
}
fn default_churn_multiple() -> Decimal {
    Decimal::from(2)
}
fn default_channel_days() -> u32 {
    28
}

/// Reads a positive multiple as an exact decimal: a string, an integer or a float (a float is
/// taken by its shortest text, so `2.5` is exactly 2.5).
fn exact_multiple<'de, D: Deserializer<'de>>(d: D) -> Result<Decimal, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Multiple {
        Text(String),
        Whole(i64),
        Float(f64),
    }
    let text = match Multiple::deserialize(d)? {
        Multiple::Text(s) => s.trim().to_string(),
        Multiple::Whole(n) => n.to_string(),
        Multiple::Float(f) => f.to_string(),
    };
    let value: Decimal = text
        .parse()
        .map_err(|e| serde::de::Error::custom(format!("`{text}` is not a decimal ({e})")))?;
    if value <= Decimal::ZERO {
        return Err(serde::de::Error::custom(format!(
            "the multiple must be positive, not {value}"
        )));
    }
    Ok(value)
}
