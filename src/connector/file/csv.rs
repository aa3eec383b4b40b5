//! CSV files: a header row, then one record per row, each an object of strings keyed by the
//! header. Quoted fields may hold delimiters, quotes (`""`) and line breaks; a record's locator
//! names the physical line it starts on.
//!
//! A row whose field count differs from the header's, or that is not UTF-8, is rejected with
//! its raw text and reading goes on. A header that is not UTF-8 or repeats a name stops the
//! stream: no row after it could be keyed.

use std::io::Cursor;
use std::sync::Arc;

use csv::{ByteRecord, ReaderBuilder};
use serde_json::{Map, Value};

use super::{Item, Outcome, Reader, count_lines, raw_text};
use crate::connector::{ConnectorError, RawRecord, RejectedInput};

/// Reads rows of one CSV file from a position onwards.
pub(super) struct CsvReader {
    name: String,
    bytes: Arc<[u8]>,
    reader: csv::Reader<Cursor<Arc<[u8]>>>,
    /// Absolute offset where `reader` started.
    base: usize,
    headers: Vec<String>,
    /// Absolute offset read so far, and line breaks before it.
    end: usize,
    lines: u64,
}

impl CsvReader {
    /// Starts reading `bytes` (the whole file) at `offset`, which is `lines` line breaks in.
    /// The header is always read from the start of the file.
    pub(super) fn new(
        name: &str,
        bytes: Arc<[u8]>,
        offset: usize,
        lines: u64,
        delimiter: u8,
    ) -> Result<Self, ConnectorError> {
        let builder = {
            let mut b = ReaderBuilder::new();
            b.has_headers(false).flexible(true).delimiter(delimiter);
            b
        };
        let mut header_reader = builder.from_reader(&bytes[..]);
        let mut header = ByteRecord::new();
        let has_header =
            header_reader
                .read_byte_record(&mut header)
                .map_err(|e| ConnectorError::Input {
                    locator: format!("{name}:1"),
                    reason: format!("cannot read the header row: {e}"),
                })?;
        let header_end = if has_header {
            usize::try_from(header_reader.position().byte()).unwrap_or(bytes.len())
        } else {
            bytes.len()
        };
        let header_line = header
            .position()
            .map_or(1, |p| count_lines(&bytes[..p.byte() as usize]) + 1);
        let mut headers = Vec::with_capacity(header.len());
        for (i, field) in header.iter().enumerate() {
            let field = if i == 0 {
                field.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(field)
            } else {
                field
            };
            let text = std::str::from_utf8(field).map_err(|_| ConnectorError::Input {
                locator: format!("{name}:{header_line}"),
                reason: format!("header field {} is not valid UTF-8", i + 1),
            })?;
            if headers.iter().any(|h| h == text) {
                return Err(ConnectorError::Input {
                    locator: format!("{name}:{header_line}"),
                    reason: format!("the header names column `{text}` twice"),
                });
            }
            headers.push(text.to_string());
        }
        let (start, lines) = if offset < header_end {
            (header_end, count_lines(&bytes[..header_end]))
        } else {
            (offset, lines)
        };
        let mut cursor = Cursor::new(bytes.clone());
        cursor.set_position(start as u64);
        Ok(CsvReader {
            name: name.to_string(),
            reader: builder.from_reader(cursor),
            bytes,
            base: start,
            headers,
            end: start,
            lines,
        })
    }

    fn absolute(&self, relative: u64) -> usize {
        (self.base + usize::try_from(relative).unwrap_or(usize::MAX)).min(self.bytes.len())
    }
}

impl Reader for CsvReader {
    fn next_item(&mut self) -> Result<Option<Item>, ConnectorError> {
        let mut row = ByteRecord::new();
        let more = self
            .reader
            .read_byte_record(&mut row)
            .map_err(|e| ConnectorError::Input {
                locator: format!("{}:{}", self.name, self.lines + 1),
                reason: e.to_string(),
            })?;
        if !more {
            let end = self.absolute(self.reader.position().byte());
            self.lines += count_lines(&self.bytes[self.end..end]);
            self.end = end;
            return Ok(None);
        }
        let start = row
            .position()
            .map_or(self.end, |p| self.absolute(p.byte()))
            .max(self.end);
        // The parser counts line breaks skipped before a record (blank lines, the `\n` of a
        // `\r\n`) as part of it; the record's own line starts after them.
        let start = start
            + self.bytes[start..]
                .iter()
                .take_while(|b| **b == b'\n' || **b == b'\r')
                .count();
        let end = self.absolute(self.reader.position().byte()).max(start);
        let line = self.lines + count_lines(&self.bytes[self.end..start]) + 1;
        self.lines += count_lines(&self.bytes[self.end..end]);
        self.end = end;
        let locator = format!("{}:{line}", self.name);
        let reject = |reason: String| {
            Outcome::Rejected(RejectedInput {
                locator: locator.clone(),
                raw: raw_text(&self.bytes[start..end]),
                reason,
            })
        };
        let outcome = if row.len() != self.headers.len() {
            reject(format!(
                "expected {} fields as in the header, found {}",
                self.headers.len(),
                row.len()
            ))
        } else {
            let mut object = Map::new();
            let mut bad = None;
            for (header, field) in self.headers.iter().zip(row.iter()) {
                match std::str::from_utf8(field) {
                    Ok(text) => {
                        object.insert(header.clone(), Value::String(text.to_string()));
                    }
                    Err(_) => {
                        bad = Some(header.clone());
                        break;
                    }
                }
            }
            match bad {
                Some(column) => reject(format!("field `{column}` is not valid UTF-8")),
                None => Outcome::Record(RawRecord {
                    locator: locator.clone(),
                    payload: Value::Object(object),
                }),
            }
        };
        Ok(Some(Item {
            start,
            lines_before: line - 1,
            outcome,
        }))
    }

    fn position(&self) -> (usize, u64) {
        (self.end, self.lines)
    }
}
