//! The user's query: checking it is one plain read, and wrapping it for keyset pagination.
//!
//! The check is deliberately simple — a scan that skips string literals, quoted identifiers
//! and comments — and is a guard against mistakes, not a security boundary: the connector
//! also reads inside a `READ ONLY` transaction on a read-only session.
//!
//! The wrapped query reads one page after a position in the total order
//! `(cursor NULLS FIRST, key)`:
//!
//! ```sql
//! SELECT * FROM (<query>) AS q
//! WHERE q.cursor > $1 OR (q.cursor = $1 AND q.key > $2)
//! ORDER BY q.cursor, q.key LIMIT <batch_size>
//! ```

/// The two supported database families.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Dialect {
    /// PostgreSQL: `$1` placeholders, `"ident"`, `NULLS FIRST` spelled out.
    Postgres,
    /// MariaDB and MySQL: `?` placeholders, `` `ident` ``, NULLs sort first already.
    MySql,
}

impl Dialect {
    /// The dialect of a URL's scheme.
    pub(super) fn of_url(url: &str) -> Option<Dialect> {
        let scheme = url.split_once("://")?.0.to_ascii_lowercase();
        match scheme.as_str() {
            "postgres" | "postgresql" => Some(Dialect::Postgres),
            "mysql" | "mariadb" => Some(Dialect::MySql),
            _ => None,
        }
    }

    /// A quoted identifier.
    pub(super) fn quote(self, ident: &str) -> String {
        match self {
            Dialect::Postgres => format!("\"{}\"", ident.replace('"', "\"\"")),
            Dialect::MySql => format!("`{}`", ident.replace('`', "``")),
        }
    }
}

/// Where the next page starts, in the order `(cursor NULLS FIRST, key)`.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Bound {
    /// From the very beginning (rows with a NULL cursor first).
    Start,
    /// Among the rows with a NULL cursor, after this key; then every non-NULL cursor.
    NullAfter,
    /// After `(cursor, key)`.
    After,
    /// Every row whose cursor is at or after the value (a look-back restart).
    From,
}

/// Builds the page query for a position; the caller binds, in order, the values named by
/// [`binds`]. `cursor` and `key` are column names as the database reports them.
pub(super) fn page_sql(
    dialect: Dialect,
    query: &str,
    cursor: &str,
    key: &str,
    bound: &Bound,
    limit: usize,
) -> String {
    let c = format!("q.{}", dialect.quote(cursor));
    let k = format!("q.{}", dialect.quote(key));
    let (p1, p2) = match dialect {
        Dialect::Postgres => ("$1", "$2"),
        Dialect::MySql => ("?", "?"),
    };
    let filter = match bound {
        Bound::Start => String::new(),
        Bound::NullAfter => format!(" WHERE ({c} IS NULL AND {k} > {p1}) OR {c} IS NOT NULL"),
        Bound::After => format!(" WHERE {c} > {p1} OR ({c} = {p1} AND {k} > {p2})"),
        Bound::From => format!(" WHERE {c} >= {p1}"),
    };
    let nulls = match dialect {
        Dialect::Postgres => " NULLS FIRST",
        Dialect::MySql => "",
    };
    format!(
        "SELECT * FROM ({}) AS q{filter} ORDER BY {c} ASC{nulls}, {k} ASC LIMIT {limit}",
        query.trim()
    )
}

/// Which values a page query binds, in order: `C` the cursor value, `K` the key value.
pub(super) fn binds(dialect: Dialect, bound: &Bound) -> &'static [char] {
    match (bound, dialect) {
        (Bound::Start, _) => &[],
        (Bound::NullAfter, _) => &['K'],
        (Bound::After, Dialect::Postgres) => &['C', 'K'],
        (Bound::After, Dialect::MySql) => &['C', 'C', 'K'],
        (Bound::From, _) => &['C'],
    }
}

/// The query that only describes the result columns.
pub(super) fn describe_sql(query: &str) -> String {
    format!("SELECT * FROM ({}) AS q", query.trim())
}

/// Checks that `query` is one `SELECT` or `WITH` statement without a top-level `ORDER BY`,
/// `LIMIT`, `OFFSET`, `FETCH`, `FOR` (locking) or `INTO`; returns the query without a
/// trailing `;`.
pub(super) fn check_query(query: &str) -> Result<String, String> {
    let mut text = query.trim();
    if let Some(stripped) = text.strip_suffix(';') {
        text = stripped.trim_end();
    }
    let words = scan(text)?;
    match words.first() {
        None => return Err("the query is empty".into()),
        Some((w, _)) if w == "SELECT" || w == "WITH" => {}
        Some((w, _)) => {
            return Err(format!(
                "the query must be a single SELECT (or WITH … SELECT), not {w} …"
            ));
        }
    }
    for (word, depth) in &words {
        if *depth > 0 {
            continue;
        }
        let refused = match word.as_str() {
            ";" => Some("only one statement is allowed (found `;`)".to_string()),
            "ORDER" | "LIMIT" | "OFFSET" | "FETCH" => Some(format!(
                "remove `{word}` from the query: the connector orders and pages it by the cursor and key columns"
            )),
            "FOR" => Some("row locks (`FOR UPDATE`/`FOR SHARE`) are not allowed in a read".into()),
            "INTO" => Some("`INTO` is not allowed: the query must only read".into()),
            _ => None,
        };
        if let Some(reason) = refused {
            return Err(reason);
        }
    }
    Ok(text.to_string())
}

/// Upper-cased words (and `;`) outside literals and comments, with their parenthesis depth.
fn scan(text: &str) -> Result<Vec<(String, u32)>, String> {
    let chars: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    let mut depth: u32 = 0;
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        match c {
            '\'' | '"' | '`' => {
                i += 1;
                loop {
                    match chars.get(i) {
                        None => return Err(format!("unterminated {c} quote in the query")),
                        Some(&d) if d == c && chars.get(i + 1) == Some(&c) => i += 2,
                        Some(&d) if d == c => break,
                        Some('\\') if c == '\'' => i += 2,
                        Some(_) => i += 1,
                    }
                }
                i += 1;
            }
            '-' if chars.get(i + 1) == Some(&'-') => {
                while i < chars.len() && chars[i] != '\n' {
                    i += 1;
                }
            }
            '/' if chars.get(i + 1) == Some(&'*') => {
                i += 2;
                while i < chars.len() && !(chars[i] == '*' && chars.get(i + 1) == Some(&'/')) {
                    i += 1;
                }
                if i >= chars.len() {
                    return Err("unterminated /* comment in the query".into());
                }
                i += 2;
            }
            '(' => {
                depth += 1;
                i += 1;
            }
            ')' => {
                depth = depth.saturating_sub(1);
                i += 1;
            }
            ';' => {
                out.push((";".to_string(), depth));
                i += 1;
            }
            c if c.is_alphabetic() || c == '_' => {
                let start = i;
                while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
                    i += 1;
                }
                let word: String = chars[start..i].iter().collect();
                out.push((word.to_uppercase(), depth));
            }
            _ => i += 1,
        }
    }
    Ok(out)
}

/// Refuses a database URL whose password is written in clear: the whole URL, or its
/// password, must be a `${VAR}` reference (a URL without a password is fine).
pub fn check_url_secret(url: &str) -> Result<(), String> {
    let clear = "the database password is a secret and is never written in config files: write url = \"${ERP_DB_URL}\", or put only the password in a variable (postgres://user:${ERP_DB_PASSWORD}@host/db)";
    let trimmed = url.trim();
    if crate::support::secrets::is_reference(trimmed) {
        return Ok(());
    }
    let Some((scheme, rest)) = trimmed.split_once("://") else {
        return Err(format!(
            "`{trimmed}` is not a database URL (postgres://…, mysql://… or mariadb://…)"
        ));
    };
    if !scheme.starts_with("${") && Dialect::of_url(trimmed).is_none() {
        return Err(format!(
            "unsupported database URL scheme `{scheme}` (expected postgres, postgresql, mysql or mariadb)"
        ));
    }
    let (authority, tail) = match rest.find(['/', '?']) {
        Some(i) => rest.split_at(i),
        None => (rest, ""),
    };
    if let Some((userinfo, _)) = authority.rsplit_once('@')
        && let Some((_, password)) = userinfo.split_once(':')
        && !password.is_empty()
        && !crate::support::secrets::is_reference(password)
    {
        return Err(clear.into());
    }
    if let Some((_, query)) = tail.split_once('?') {
        for pair in query.split('&') {
            if let Some((k, v)) = pair.split_once('=')
                && k.eq_ignore_ascii_case("password")
                && !v.is_empty()
                && !crate::support::secrets::is_reference(v)
            {
                return Err(clear.into());
            }
        }
    }
    Ok(())
}

/// The URL with its password replaced by `***`, for messages.
pub(super) fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(end);
    let authority = match authority.rsplit_once('@') {
        Some((userinfo, host)) => match userinfo.split_once(':') {
            Some((user, _)) => format!("{user}:***@{host}"),
            None => format!("{userinfo}@{host}"),
        },
        None => authority.to_string(),
    };
    let tail = match tail.split_once('?') {
        Some((path, _)) => format!("{path}?…"),
        None => tail.to_string(),
    };
    format!("{scheme}://{authority}{tail}")
}
