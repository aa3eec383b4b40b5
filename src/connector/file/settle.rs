//! Which files of an upload folder are ready to read.
//!
//! Uploaders write a file in several steps; reading it half-way would stage half a file and
//! then, in upload-folder mode, archive it. Two rules keep that from happening:
//!
//! - names that say "still being written" or "not for you" are never read: ending in `.part`,
//!   `.tmp` or `.partial` (what browsers, `rsync` and most SFTP clients write to before a final
//!   rename), or starting with `.` (hidden and editor swap files);
//! - with `settle_secs` set, a file modified less than that long ago is left for a later run.
//!
//! A file whose modification time lies in the future (clock skew between the uploader and this
//! host) is treated as just written: it is read once the clock has caught up.

use std::time::{Duration, SystemTime};

/// Suffixes of files still being written.
const IN_PROGRESS_SUFFIXES: [&str; 3] = [".part", ".tmp", ".partial"];

/// True when a file of this name is never read, whatever its pattern.
pub(super) fn is_ignored(name: &str) -> bool {
    name.starts_with('.')
        || IN_PROGRESS_SUFFIXES
            .iter()
            .any(|suffix| name.to_ascii_lowercase().ends_with(suffix))
}

/// True when a file last modified at `modified` has been left alone for at least `settle` at
/// `now`. A zero `settle` accepts every file.
pub(super) fn is_settled(modified: SystemTime, now: SystemTime, settle: Duration) -> bool {
    if settle.is_zero() {
        return true;
    }
    match now.duration_since(modified) {
        Ok(age) => age >= settle,
        Err(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn temporary_and_hidden_names_are_ignored() {
        for name in [
            "D1001_stock.csv.part",
            "D1001_stock.csv.TMP",
            "upload.partial",
            ".D1001_stock.csv",
            ".~lock.dealers.csv#",
        ] {
            assert!(is_ignored(name), "{name}");
        }
        for name in ["D1001_stock.csv", "part.csv", "tmp_dealers.csv"] {
            assert!(!is_ignored(name), "{name}");
        }
    }

    #[test]
    fn a_file_settles_after_the_given_time() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
        let five = Duration::from_secs(5);
        assert!(is_settled(now - Duration::from_secs(5), now, five));
        assert!(is_settled(now - Duration::from_secs(3600), now, five));
        assert!(!is_settled(now - Duration::from_secs(4), now, five));
        assert!(!is_settled(now + Duration::from_secs(60), now, five));
        assert!(is_settled(
            now + Duration::from_secs(60),
            now,
            Duration::ZERO
        ));
    }
}
