//! `${ENV_VAR}` references: the only way a secret enters a configuration file.

use std::sync::LazyLock;

use regex::Regex;

static REFERENCE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}").expect("static regex"));

/// Replaces every `${VAR}` in `value` with the variable's value, looked up by `env`.
/// Returns the name of the first unset variable as the error.
pub fn expand(value: &str, env: impl Fn(&str) -> Option<String>) -> Result<String, String> {
    let mut out = String::with_capacity(value.len());
    let mut last = 0;
    for cap in REFERENCE.captures_iter(value) {
        let whole = cap.get(0).expect("group 0 always matches");
        let name = &cap[1];
        let resolved = env(name).ok_or_else(|| name.to_string())?;
        out.push_str(&value[last..whole.start()]);
        out.push_str(&resolved);
        last = whole.end();
    }
    out.push_str(&value[last..]);
    Ok(out)
}

/// True when the whole value is a single `${VAR}` reference (required for secret fields).
pub fn is_reference(value: &str) -> bool {
    REFERENCE
        .find(value.trim())
        .is_some_and(|m| m.start() == 0 && m.end() == value.trim().len())
}

/// The URL with its password replaced by `***`, for messages and logs.
pub fn redact_url(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("***"));
            u.to_string()
        }
        _ => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(name: &str) -> Option<String> {
        (name == "TOKEN").then(|| "s3cr3t".to_string())
    }

    #[test]
    fn expands_references_and_reports_unset_ones() {
        assert_eq!(expand("Bearer ${TOKEN}!", env).unwrap(), "Bearer s3cr3t!");
        assert_eq!(expand("plain", env).unwrap(), "plain");
        assert_eq!(expand("${TOKEN}${MISSING}", env).unwrap_err(), "MISSING");
    }

    #[test]
    fn recognises_whole_references_only() {
        assert!(is_reference("${TOKEN}"));
        assert!(!is_reference("abc${TOKEN}"));
        assert!(!is_reference("hunter2"));
    }

    #[test]
    fn redacts_the_password_of_a_url_only() {
        assert_eq!(
            redact_url("postgres://app:hunter2@db.example:5432/erp"),
            "postgres://app:***@db.example:5432/erp"
        );
        assert_eq!(redact_url("postgres://app@db/erp"), "postgres://app@db/erp");
        assert_eq!(redact_url("sqlite://data/t.db"), "sqlite://data/t.db");
    }
}
