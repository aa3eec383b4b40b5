//! The XML format of the `file` kind, read as a stream.
//!
//! Each file is read through a buffered reader, never whole: one record per element matched
//! by the stream's `record_path` (see [`records`] for how a record becomes JSON and for the
//! limits). Pages and the cursor work like those of the other formats, with two extra cursor
//! fields per file: `records` (how many records were read) and `elements` (the elements open
//! at `offset`). `offset` is the end of the last record read, so a resumed run seeks there,
//! checks the prefix hash (read as a stream too) and goes on; a rewritten file is read again.
//!
//! Locators are `name:record N (line L)`. A record that is malformed in a way the reader can
//! step over (a mismatched end tag, an unknown entity, a record over the size limit) is
//! rejected with its text; other syntax errors and any DOCTYPE stop the stream with an error
//! naming the file, line and byte offset.

pub(crate) mod records;

use std::collections::VecDeque;
use std::fs::File;
use std::io::{BufReader, Read};
use std::path::PathBuf;

use async_trait::async_trait;
use serde_json::Value;
use sha2::{Digest, Sha256};

use self::records::{XmlItem, XmlOptions, XmlRecords};
use super::config::FileStream;
use super::cursor::{FileCursor, FilePos};
use crate::connector::spec::Problem;
use crate::connector::{ConnectorError, Page, RawRecord, RejectedInput, Source};

/// Read buffer per file.
const BUFFER: usize = 64 * 1024;

/// The XML options of a stream; the problem names the key at fault.
pub(super) fn options(spec: &FileStream) -> Result<XmlOptions, Problem> {
    let path = spec.record_path.as_deref().ok_or_else(|| {
        Problem::new(
            "record_path",
            "format \"xml\" needs `record_path`, e.g. \"DEBMAS07/IDOC\"",
        )
    })?;
    let mut options = XmlOptions::new(path).map_err(|e| Problem::new("record_path", e))?;
    options.arrays = spec.arrays.iter().cloned().collect();
    if let Some(depth) = spec.max_depth {
        if depth < options.record_path.len() {
            return Err(Problem::new(
                "max_depth",
                format!("max_depth = {depth} is smaller than the depth of record_path"),
            ));
        }
        options.max_depth = depth;
    }
    if let Some(bytes) = spec.max_record_bytes {
        if bytes == 0 {
            return Err(Problem::new("max_record_bytes", "must be at least 1"));
        }
        options.max_record_bytes = bytes;
    }
    Ok(options)
}

/// What [`source`] needs.
pub(super) struct XmlSourceParts {
    pub dir: PathBuf,
    pub options: XmlOptions,
    pub batch_size: usize,
    pub files: Vec<String>,
    pub state: FileCursor,
    pub dirty: bool,
    /// `[file] file_name_field`: key receiving the file name in each record.
    pub file_name_field: Option<String>,
}

/// A source reading the XML files of a stream.
pub(super) fn source(parts: XmlSourceParts) -> Box<dyn Source> {
    Box::new(XmlSource {
        core: Some(Core {
            dir: parts.dir,
            options: parts.options,
            batch_size: parts.batch_size,
            pending: parts.files.into_iter().collect(),
            current: None,
            state: parts.state,
            dirty: parts.dirty,
            file_name_field: parts.file_name_field,
        }),
    })
}

struct XmlSource {
    /// Taken while a page is read on a blocking thread.
    core: Option<Core>,
}

struct Core {
    dir: PathBuf,
    options: XmlOptions,
    batch_size: usize,
    pending: VecDeque<String>,
    current: Option<(String, XmlRecords<BufReader<File>>)>,
    state: FileCursor,
    dirty: bool,
    file_name_field: Option<String>,
}

/// Where to start in a file.
enum Start {
    Unchanged,
    Beginning,
    /// The file is positioned at the cursor's offset; the hasher holds the prefix.
    Resume(Box<(Sha256, FilePos)>),
}

/// Hashes the first `pos.offset` bytes of `file` and decides where to start.
fn resume(file: &mut File, len: u64, pos: Option<&FilePos>) -> std::io::Result<Start> {
    let Some(pos) = pos else {
        return Ok(Start::Beginning);
    };
    if pos.offset > len {
        return Ok(Start::Beginning);
    }
    let mut hasher = Sha256::new();
    let mut left = pos.offset;
    let mut buf = vec![0u8; BUFFER];
    while left > 0 {
        let want = usize::try_from(left.min(BUFFER as u64)).unwrap_or(BUFFER);
        let n = file.read(&mut buf[..want])?;
        if n == 0 {
            return Ok(Start::Beginning);
        }
        hasher.update(&buf[..n]);
        left -= n as u64;
    }
    if hex::encode(hasher.clone().finalize()) != pos.sha256 {
        return Ok(Start::Beginning);
    }
    if len == pos.offset {
        return Ok(Start::Unchanged);
    }
    Ok(Start::Resume(Box::new((hasher, pos.clone()))))
}

impl Core {
    fn open_next(&mut self) -> Result<bool, ConnectorError> {
        while let Some(name) = self.pending.pop_front() {
            let path = self.dir.join(&name);
            let io = |source| ConnectorError::Io {
                path: path.display().to_string(),
                source,
            };
            let mut file = File::open(&path).map_err(io)?;
            let len = file.metadata().map_err(io)?.len();
            let pos = self.state.files.get(&name);
            let reader = match resume(&mut file, len, pos).map_err(io)? {
                Start::Unchanged => {
                    tracing::debug!(file = %name, "unchanged since the cursor");
                    continue;
                }
                Start::Beginning => {
                    if pos.is_some() {
                        tracing::info!(file = %name, "file was rewritten; reading it again from the start");
                    }
                    drop(file);
                    let file = File::open(&path).map_err(io)?;
                    XmlRecords::new(BufReader::with_capacity(BUFFER, file), self.options.clone())
                }
                Start::Resume(resumed) => {
                    let (hasher, pos) = *resumed;
                    XmlRecords::resume(
                        BufReader::with_capacity(BUFFER, file),
                        self.options.clone(),
                        pos.offset,
                        pos.lines,
                        hasher,
                        pos.records.unwrap_or(0),
                        pos.elements,
                    )
                }
            };
            tracing::debug!(file = %name, "reading XML file");
            self.current = Some((name, reader));
            return Ok(true);
        }
        Ok(false)
    }

    fn current_pos(reader: &XmlRecords<BufReader<File>>) -> FilePos {
        let safe = reader.safe_point();
        FilePos {
            offset: safe.offset,
            lines: safe.lines,
            sha256: safe.sha256,
            partial_line: None,
            records: Some(safe.records),
            elements: safe.elements,
        }
    }

    fn fill_page(&mut self) -> Result<Option<Page>, ConnectorError> {
        let mut page = Page::default();
        let mut count = 0;
        while count < self.batch_size {
            let Some((name, reader)) = self.current.as_mut() else {
                if self.open_next()? {
                    continue;
                }
                break;
            };
            let item = reader.next_item().map_err(|e| ConnectorError::Input {
                locator: name.clone(),
                reason: e.to_string(),
            })?;
            match item {
                Some(XmlItem::Record {
                    index,
                    line,
                    mut value,
                }) => {
                    if let (Some(field), Value::Object(fields)) =
                        (&self.file_name_field, &mut value)
                    {
                        fields.insert(field.clone(), Value::String(name.clone()));
                    }
                    page.records.push(RawRecord {
                        locator: format!("{name}:record {index} (line {line})"),
                        payload: value,
                    });
                    count += 1;
                    self.dirty = true;
                }
                Some(XmlItem::Rejected {
                    index,
                    line,
                    raw,
                    reason,
                }) => {
                    page.rejected.push(RejectedInput {
                        locator: format!("{name}:record {index} (line {line})"),
                        raw,
                        reason,
                    });
                    count += 1;
                    self.dirty = true;
                }
                None => {
                    let pos = Self::current_pos(reader);
                    let name = name.clone();
                    if self.state.files.get(&name) != Some(&pos) {
                        self.dirty = true;
                    }
                    self.state.files.insert(name, pos);
                    self.current = None;
                }
            }
        }
        if count == 0 && !self.dirty {
            return Ok(None);
        }
        let mut cursor = self.state.clone();
        if let Some((name, reader)) = &self.current {
            cursor.files.insert(name.clone(), Self::current_pos(reader));
        }
        page.checkpoint = Some(cursor.to_value());
        self.dirty = false;
        Ok(Some(page))
    }
}

#[async_trait]
impl Source for XmlSource {
    async fn next_page(&mut self) -> Result<Option<Page>, ConnectorError> {
        let Some(mut core) = self.core.take() else {
            return Err(ConnectorError::Input {
                locator: "xml".into(),
                reason: "a previous page failed; the stream cannot go on".into(),
            });
        };
        let (core, result) = tokio::task::spawn_blocking(move || {
            let result = core.fill_page();
            (core, result)
        })
        .await
        .map_err(|e| ConnectorError::Input {
            locator: "xml".into(),
            reason: format!("the XML reader stopped: {e}"),
        })?;
        self.core = Some(core);
        result
    }
}

#[cfg(test)]
mod tests;
