//! E-mail addresses.

use super::to_half_width;

/// Characters that never stand in an address we accept (besides whitespace and controls).
const FORBIDDEN: &[char] = &['<', '>', '(', ')', '[', ']', ',', ';', ':', '"', '\\'];

/// The matching form of an e-mail address: trimmed, half-width, lower-case, without a
/// `mailto:` prefix (or its `?query`), a display name around `<address>` or a trailing dot
/// on the domain. With `strip_plus_tags`, a `+tag` is removed from the local part
/// (`ann+crm@x.com` → `ann@x.com`), unless nothing would precede it.
///
/// `None` unless it has the basic shape: exactly one `@`, a non-empty local part and a
/// domain of at least two non-empty dot-separated labels, no whitespace, no `..`.
pub fn normalize_email(raw: &str, strip_plus_tags: bool) -> Option<String> {
    let lower = to_half_width(raw).trim().to_lowercase();
    let mut s = lower.as_str();
    if let Some(rest) = s.strip_prefix("mailto:") {
        s = rest.split('?').next().unwrap_or_default().trim();
    }
    if let Some((_, inner)) = s.strip_suffix('>').and_then(|r| r.rsplit_once('<')) {
        s = inner.trim();
    }
    let (local, domain) = s.split_once('@')?;
    let domain = domain.strip_suffix('.').unwrap_or(domain);
    let bad = |c: char| c.is_whitespace() || c.is_control() || c == '@' || FORBIDDEN.contains(&c);
    let shape_ok = !local.is_empty()
        && !local.chars().chain(domain.chars()).any(bad)
        && domain.contains('.')
        && domain.split('.').all(|label| !label.is_empty())
        && !local.starts_with('.')
        && !local.ends_with('.')
        && !local.contains("..");
    if !shape_ok {
        return None;
    }
    let local = match local.split_once('+') {
        Some((base, _)) if strip_plus_tags && !base.is_empty() => base,
        _ => local,
    };
    Some(format!("{local}@{domain}"))
}

/// The domain of a normalised e-mail address (the part after its `@`); `None` when there is
/// no `@` or nothing after it.
pub fn email_domain(email: &str) -> Option<&str> {
    email
        .split_once('@')
        .map(|(_, domain)| domain)
        .filter(|d| !d.is_empty() && !d.contains('@'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_trimmed_lowered_and_checked() {
        for (input, strip, expected) in [
            ("  Ann.Lee@Example.COM ", false, Some("ann.lee@example.com")),
            ("MAILTO:ann@example.com", false, Some("ann@example.com")),
            (
                "mailto:ann@example.com?subject=Hi",
                false,
                Some("ann@example.com"),
            ),
            ("<ann@example.com>", false, Some("ann@example.com")),
            (
                "ａｎｎ＠ｅｘａｍｐｌｅ．ｃｏｍ",
                false,
                Some("ann@example.com"),
            ),
            ("ann@example.com.", false, Some("ann@example.com")),
            ("ann+crm@example.com", false, Some("ann+crm@example.com")),
            ("Ann+CRM@example.com", true, Some("ann@example.com")),
            ("ann+a+b@example.com", true, Some("ann@example.com")),
            ("+crm@example.com", true, Some("+crm@example.com")),
            ("张三@例子.中国", false, Some("张三@例子.中国")),
            ("ann@example", false, None),
            ("ann@@example.com", false, None),
            ("ann@x@example.com", false, None),
            ("@example.com", false, None),
            ("ann@", false, None),
            ("ann@.com", false, None),
            ("ann@example..com", false, None),
            ("ann lee@example.com", false, None),
            ("ann..lee@example.com", false, None),
            ("ann.example.com", false, None),
            ("Ann Lee <Ann@Example.com>", false, Some("ann@example.com")),
            ("Ann <ann@example.com", false, None),
            ("", false, None),
        ] {
            assert_eq!(
                normalize_email(input, strip).as_deref(),
                expected,
                "{input:?} strip={strip}"
            );
        }
    }

    #[test]
    fn email_domain_is_the_part_after_the_at() {
        for (input, expected) in [
            ("ann@example.com", Some("example.com")),
            ("ann@mail.example.co.uk", Some("mail.example.co.uk")),
            ("ann@", None),
            ("example.com", None),
            ("", None),
        ] {
            assert_eq!(email_domain(input), expected, "{input:?}");
        }
        let n = normalize_email("Ann+x@Example.com", true).unwrap_or_default();
        assert_eq!(email_domain(&n), Some("example.com"));
    }
}
