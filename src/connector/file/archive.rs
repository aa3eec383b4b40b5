//! Upload-folder mode: moving a file out of the inbox once it has been committed.
//!
//! Life cycle of a file in a folder with `archive_dir`:
//!
//! 1. it is read from the start, page by page; each page is committed with the stream cursor;
//! 2. the page holding its last records also drops the file from the cursor;
//! 3. only after that page is committed is the file renamed into the archive folder.
//!
//! Crash safety: a crash before step 3 leaves the file in the inbox and out of the cursor, so
//! the next run reads it again in full; staging finds every record unchanged by its content
//! hash, so nothing is lost and nothing is duplicated. A crash in the middle of a file resumes
//! after its last committed page, as in the plain folder mode. A file dropped again under a
//! name already archived is read again (its records are then unchanged) and archived beside
//! the first one with a timestamp suffix.

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};

use crate::connector::ConnectorError;

/// Moves `dir/name` into `archive`, creating the folder when needed. Returns the new path.
pub(super) fn archive(
    dir: &Path,
    name: &str,
    archive: &Path,
    now: DateTime<Utc>,
) -> Result<PathBuf, ConnectorError> {
    let from = dir.join(name);
    let io = |what: &str| {
        let path = format!("{} (archiving it: {what})", from.display());
        move |source| ConnectorError::Io { path, source }
    };
    std::fs::create_dir_all(archive).map_err(io(&format!("creating {}", archive.display())))?;
    let to = free_name(archive, name, now);
    if std::fs::rename(&from, &to).is_err() {
        // Another file system: copy, then remove the original (a crash in between leaves the
        // file in both places; it is then read again and its records are unchanged).
        std::fs::copy(&from, &to).map_err(io(&format!("copying to {}", to.display())))?;
        std::fs::remove_file(&from).map_err(io("removing it from the inbox"))?;
    }
    tracing::info!(file = %name, to = %to.display(), "file archived");
    Ok(to)
}

/// `archive/name` if free; else the name with a UTC timestamp before the extension
/// (`D1001_stock.20261123T014500Z.csv`), then with `-2`, `-3`, … after the timestamp.
fn free_name(archive: &Path, name: &str, now: DateTime<Utc>) -> PathBuf {
    let plain = archive.join(name);
    if !plain.exists() {
        return plain;
    }
    let (stem, ext) = match name.rfind('.') {
        Some(i) if i > 0 => (&name[..i], &name[i..]),
        _ => (name, ""),
    };
    let stamp = now.format("%Y%m%dT%H%M%SZ");
    let mut n = 1;
    loop {
        let candidate = if n == 1 {
            archive.join(format!("{stem}.{stamp}{ext}"))
        } else {
            archive.join(format!("{stem}.{stamp}-{n}{ext}"))
        };
        if !candidate.exists() {
            return candidate;
        }
        n += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn a_taken_name_gets_a_timestamp_then_a_counter() {
        let dir = tempfile::tempdir().unwrap();
        let inbox = dir.path().join("in");
        let arch = inbox.join("archive");
        std::fs::create_dir_all(&inbox).unwrap();
        let now = Utc.with_ymd_and_hms(2026, 11, 23, 1, 45, 0).unwrap();
        let mut names = vec![];
        for text in ["a", "b", "c"] {
            std::fs::write(inbox.join("D1_stock.csv"), text).unwrap();
            let to = archive(&inbox, "D1_stock.csv", &arch, now).unwrap();
            names.push(to.file_name().unwrap().to_string_lossy().to_string());
            assert_eq!(std::fs::read_to_string(&to).unwrap(), text);
        }
        assert_eq!(
            names,
            [
                "D1_stock.csv",
                "D1_stock.20261123T014500Z.csv",
                "D1_stock.20261123T014500Z-2.csv"
            ]
        );
        assert!(!inbox.join("D1_stock.csv").exists());
    }
}
