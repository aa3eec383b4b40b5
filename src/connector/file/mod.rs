//! The `file` kind: CSV, JSON Lines and XML files dropped in a folder.
//!
//! XML files are streamed, never read whole (see [`xml`]); what follows about lines and
//! whole-file reading concerns CSV and JSON Lines.
//!
//! A stream reads the files of `[file] dir` whose names match its `pattern`, in name order,
//! and yields pages of at most `page_size` items (records plus rejected input). Each page
//! carries the whole stream cursor (see [`cursor`]) up to its last item, so a run that fails
//! resumes after the last committed page, an appended file is read only from where it
//! stopped, and a rewritten file is read again from the start.
//!
//! Locators are `name:line` with the physical, 1-based line number where the record starts.
//!
//! A last line without a line break is read as it is (a file that simply ends without one is
//! common); the cursor remembers where it started so that, should the file grow, the line is
//! read again in full. Files are read whole into memory, one at a time.
//!
//! Upload folders (`[file] archive_dir`, `settle_secs`, `file_name_field`): see [`archive`] for
//! the inbox → archive life cycle and [`settle`] for which files are ready to read.

mod archive;
pub mod config;
mod csv;
mod cursor;
mod glob;
mod jsonl;
mod settle;
pub(crate) mod xml;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use serde_json::Value;
use sha2::{Digest, Sha256};

use self::config::{FileFormat, FileOptions, FileStream};
use self::cursor::{FileCursor, FilePos, LineStart, Resume, resume_point};
use super::{ConnectorError, Opening, Page, RawRecord, RejectedInput, Source};

/// What a format reader yields: one record or one rejected piece of input.
pub(super) struct Item {
    /// Byte offset where it starts.
    start: usize,
    /// Line breaks before it (its line number minus one).
    lines_before: u64,
    outcome: Outcome,
}

/// A parsed record or rejected input.
pub(super) enum Outcome {
    Record(RawRecord),
    Rejected(RejectedInput),
}

/// A format reader over one file.
pub(super) trait Reader: Send {
    /// The next item, or `None` at the end of the file.
    fn next_item(&mut self) -> Result<Option<Item>, ConnectorError>;
    /// Byte offset read so far and the line breaks before it.
    fn position(&self) -> (usize, u64);
}

/// Counts line breaks.
pub(super) fn count_lines(bytes: &[u8]) -> u64 {
    bytes.iter().filter(|b| **b == b'\n').count() as u64
}

/// The text of a rejected line, without its line break.
pub(super) fn raw_text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes)
        .trim_end_matches(['\r', '\n'])
        .to_string()
}

/// Opens a file stream (its options already validated): lists the folder.
pub(super) fn open(
    at: &Opening<'_>,
    options: &FileOptions,
    spec: &FileStream,
    cursor: Option<Value>,
) -> Result<Box<dyn Source>, ConnectorError> {
    let batch_size = spec.page_size();
    let delimiter = spec.delimiter().map_err(|e| at.stream_error(e))?;
    let dir = at.root().join(&options.dir);
    let xml_options = match spec.format {
        FileFormat::Xml => Some(xml::options(spec).map_err(|p| at.stream_error(p.to_string()))?),
        _ => None,
    };
    let settle = Duration::from_secs(options.settle_secs);
    let (present, files) = list(&dir, &spec.pattern, settle, SystemTime::now())?;
    let mut state = match cursor {
        None => FileCursor::default(),
        Some(v) => FileCursor::from_value(v).map_err(|e| at.stream_error(e))?,
    };
    let before = state.files.len();
    state
        .files
        .retain(|name, _| present.iter().any(|f| f == name));
    let dirty = state.files.len() != before;
    tracing::debug!(dir = %dir.display(), pattern = %spec.pattern, files = files.len(), "file stream opened");
    if let Some(xml_options) = xml_options {
        return Ok(xml::source(xml::XmlSourceParts {
            dir,
            options: xml_options,
            batch_size,
            files,
            state,
            dirty,
            file_name_field: options.file_name_field.clone(),
        }));
    }
    let archive = options.archive_dir.as_ref().map(|a| dir.join(a));
    Ok(Box::new(FileSource {
        archive,
        file_name_field: options.file_name_field.clone(),
        finished: Vec::new(),
        uncommitted: Vec::new(),
        dir,
        spec: spec.clone(),
        delimiter,
        batch_size,
        pending: files.into_iter().collect(),
        current: None,
        state,
        dirty,
    }))
}

/// Names of the files in `dir` matching `pattern`, sorted: all of them, and those ready to be
/// read (not named as in progress, and settled for `settle` at `now`).
fn list(
    dir: &std::path::Path,
    pattern: &str,
    settle: Duration,
    now: SystemTime,
) -> Result<(Vec<String>, Vec<String>), ConnectorError> {
    let io = |source| ConnectorError::Io {
        path: dir.display().to_string(),
        source,
    };
    let mut names = Vec::new();
    let mut ready = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(io)? {
        let entry = entry.map_err(io)?;
        if !entry.file_type().map_err(io)?.is_file() {
            continue;
        }
        match entry.file_name().into_string() {
            Ok(name) if glob::matches(pattern, &name) => {
                if settle::is_ignored(&name) {
                    tracing::debug!(file = %name, "ignored: the name says it is still being written");
                } else if !settle::is_settled(
                    entry.metadata().map_err(io)?.modified().map_err(io)?,
                    now,
                    settle,
                ) {
                    tracing::info!(file = %name, "modified too recently; left for a later run");
                } else {
                    ready.push(name.clone());
                }
                names.push(name);
            }
            Ok(_) => {}
            Err(name) => tracing::warn!(?name, "skipping a file whose name is not UTF-8"),
        }
    }
    names.sort();
    ready.sort();
    Ok((names, ready))
}

/// The file being read.
struct Current {
    name: String,
    bytes: Arc<[u8]>,
    reader: Box<dyn Reader>,
    /// Hash of `bytes[..hashed]`.
    hasher: Sha256,
    hashed: usize,
    lines: u64,
    partial_line: Option<LineStart>,
}

impl Current {
    /// Moves the hashed prefix to what the reader has consumed.
    fn advance(&mut self) {
        let (end, lines) = self.reader.position();
        if end > self.hashed {
            self.hasher.update(&self.bytes[self.hashed..end]);
            self.hashed = end;
        }
        self.lines = lines;
    }

    fn pos(&self) -> FilePos {
        FilePos {
            offset: self.hashed as u64,
            lines: self.lines,
            sha256: hex::encode(self.hasher.clone().finalize()),
            partial_line: self.partial_line,
            records: None,
            elements: Vec::new(),
        }
    }
}

struct FileSource {
    /// Upload-folder mode: where finished files go once committed.
    archive: Option<PathBuf>,
    /// Key under which each record gets its file name.
    file_name_field: Option<String>,
    /// Files finished while filling the page being built.
    finished: Vec<String>,
    /// Files finished in the last page returned, to archive once it is committed.
    uncommitted: Vec<String>,
    dir: PathBuf,
    spec: FileStream,
    delimiter: u8,
    batch_size: usize,
    pending: std::collections::VecDeque<String>,
    current: Option<Current>,
    /// Positions of the files done (and of files not reached yet, from the stored cursor).
    state: FileCursor,
    /// True when the cursor moved since the last page.
    dirty: bool,
}

impl FileSource {
    /// Opens the next file that has something new; false when none is left.
    async fn open_next(&mut self) -> Result<bool, ConnectorError> {
        while let Some(name) = self.pending.pop_front() {
            let path = self.dir.join(&name);
            let bytes: Arc<[u8]> = tokio::fs::read(&path)
                .await
                .map_err(|source| ConnectorError::Io {
                    path: path.display().to_string(),
                    source,
                })?
                .into();
            let from = match resume_point(self.state.files.get(&name), &bytes) {
                // In an upload folder a file still there was not archived: read it again.
                Resume::Unchanged if self.archive.is_some() => Resume::From(LineStart {
                    offset: 0,
                    lines: 0,
                }),
                other => other,
            };
            let from = match from {
                Resume::Unchanged => {
                    tracing::debug!(file = %name, "unchanged since the cursor");
                    continue;
                }
                Resume::From(from) => from,
            };
            let offset = usize::try_from(from.offset).unwrap_or(0).min(bytes.len());
            if offset == 0 && self.state.files.contains_key(&name) {
                tracing::info!(file = %name, "file was rewritten; reading it again from the start");
            }
            let reader: Box<dyn Reader> = match self.spec.format {
                FileFormat::Csv => Box::new(csv::CsvReader::new(
                    &name,
                    bytes.clone(),
                    offset,
                    from.lines,
                    self.delimiter,
                )?),
                FileFormat::Jsonl => Box::new(jsonl::JsonlReader::new(
                    &name,
                    bytes.clone(),
                    offset,
                    from.lines,
                )),
                FileFormat::Xml => {
                    return Err(ConnectorError::Input {
                        locator: name,
                        reason: "XML files are read by the streaming XML reader".into(),
                    });
                }
            };
            let mut hasher = Sha256::new();
            hasher.update(&bytes[..offset]);
            tracing::debug!(file = %name, offset, "reading file");
            self.current = Some(Current {
                name,
                bytes,
                reader,
                hasher,
                hashed: offset,
                lines: from.lines,
                partial_line: None,
            });
            return Ok(true);
        }
        Ok(false)
    }

    fn checkpoint(&self) -> Value {
        let mut cursor = self.state.clone();
        if let Some(c) = &self.current {
            cursor.files.insert(c.name.clone(), c.pos());
        }
        cursor.to_value()
    }
}

#[async_trait]
impl Source for FileSource {
    async fn next_page(&mut self) -> Result<Option<Page>, ConnectorError> {
        let mut page = Page::default();
        let mut count = 0;
        while count < self.batch_size {
            let Some(current) = self.current.as_mut() else {
                if self.open_next().await? {
                    continue;
                }
                break;
            };
            match current.reader.next_item()? {
                Some(item) => {
                    current.advance();
                    let len = current.bytes.len();
                    current.partial_line = (current.hashed == len
                        && item.start < len
                        && current.bytes.last() != Some(&b'\n'))
                    .then_some(LineStart {
                        offset: item.start as u64,
                        lines: item.lines_before,
                    });
                    match item.outcome {
                        Outcome::Record(mut r) => {
                            if let (Some(field), Value::Object(fields)) =
                                (&self.file_name_field, &mut r.payload)
                            {
                                fields.insert(field.clone(), Value::String(current.name.clone()));
                            }
                            page.records.push(r)
                        }
                        Outcome::Rejected(r) => page.rejected.push(r),
                    }
                    count += 1;
                    self.dirty = true;
                }
                None => {
                    current.advance();
                    let pos = current.pos();
                    let name = current.name.clone();
                    if self.archive.is_some() {
                        // The file leaves the cursor with this page and the folder after it.
                        self.state.files.remove(&name);
                        self.finished.push(name);
                        self.dirty = true;
                    } else {
                        if self.state.files.get(&name) != Some(&pos) {
                            self.dirty = true;
                        }
                        self.state.files.insert(name, pos);
                    }
                    self.current = None;
                }
            }
        }
        if count == 0 && !self.dirty {
            return Ok(None);
        }
        page.checkpoint = Some(self.checkpoint());
        self.dirty = false;
        self.uncommitted.append(&mut self.finished);
        Ok(Some(page))
    }

    async fn committed(&mut self) -> Result<(), ConnectorError> {
        let Some(archive_dir) = &self.archive else {
            return Ok(());
        };
        for name in std::mem::take(&mut self.uncommitted) {
            archive::archive(&self.dir, &name, archive_dir, chrono::Utc::now())?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
#[cfg(test)]
mod upload_tests;
