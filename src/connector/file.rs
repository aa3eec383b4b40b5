//! The `file` kind: CSV and JSON Lines files in a folder.

use serde_json::Value;

use super::config::{ConnectorConfig, StreamConfig};
use super::{ConnectorError, Source, SourceContext};

/// Opens a file stream.
pub(super) fn open(
    _connector: &ConnectorConfig,
    _stream: &StreamConfig,
    _cursor: Option<Value>,
    _ctx: &SourceContext,
) -> Result<Box<dyn Source>, ConnectorError> {
    todo!("file source")
}
