//! E-mail addresses.

use std::collections::HashSet;
use std::sync::LazyLock;

use super::to_half_width;

/// Free mail providers (`data/free_mail_domains.txt`).
static FREE_MAIL: LazyLock<HashSet<&'static str>> = LazyLock::new(|| {
    include_str!("data/free_mail_domains.txt")
        .lines()
        .map(|l| l.split('#').next().unwrap_or_default().trim())
        .filter(|l| !l.is_empty())
        .collect()
});

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

/// True when `domain` (lower-case) is a free mail provider's (qq.com, 163.com, gmail.com …)
/// or one of its subdomains: mail there says nothing about which company writes it.
pub fn is_free_mail(domain: &str) -> bool {
    FREE_MAIL.contains(domain)
        || registrable_domain(domain).is_some_and(|d| FREE_MAIL.contains(d.as_str()))
}

/// The registrable domain of a host name by the Public Suffix List (`mail.acme.com.cn` →
/// `acme.com.cn`); `None` for a bare suffix or an IP address.
pub fn registrable_domain(host: &str) -> Option<String> {
    let host = host.trim().trim_end_matches('.').to_lowercase();
    if host.parse::<std::net::IpAddr>().is_ok() {
        return None;
    }
    let domain = psl::domain(host.as_bytes())?;
    let known = domain.suffix().is_known();
    std::str::from_utf8(domain.as_bytes())
        .ok()
        .filter(|d| known && d.contains('.'))
        .map(String::from)
}

/// The registrable domain of a website as sources write it (`https://www.acme.com/en`,
/// `www.acme.com.cn`, `acme.com`).
pub fn website_domain(raw: &str) -> Option<String> {
    let s = to_half_width(raw).trim().to_lowercase();
    let s = s.split_once("://").map_or(s.as_str(), |(_, rest)| rest);
    let host = s.split(['/', '?', '#']).next().unwrap_or_default();
    let host = host.rsplit_once('@').map_or(host, |(_, h)| h);
    let host = host.split(':').next().unwrap_or_default();
    if host.is_empty() || host.contains(char::is_whitespace) {
        return None;
    }
    registrable_domain(host)
}

/// The company domains a customer's e-mail and website name: their registrable domains,
/// free mail providers left out, sorted and space-separated; `None` when there are none.
pub fn corporate_domains(email: Option<&str>, website: Option<&str>) -> Option<String> {
    let mut out: Vec<String> = email
        .and_then(email_domain)
        .and_then(registrable_domain)
        .into_iter()
        .chain(website.and_then(website_domain))
        // Registrable already: the list alone says (its subdomain entries reduce to these).
        .filter(|d| !FREE_MAIL.contains(d.as_str()))
        .collect();
    out.sort();
    out.dedup();
    (!out.is_empty()).then(|| out.join(" "))
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

    #[test]
    fn company_domains_leave_free_mail_out() {
        for (email, website, expected) in [
            (Some("ap@c010.example.cn"), None, Some("example.cn")),
            (Some("ap@acme.com.cn"), None, Some("acme.com.cn")),
            (Some("finance@mail.acme.com.cn"), None, Some("acme.com.cn")),
            (Some("zhang@qq.com"), None, None),
            (Some("zhang@vip.163.com"), None, None),
            (
                Some("ann@gmail.com"),
                Some("https://www.acme.de/en/"),
                Some("acme.de"),
            ),
            (None, Some("www.acme.co.uk"), Some("acme.co.uk")),
            (None, Some("acme.com"), Some("acme.com")),
            (None, Some("HTTP://WWW.ACME.COM:8080"), Some("acme.com")),
            (
                Some("a@acme.com"),
                Some("http://acme.com"),
                Some("acme.com"),
            ),
            (
                Some("a@acme.com"),
                Some("http://acme-group.cn"),
                Some("acme-group.cn acme.com"),
            ),
            (None, Some("http://192.168.1.10/shop"), None),
            (None, Some("not a site"), None),
            (None, Some("com.cn"), None),
            (None, None, None),
        ] {
            assert_eq!(
                corporate_domains(email, website).as_deref(),
                expected,
                "{email:?} {website:?}"
            );
        }
        assert!(is_free_mail("qq.com") && is_free_mail("outlook.com") && is_free_mail("126.com"));
        assert!(!is_free_mail("acme.com"));
    }
}
