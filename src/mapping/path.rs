//! Source paths: `partner.address.city`, `tags[0]`, `partner_id[1]`, `lines[-1].sku`,
//! `"odd.key".value`.
//!
//! A path is parsed once into steps. Looking it up never fails: a key on something that is
//! not an object, an index on something that is not an array, or a step past the end all give
//! "missing", which the field's empty-value rules then handle (Odoo's `false` for an unset
//! many2one therefore reads as missing through `partner_id[1]`).

use std::fmt;

use serde_json::Value;

/// One step of a path.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Step {
    /// An object key.
    Key(String),
    /// An array index; negative counts from the end.
    Index(i64),
}

/// A parsed source path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Path {
    text: String,
    steps: Vec<Step>,
}

impl fmt::Display for Path {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl Path {
    /// Parses a path; the error says what is wrong with it.
    pub(super) fn parse(text: &str) -> Result<Path, String> {
        let mut steps = Vec::new();
        let mut chars = text.trim().chars().peekable();
        // Whether a key may start here (at the start or after a dot).
        let mut want_key = true;
        while let Some(&c) = chars.peek() {
            match c {
                '.' if !want_key => {
                    chars.next();
                    want_key = true;
                }
                '[' => {
                    if want_key && !steps.is_empty() {
                        return Err(format!("`{text}`: `.[` is not allowed; write `a[0]`"));
                    }
                    chars.next();
                    let mut digits = String::new();
                    for d in chars.by_ref() {
                        if d == ']' {
                            break;
                        }
                        digits.push(d);
                    }
                    let index = digits.trim().parse::<i64>().map_err(|_| {
                        format!("`{text}`: `[{digits}]` is not an array index (a whole number)")
                    })?;
                    steps.push(Step::Index(index));
                    want_key = false;
                }
                '"' if want_key => {
                    chars.next();
                    let mut key = String::new();
                    let mut closed = false;
                    while let Some(k) = chars.next() {
                        match k {
                            '"' => {
                                closed = true;
                                break;
                            }
                            '\\' => {
                                if let Some(escaped) = chars.next() {
                                    key.push(escaped);
                                }
                            }
                            _ => key.push(k),
                        }
                    }
                    if !closed {
                        return Err(format!("`{text}`: unclosed quote"));
                    }
                    steps.push(Step::Key(key));
                    want_key = false;
                }
                _ if want_key => {
                    let mut key = String::new();
                    while let Some(&k) = chars.peek() {
                        if k == '.' || k == '[' {
                            break;
                        }
                        key.push(k);
                        chars.next();
                    }
                    let key = key.trim();
                    if key.is_empty() {
                        return Err(format!("`{text}`: empty key"));
                    }
                    steps.push(Step::Key(key.to_string()));
                    want_key = false;
                }
                _ => return Err(format!("`{text}`: expected `.` or `[` before `{c}`")),
            }
        }
        if steps.is_empty() {
            return Err("the path is empty".to_string());
        }
        if want_key {
            return Err(format!("`{text}`: ends with `.`"));
        }
        Ok(Path {
            text: text.trim().to_string(),
            steps,
        })
    }

    /// The value at this path in `root`, if there is one.
    pub(super) fn get<'a>(&self, root: &'a Value) -> Option<&'a Value> {
        let mut at = root;
        for step in &self.steps {
            at = match (step, at) {
                (Step::Key(k), Value::Object(map)) => map.get(k)?,
                (Step::Index(i), Value::Array(items)) => {
                    let len = items.len() as i64;
                    let i = if *i < 0 { len + i } else { *i };
                    if i < 0 {
                        return None;
                    }
                    items.get(usize::try_from(i).ok()?)?
                }
                _ => return None,
            };
        }
        Some(at)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn keys_indices_and_quotes() {
        let v = json!({"a": {"b": [10, {"c": "x"}]}, "p": [7, "Acme"], "x.y": {"z": 1}});
        let get = |p: &str| Path::parse(p).unwrap().get(&v).cloned();
        assert_eq!(get("a.b[1].c"), Some(json!("x")));
        assert_eq!(get("p[1]"), Some(json!("Acme")));
        assert_eq!(get("p[-2]"), Some(json!(7)));
        assert_eq!(get("\"x.y\".z"), Some(json!(1)));
        assert_eq!(get("p[5]"), None);
        assert_eq!(get("a.b.c"), None);
        assert_eq!(get("p[0].name"), None);
    }

    #[test]
    fn bad_paths_are_rejected() {
        for bad in ["", "a.", "a..b", "a[x]", "\"open", "a.[0]", "a[0]b"] {
            assert!(Path::parse(bad).is_err(), "{bad}");
        }
    }
}
