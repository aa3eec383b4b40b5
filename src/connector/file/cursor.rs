//! The durable cursor of a file stream, and the decision where to resume in each file.
//!
//! Format (JSON, committed with every page):
//!
//! ```json
//! {"version": 1,
//!  "files": {"customers.csv": {"offset": 1234, "lines": 41, "sha256": "…",
//!                              "partial_line": {"offset": 1200, "lines": 40}}}}
//! ```
//!
//! - `offset` is the number of bytes of the file already read and `lines` the number of line
//!   breaks among them; `sha256` is the hash of exactly those bytes.
//! - XML files (read as a stream, never whole) add `records`, the number of records read
//!   from the file, and `elements`, the local names of the elements still open at `offset`
//!   (e.g. `["DEBMAS07"]`): `offset` is then just after the last record read, and a resumed
//!   run seeks there and goes on numbering records after `records`.
//! - `partial_line` is present when the last line read had no line break yet (a file still
//!   being written, or a file that simply ends without one). It was read as it was; if the
//!   file later grows, that line is read again from its start, so a completed line is never
//!   lost (the earlier, partial reading is a separate record that downstream content hashing
//!   or the mapping deals with).
//!
//! Invariants: a file whose first `offset` bytes still hash to `sha256` was only appended to,
//! and is read from `offset`; a file that is shorter or whose prefix differs was rewritten and
//! is read again from the start (staging deduplicates unchanged records by content); a file
//! of exactly `offset` bytes with the same hash is unchanged and yields nothing. Files that
//! no longer exist are dropped from the cursor.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

/// Version written into new cursors.
pub(super) const VERSION: u32 = 1;

/// The cursor of one file stream.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct FileCursor {
    /// Format version (1).
    pub version: u32,
    /// Per file name (relative to the folder), how far it was read.
    #[serde(default)]
    pub files: BTreeMap<String, FilePos>,
}

impl Default for FileCursor {
    fn default() -> Self {
        FileCursor {
            version: VERSION,
            files: BTreeMap::new(),
        }
    }
}

/// How far one file was read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct FilePos {
    /// Bytes read.
    pub offset: u64,
    /// Line breaks among them.
    pub lines: u64,
    /// Hex SHA-256 of the bytes read.
    pub sha256: String,
    /// Start of the last line read when it had no line break.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partial_line: Option<LineStart>,
    /// XML: records read from the file so far.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub records: Option<u64>,
    /// XML: local names of the elements open at `offset`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub elements: Vec<String>,
}

/// A position at the start of a line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct LineStart {
    /// Byte offset.
    pub offset: u64,
    /// Line breaks before it.
    pub lines: u64,
}

impl FileCursor {
    /// Reads a stored cursor; `Err` says why it is not a file cursor of a known version.
    pub(super) fn from_value(value: Value) -> Result<Self, String> {
        let version = value.get("version").and_then(Value::as_u64);
        if version != Some(u64::from(VERSION)) {
            return Err(format!(
                "the stored cursor is not a version {VERSION} file cursor (found {value}); reset it with `sync --full`"
            ));
        }
        serde_json::from_value(value).map_err(|e| format!("the stored cursor is unreadable: {e}"))
    }

    /// The cursor as JSON.
    pub(super) fn to_value(&self) -> Value {
        serde_json::to_value(self).unwrap_or(Value::Null)
    }
}

/// Where to start reading a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Resume {
    /// Nothing new since the cursor.
    Unchanged,
    /// Read from this position (`offset` 0: the whole file, header included).
    From(LineStart),
}

/// Decides where to resume reading `bytes`, given how far the cursor says it was read.
pub(super) fn resume_point(pos: Option<&FilePos>, bytes: &[u8]) -> Resume {
    let start = Resume::From(LineStart {
        offset: 0,
        lines: 0,
    });
    let Some(pos) = pos else { return start };
    let Ok(offset) = usize::try_from(pos.offset) else {
        return start;
    };
    if bytes.len() < offset || hex::encode(Sha256::digest(&bytes[..offset])) != pos.sha256 {
        return start;
    }
    if bytes.len() == offset {
        return Resume::Unchanged;
    }
    match pos.partial_line {
        Some(line) if line.offset <= pos.offset => Resume::From(line),
        _ => Resume::From(LineStart {
            offset: pos.offset,
            lines: pos.lines,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pos_of(bytes: &[u8], lines: u64) -> FilePos {
        FilePos {
            offset: bytes.len() as u64,
            lines,
            sha256: hex::encode(Sha256::digest(bytes)),
            partial_line: None,
            records: None,
            elements: Vec::new(),
        }
    }

    #[test]
    fn appended_unchanged_and_rewritten_files() {
        let pos = pos_of(b"a\nb\n", 2);
        assert_eq!(
            resume_point(Some(&pos), b"a\nb\nc\n"),
            Resume::From(LineStart {
                offset: 4,
                lines: 2
            })
        );
        assert_eq!(resume_point(Some(&pos), b"a\nb\n"), Resume::Unchanged);
        let from_start = Resume::From(LineStart {
            offset: 0,
            lines: 0,
        });
        assert_eq!(resume_point(Some(&pos), b"a\nX\nc\n"), from_start);
        assert_eq!(resume_point(Some(&pos), b"a\n"), from_start);
        assert_eq!(resume_point(None, b"a\n"), from_start);
    }

    #[test]
    fn a_partial_last_line_is_read_again_when_the_file_grows() {
        let mut pos = pos_of(b"a\nbb", 1);
        pos.partial_line = Some(LineStart {
            offset: 2,
            lines: 1,
        });
        assert_eq!(resume_point(Some(&pos), b"a\nbb"), Resume::Unchanged);
        assert_eq!(
            resume_point(Some(&pos), b"a\nbbb\n"),
            Resume::From(LineStart {
                offset: 2,
                lines: 1
            })
        );
    }

    #[test]
    fn cursor_round_trips_and_rejects_other_versions() {
        let mut c = FileCursor::default();
        c.files.insert("x.csv".into(), pos_of(b"h\n", 1));
        let v = c.to_value();
        assert_eq!(v["version"], 1);
        assert_eq!(FileCursor::from_value(v).unwrap(), c);
        assert!(FileCursor::from_value(serde_json::json!({"version": 2})).is_err());
        assert!(FileCursor::from_value(serde_json::json!("2026-01-01")).is_err());
    }
}
