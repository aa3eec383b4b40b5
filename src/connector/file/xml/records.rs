//! A streaming XML record reader: yields one JSON value per element matched by a record path.
//!
//! The reader pulls events from any [`BufRead`] and never holds more than one record (plus one
//! piece of markup or text) in memory. Conversion of a record's subtree into JSON:
//!
//! - child elements become keys (local names: namespace prefixes are dropped);
//! - a child name that repeats becomes an array; names listed in `arrays` always do;
//! - attributes become `@name` keys (namespace declarations are left out);
//! - an element with neither attributes nor children becomes its text (a string, possibly
//!   empty); otherwise its non-blank text goes under `#text`;
//! - text that is only whitespace between elements is dropped; all text stays a string.
//!
//! Security: a DOCTYPE (and with it any entity definition) is refused; only the five
//! predefined entities and character references are resolved. Nesting deeper than
//! `max_depth` and a record larger than `max_record_bytes` are refused.

use std::collections::HashSet;
use std::io::{BufRead, Read};

use quick_xml::XmlVersion;
use quick_xml::events::{BytesStart, Event};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use thiserror::Error;

/// Default limit on element nesting.
pub(crate) const DEFAULT_MAX_DEPTH: usize = 64;
/// Default limit on one record's size in bytes (16 MiB).
pub(crate) const DEFAULT_MAX_RECORD_BYTES: u64 = 16 * 1024 * 1024;

/// How records are cut out of a document and shaped.
#[derive(Debug, Clone)]
pub(crate) struct XmlOptions {
    /// Local names of the record path, e.g. `["DEBMAS07", "IDOC"]`; an element whose open
    /// ancestors (itself included) end with these names is a record.
    pub record_path: Vec<String>,
    /// Element names always converted to arrays.
    pub arrays: HashSet<String>,
    /// Maximum element nesting.
    pub max_depth: usize,
    /// Maximum size of one record (and of one piece of markup or text anywhere).
    pub max_record_bytes: u64,
}

impl XmlOptions {
    /// Options for a `/`-separated record path, default limits and no forced arrays.
    pub(crate) fn new(record_path: &str) -> Result<Self, String> {
        let record_path: Vec<String> = record_path
            .split('/')
            .filter(|s| !s.is_empty())
            .map(|s| local(s).to_string())
            .collect();
        if record_path.is_empty() {
            return Err("record_path must name at least one element, e.g. `DEBMAS07/IDOC`".into());
        }
        Ok(XmlOptions {
            record_path,
            arrays: HashSet::new(),
            max_depth: DEFAULT_MAX_DEPTH,
            max_record_bytes: DEFAULT_MAX_RECORD_BYTES,
        })
    }
}

/// Errors that stop reading a document (nothing after them can be interpreted).
#[derive(Debug, Error)]
pub(crate) enum XmlError {
    /// The document has a DOCTYPE.
    #[error(
        "line {line} (byte {offset}): DOCTYPE declarations are refused (no DTDs or entity definitions are processed)"
    )]
    Doctype {
        /// Line (1-based).
        line: u64,
        /// Byte offset.
        offset: u64,
    },
    /// Malformed XML the reader cannot continue after.
    #[error("line {line} (byte {offset}): XML syntax error: {message}")]
    Syntax {
        /// Line (1-based).
        line: u64,
        /// Byte offset.
        offset: u64,
        /// What is wrong.
        message: String,
    },
    /// Nesting deeper than allowed outside any record.
    #[error("line {line} (byte {offset}): elements nested deeper than max_depth = {limit}")]
    TooDeep {
        /// Line (1-based).
        line: u64,
        /// Byte offset.
        offset: u64,
        /// The limit.
        limit: usize,
    },
    /// The file could not be read.
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

/// One item of the document.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum XmlItem {
    /// A converted record.
    Record {
        /// 1-based record number in the file.
        index: u64,
        /// 1-based line where its start tag begins.
        line: u64,
        /// The record.
        value: Value,
    },
    /// A record that could not be converted.
    Rejected {
        /// 1-based record number in the file.
        index: u64,
        /// 1-based line where its start tag begins.
        line: u64,
        /// Its text (up to `max_record_bytes`).
        raw: String,
        /// Why.
        reason: String,
    },
}

/// A [`BufRead`] that counts, hashes and optionally captures what is consumed.
pub(crate) struct Tracked<R> {
    inner: R,
    hasher: Sha256,
    consumed: u64,
    lines: u64,
    capture: Option<Vec<u8>>,
    /// Consumed count when the current event started, and the most one event may span.
    event_start: u64,
    max_event: u64,
}

impl<R: BufRead> Tracked<R> {
    /// Wraps `inner`, positioned at `offset` after `lines` line breaks whose bytes hashed
    /// into `hasher`.
    pub(crate) fn new(inner: R, offset: u64, lines: u64, hasher: Sha256, max_event: u64) -> Self {
        Tracked {
            inner,
            hasher,
            consumed: offset,
            lines,
            capture: None,
            event_start: offset,
            max_event,
        }
    }
}

impl<R: BufRead> Read for Tracked<R> {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        let avail = self.fill_buf()?;
        let n = avail.len().min(out.len());
        out[..n].copy_from_slice(&avail[..n]);
        self.consume(n);
        Ok(n)
    }
}

impl<R: BufRead> BufRead for Tracked<R> {
    fn fill_buf(&mut self) -> std::io::Result<&[u8]> {
        if self.consumed - self.event_start > self.max_event {
            return Err(std::io::Error::other(format!(
                "one piece of markup or text is larger than max_record_bytes = {}",
                self.max_event
            )));
        }
        self.inner.fill_buf()
    }

    fn consume(&mut self, amt: usize) {
        if amt == 0 {
            return;
        }
        if let Ok(buf) = self.inner.fill_buf() {
            let used = &buf[..amt.min(buf.len())];
            self.hasher.update(used);
            self.lines += used.iter().filter(|b| **b == b'\n').count() as u64;
            if let Some(c) = self.capture.as_mut() {
                c.extend_from_slice(used);
            }
        }
        self.consumed += amt as u64;
        self.inner.consume(amt);
    }
}

/// The local part of a possibly prefixed name.
fn local(name: &str) -> &str {
    name.rsplit_once(':').map_or(name, |(_, l)| l)
}

/// An element being converted.
struct Frame {
    name: String,
    attrs: Vec<(String, String)>,
    children: Map<String, Value>,
    text: String,
}

impl Frame {
    fn into_value(self) -> Value {
        if self.attrs.is_empty() && self.children.is_empty() {
            let blank = self.text.trim().is_empty();
            return Value::String(if blank { String::new() } else { self.text });
        }
        let mut map = Map::new();
        for (k, v) in self.attrs {
            map.insert(format!("@{k}"), Value::String(v));
        }
        for (k, v) in self.children {
            map.insert(k, v);
        }
        if !self.text.trim().is_empty() {
            map.insert("#text".into(), Value::String(self.text));
        }
        Value::Object(map)
    }
}

/// The record being read.
struct Building {
    index: u64,
    line: u64,
    start: u64,
    /// Depth of the record element in the document stack.
    depth: usize,
    frames: Vec<Frame>,
    /// Set once the record is known to be bad; conversion stops, reading goes on to its end.
    error: Option<String>,
}

/// A position where reading can resume.
#[derive(Clone)]
struct Safe {
    offset: u64,
    lines: u64,
    hasher: Sha256,
    records: u64,
    elements: Vec<String>,
}

/// Where a resumed reading can start: just after the last complete record, or after the
/// whole document once it is complete.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SafePoint {
    /// Bytes before it.
    pub offset: u64,
    /// Line breaks among them.
    pub lines: u64,
    /// Hex SHA-256 of those bytes.
    pub sha256: String,
    /// Records before it.
    pub records: u64,
    /// Local names of the elements open there.
    pub elements: Vec<String>,
}

/// Reads records out of one XML document.
pub(crate) struct XmlRecords<R: BufRead> {
    reader: quick_xml::Reader<Tracked<R>>,
    options: XmlOptions,
    /// Local names of the open elements.
    stack: Vec<String>,
    buf: Vec<u8>,
    records: u64,
    building: Option<Building>,
    /// Position after the last complete record (or the whole document).
    safe: Safe,
    finished: bool,
}

impl<R: BufRead> XmlRecords<R> {
    /// Reads from the start of a document.
    pub(crate) fn new(input: R, options: XmlOptions) -> Self {
        Self::resume(input, options, 0, 0, Sha256::new(), 0, Vec::new())
    }

    /// Reads from `offset` (just after a record), where `elements` are open, `records` were
    /// already read, `lines` line breaks precede and `hasher` holds the hash of the prefix.
    pub(crate) fn resume(
        input: R,
        options: XmlOptions,
        offset: u64,
        lines: u64,
        hasher: Sha256,
        records: u64,
        elements: Vec<String>,
    ) -> Self {
        let safe = Safe {
            offset,
            lines,
            hasher: hasher.clone(),
            records,
            elements: elements.clone(),
        };
        let tracked = Tracked::new(input, offset, lines, hasher, options.max_record_bytes);
        let mut reader = quick_xml::Reader::from_reader(tracked);
        let config = reader.config_mut();
        config.check_end_names = false;
        config.allow_unmatched_ends = true;
        config.expand_empty_elements = false;
        XmlRecords {
            reader,
            options,
            stack: elements,
            buf: Vec::with_capacity(8 * 1024),
            records,
            building: None,
            safe,
            finished: false,
        }
    }

    #[cfg_attr(not(test), allow(dead_code))]
    /// Bytes consumed from the input so far (the whole file, counting the resumed prefix).
    pub(crate) fn consumed(&self) -> u64 {
        self.reader.get_ref().consumed
    }

    #[cfg_attr(not(test), allow(dead_code))]
    /// Capacity of the event buffer: stays near the size of the largest event.
    pub(crate) fn buffer_capacity(&self) -> usize {
        self.buf.capacity()
    }

    /// Where a resumed reading can start.
    pub(crate) fn safe_point(&self) -> SafePoint {
        SafePoint {
            offset: self.safe.offset,
            lines: self.safe.lines,
            sha256: hex::encode(self.safe.hasher.clone().finalize()),
            records: self.safe.records,
            elements: self.safe.elements.clone(),
        }
    }

    fn here(&self) -> (u64, u64) {
        let t = self.reader.get_ref();
        (t.lines + 1, t.consumed)
    }

    fn mark_safe(&mut self) {
        let t = self.reader.get_ref();
        self.safe = Safe {
            offset: t.consumed,
            lines: t.lines,
            hasher: t.hasher.clone(),
            records: self.records,
            elements: self.stack.clone(),
        };
    }

    fn is_record_start(&self) -> bool {
        let path = &self.options.record_path;
        self.building.is_none() && self.stack.len() >= path.len() && self.stack.ends_with(path)
    }

    /// The next record, or `None` at the end of the input.
    pub(crate) fn next_item(&mut self) -> Result<Option<XmlItem>, XmlError> {
        if self.finished {
            return Ok(None);
        }
        loop {
            if self.building.is_none() {
                // Whatever precedes a record is not kept.
                let t = self.reader.get_mut();
                match t.capture.as_mut() {
                    Some(c) => c.clear(),
                    None => t.capture = Some(Vec::new()),
                }
            }
            let (line_before, pos_before) = self.here();
            self.reader.get_mut().event_start = pos_before;
            let event = match self.reader.read_event_into(&mut self.buf) {
                Ok(e) => e.into_owned(),
                Err(e) => {
                    let (line, offset) = if self.buf.is_empty() {
                        (line_before, pos_before)
                    } else {
                        self.here()
                    };
                    return Err(XmlError::Syntax {
                        line,
                        offset,
                        message: e.to_string(),
                    });
                }
            };
            self.buf.clear();
            if self.buf.capacity() > 64 * 1024 {
                self.buf.shrink_to(8 * 1024);
            }
            match event {
                Event::DocType(_) => {
                    return Err(XmlError::Doctype {
                        line: line_before,
                        offset: pos_before,
                    });
                }
                Event::Start(start) => {
                    let name = local(start.name().0).to_string();
                    self.stack.push(name);
                    if let Some(item) = self.open(&start, line_before, pos_before, false)? {
                        return Ok(Some(item));
                    }
                }
                Event::Empty(start) => {
                    let name = local(start.name().0).to_string();
                    self.stack.push(name);
                    let item = self.open(&start, line_before, pos_before, true)?;
                    if item.is_some() {
                        return Ok(item);
                    }
                }
                Event::End(end) => {
                    let name = local(end.name().0).to_string();
                    if let Some(item) = self.close(&name, line_before) {
                        return Ok(Some(item));
                    }
                }
                Event::Text(text) => {
                    let content = text.xml_content(XmlVersion::Implicit1_0);
                    self.text(&content);
                }
                Event::CData(data) => {
                    let content = data.xml_content(XmlVersion::Implicit1_0);
                    self.text(&content);
                }
                Event::GeneralRef(r) => {
                    let name = r.xml_content(XmlVersion::Implicit1_0).into_owned();
                    let resolved = match r.resolve_char_ref() {
                        Ok(Some(c)) => Some(c.to_string()),
                        Ok(None) => {
                            quick_xml::escape::resolve_predefined_entity(&name).map(str::to_string)
                        }
                        Err(_) => None,
                    };
                    match resolved {
                        Some(s) => self.text(&s),
                        None => self.poison(format!(
                            "line {line_before}: unknown or invalid entity reference &{name};"
                        )),
                    }
                }
                Event::Comment(_) | Event::Decl(_) | Event::PI(_) => {}
                Event::Eof => {
                    self.finished = true;
                    if self.stack.is_empty() && self.building.is_none() {
                        self.mark_safe();
                    }
                    // A record cut short by the end of the file is left for a later run
                    // (the file may still be being written).
                    return Ok(None);
                }
            }
            if let Some(b) = &self.building {
                let size = self.reader.get_ref().consumed - b.start;
                if size > self.options.max_record_bytes && b.error.is_none() {
                    let limit = self.options.max_record_bytes;
                    self.poison(format!("record is larger than max_record_bytes = {limit}"));
                    // Stop capturing its text.
                    self.reader.get_mut().capture = None;
                }
            }
        }
    }

    /// Handles a start (or empty) tag already pushed on the stack.
    fn open(
        &mut self,
        start: &BytesStart<'_>,
        line: u64,
        offset: u64,
        empty: bool,
    ) -> Result<Option<XmlItem>, XmlError> {
        let depth = self.stack.len();
        if depth > self.options.max_depth {
            let limit = self.options.max_depth;
            if self.building.is_none() {
                return Err(XmlError::TooDeep {
                    line,
                    offset,
                    limit,
                });
            }
            self.poison(format!(
                "line {line}: elements nested deeper than max_depth = {limit}"
            ));
        }
        if self.is_record_start() {
            self.records += 1;
            self.building = Some(Building {
                index: self.records,
                line,
                start: offset,
                depth,
                frames: Vec::new(),
                error: None,
            });
        }
        let Some(b) = self.building.as_mut() else {
            if empty {
                self.stack.pop();
            }
            return Ok(None);
        };
        if b.error.is_none() {
            let mut attrs = Vec::new();
            for attr in start.attributes() {
                let attr = match attr {
                    Ok(a) => a,
                    Err(e) => {
                        let reason = format!("line {line}: bad attribute: {e}");
                        self.poison(reason);
                        break;
                    }
                };
                let key = attr.key.0;
                if key == "xmlns" || key.starts_with("xmlns:") {
                    continue;
                }
                match attr.normalized_value(XmlVersion::Implicit1_0) {
                    Ok(v) => attrs.push((local(key).to_string(), v.into_owned())),
                    Err(e) => {
                        self.poison(format!("line {line}: attribute {key}: {e}"));
                        break;
                    }
                }
            }
            if let Some(b) = self.building.as_mut()
                && b.error.is_none()
            {
                b.frames.push(Frame {
                    name: self.stack[depth - 1].clone(),
                    attrs,
                    children: Map::new(),
                    text: String::new(),
                });
            }
        }
        if empty {
            let name = self.stack[depth - 1].clone();
            return Ok(self.close(&name, line));
        }
        Ok(None)
    }

    /// Handles an end tag; returns the record when it closes one.
    fn close(&mut self, name: &str, line: u64) -> Option<XmlItem> {
        match self.stack.last() {
            Some(top) if top == name => {}
            _ => {
                if self.building.is_some() {
                    let expected = self.stack.last().cloned().unwrap_or_default();
                    self.poison(format!(
                        "line {line}: expected </{expected}>, found </{name}>"
                    ));
                }
                // Recover: close up to the matching open element, if any; ignore otherwise.
                let at = self.stack.iter().rposition(|n| n == name)?;
                while self.stack.len() > at + 1 {
                    if let Some(item) = self.pop() {
                        // The record itself was closed by a mismatched tag.
                        self.stack.truncate(at);
                        return Some(item);
                    }
                }
            }
        }
        self.pop()
    }

    /// Pops the top element; returns the record when it is the record element.
    fn pop(&mut self) -> Option<XmlItem> {
        let depth = self.stack.len();
        self.stack.pop();
        let b = self.building.as_mut()?;
        if b.error.is_none() {
            let frame = b.frames.pop()?;
            let arrays = &self.options.arrays;
            if let Some(parent) = b.frames.last_mut() {
                let name = frame.name.clone();
                let value = frame.into_value();
                match parent.children.get_mut(&name) {
                    Some(Value::Array(items)) => items.push(value),
                    Some(existing) => {
                        let first = existing.take();
                        *existing = Value::Array(vec![first, value]);
                    }
                    None if arrays.contains(&name) => {
                        parent.children.insert(name, Value::Array(vec![value]));
                    }
                    None => {
                        parent.children.insert(name, value);
                    }
                }
                return None;
            }
            // The record element itself.
            let mut value = frame.into_value();
            if !value.is_object() {
                let mut map = Map::new();
                if let Value::String(s) = value
                    && !s.is_empty()
                {
                    map.insert("#text".into(), Value::String(s));
                }
                value = Value::Object(map);
            }
            let b = self.building.take()?;
            self.reader.get_mut().capture = None;
            self.mark_safe();
            return Some(XmlItem::Record {
                index: b.index,
                line: b.line,
                value,
            });
        }
        if depth != b.depth {
            return None;
        }
        let b = self.building.take()?;
        let raw = self.reader.get_mut().capture.take().unwrap_or_default();
        self.mark_safe();
        Some(XmlItem::Rejected {
            index: b.index,
            line: b.line,
            raw: String::from_utf8_lossy(&raw).into_owned(),
            reason: b.error.unwrap_or_default(),
        })
    }

    fn text(&mut self, s: &str) {
        if let Some(b) = self.building.as_mut()
            && b.error.is_none()
            && let Some(f) = b.frames.last_mut()
        {
            f.text.push_str(s);
        }
    }

    fn poison(&mut self, reason: String) {
        if let Some(b) = self.building.as_mut() {
            if b.error.is_none() {
                b.error = Some(reason);
            }
            b.frames.clear();
        }
    }
}

/// Converts a whole in-memory document (e.g. an HTTP response) into its records.
pub(crate) fn records_of(bytes: &[u8], options: XmlOptions) -> Result<Vec<XmlItem>, XmlError> {
    let mut reader = XmlRecords::new(bytes, options);
    let mut out = Vec::new();
    while let Some(item) = reader.next_item()? {
        out.push(item);
    }
    Ok(out)
}
