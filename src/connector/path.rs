//! Record paths: `data`, `meta.next`, `items[0].id` — how connector files point into JSON.
//!
//! A path is a dot-separated list of object keys, each optionally followed by one or more
//! `[N]` array indexes. The empty path names the value itself. A key that itself contains a
//! dot cannot be addressed (no escaping in v1).

use serde_json::Value;

/// Returns the value at `path` inside `value`, or `None` when any step is missing (a key
/// absent, an index out of range, or a step into a scalar).
///
/// ```
/// use serde_json::json;
/// use tributary::connector::value_at_path;
/// let v = json!({"a": {"b": [10, 20]}});
/// assert_eq!(value_at_path(&v, "a.b[1]"), Some(&json!(20)));
/// assert_eq!(value_at_path(&v, ""), Some(&v));
/// assert_eq!(value_at_path(&v, "a.c"), None);
/// ```
pub fn value_at_path<'v>(value: &'v Value, path: &str) -> Option<&'v Value> {
    let path = path.trim();
    if path.is_empty() {
        return Some(value);
    }
    let mut current = value;
    for segment in path.split('.') {
        let (key, mut rest) = match segment.find('[') {
            Some(i) => (&segment[..i], &segment[i..]),
            None => (segment, ""),
        };
        if !key.is_empty() {
            current = current.as_object()?.get(key)?;
        }
        while let Some(stripped) = rest.strip_prefix('[') {
            let close = stripped.find(']')?;
            let index: usize = stripped[..close].trim().parse().ok()?;
            current = current.as_array()?.get(index)?;
            rest = &stripped[close + 1..];
        }
        if !rest.is_empty() {
            return None;
        }
    }
    Some(current)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn paths_walk_keys_and_indexes() {
        let v = json!({"data": {"items": [{"id": 1}, {"id": 2}]}, "m": [[1, 2], [3]]});
        assert_eq!(value_at_path(&v, "data.items[1].id"), Some(&json!(2)));
        assert_eq!(value_at_path(&v, "m[1][0]"), Some(&json!(3)));
        assert_eq!(value_at_path(&v, "  "), Some(&v));
        assert_eq!(value_at_path(&v, "data.items[5]"), None);
        assert_eq!(value_at_path(&v, "data.items.id"), None);
        assert_eq!(value_at_path(&v, "data.items[x]"), None);
        assert_eq!(value_at_path(&v, "data.items[0]x"), None);
    }
}
