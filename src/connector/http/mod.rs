//! The `http` kind: REST/JSON APIs. (Being written.)

use serde_json::Value;

use super::config::{ConnectorConfig, StreamConfig};
use super::{ConnectorError, Source, SourceContext};

/// Opens an HTTP stream.
pub(super) fn open(
    _connector: &ConnectorConfig,
    _stream: &StreamConfig,
    _cursor: Option<Value>,
    _ctx: &SourceContext,
) -> Result<Box<dyn Source>, ConnectorError> {
    todo!("http source")
}
