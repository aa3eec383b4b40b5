//! The `[file]` table of a connector file and the `file` table of its streams.
//!
//! ```toml
//! kind = "file"
//! [file]
//! dir = "samples/erp"            # relative to the project root
//!
//! [[streams]]
//! name = "customers"
//! mapping = "erp-customers"
//! file = { pattern = "customers*.csv", format = "csv", page_size = 500 }
//! ```

use std::path::{Component, Path};

use serde::Deserialize;
use serde_json::Value;

use super::super::spec::{PageSize, Problem, Reference, SourceConfig};
use super::super::{ConnectorError, Opening, Source};

/// Options of a `file` connector.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileOptions {
    /// Folder holding the files; relative paths are relative to the project root.
    pub dir: String,
    /// Upload-folder mode: once the page holding a file's last records is committed, the file
    /// is moved into this folder (relative to `dir`), with a timestamp suffix when the name is
    /// taken. Without it files stay where they are and the cursor tracks how far each was read.
    #[serde(default)]
    pub archive_dir: Option<String>,
    /// Files modified less than this many seconds ago are still being written: they are left
    /// for a later run (default 0: every file is read).
    #[serde(default)]
    pub settle_secs: u64,
    /// When set, every record gets the name of its file under this key (e.g. `_file`), so a
    /// mapping can take a dealer code out of `D1001_stock_20261122.csv`.
    #[serde(default)]
    pub file_name_field: Option<String>,
}

/// A stream read from files.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileStream {
    /// Glob-like file name pattern inside the folder (`*` and `?`), e.g. `orders-*.jsonl`.
    pub pattern: String,
    /// File format.
    pub format: FileFormat,
    /// CSV field delimiter (default `,`).
    #[serde(default)]
    pub delimiter: Option<char>,
    /// Records per committed page (default 500; `batch_size` is read as an alias).
    #[serde(default, alias = "batch_size")]
    pub page_size: Option<u64>,
    /// XML: `/`-separated local names of the record elements, e.g. `DEBMAS07/IDOC`.
    #[serde(default)]
    pub record_path: Option<String>,
    /// XML: element names always converted to arrays, even when they occur once.
    #[serde(default)]
    pub arrays: Vec<String>,
    /// XML: maximum element nesting (default 64).
    #[serde(default)]
    pub max_depth: Option<usize>,
    /// XML: maximum size of one record in bytes (default 16 MiB).
    #[serde(default)]
    pub max_record_bytes: Option<u64>,
}

/// File formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FileFormat {
    /// Comma-separated values with a header row.
    Csv,
    /// One JSON object per line.
    Jsonl,
    /// XML documents, streamed; one record per element matched by `record_path`.
    Xml,
}

impl FileStream {
    /// Items per page.
    pub(super) fn page_size(&self) -> usize {
        let size = self.page_size.unwrap_or(PageSize::FILE);
        usize::try_from(size).unwrap_or(usize::MAX)
    }

    /// The CSV delimiter as a byte.
    pub(super) fn delimiter(&self) -> Result<u8, String> {
        match self.delimiter {
            None => Ok(b','),
            Some(c) if c.is_ascii() && c != '"' && c != '\n' && c != '\r' => Ok(c as u8),
            Some(c) => Err(format!(
                "{c:?} must be one ASCII character other than a quote or a line break"
            )),
        }
    }
}

impl SourceConfig for FileOptions {
    type Stream = FileStream;

    fn validate(&self) -> Vec<Problem> {
        let mut out = Vec::new();
        if let Some(a) = &self.archive_dir
            && Path::new(a).components().all(|c| c == Component::CurDir)
        {
            out.push(Problem::new(
                "archive_dir",
                format!("`{a}` must name another folder than dir (e.g. \"archive\")"),
            ));
        }
        if self.file_name_field.as_deref() == Some("") {
            out.push(Problem::new("file_name_field", "must not be empty"));
        }
        out
    }

    fn validate_stream(&self, stream: &FileStream) -> Vec<Problem> {
        let mut out = Vec::new();
        if stream.pattern.is_empty() || stream.pattern.contains(['/', '\\']) {
            out.push(Problem::new(
                "pattern",
                format!(
                    "`{}` must be a file name pattern (`*`, `?`) inside [file] dir, without folders",
                    stream.pattern
                ),
            ));
        }
        out.extend(PageSize::check(stream.page_size, ""));
        if let Err(e) = stream.delimiter() {
            out.push(Problem::new("delimiter", e));
        }
        if stream.format == FileFormat::Xml {
            if self.archive_dir.is_some() {
                out.push(Problem::new(
                    "format",
                    "archive_dir is not supported with format \"xml\" yet",
                ));
            }
            if let Err(p) = super::xml::options(stream) {
                out.push(p);
            }
        }
        out
    }

    fn references(&mut self) -> Vec<Reference<'_>> {
        vec![Reference::plain("dir", &mut self.dir)]
    }

    fn stream_references(_stream: &mut FileStream) -> Vec<Reference<'_>> {
        Vec::new()
    }

    fn open(
        &self,
        stream: &FileStream,
        at: &Opening<'_>,
        cursor: Option<Value>,
    ) -> Result<Box<dyn Source>, ConnectorError> {
        super::open(at, self, stream, cursor)
    }
}
