//! Progress callbacks, so the CLI can draw a bar without the sync knowing about terminals.

use crate::store::Counts;

/// Receives progress of a run.
pub trait Progress: Sync {
    /// A stream begins.
    fn stream_started(&self, _connector: &str, _stream: &str) {}
    /// A page was committed; `counts` are the stream's totals so far.
    fn page_committed(&self, _connector: &str, _stream: &str, _counts: crate::store::Counts) {}
    /// A stream ended without error.
    fn stream_finished(&self, _connector: &str, _stream: &str, _counts: Counts) {}
}

/// Progress that shows nothing.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoProgress;

impl Progress for NoProgress {}
