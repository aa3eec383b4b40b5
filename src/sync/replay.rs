//! Replaying a quarantined record after its mapping was fixed: the stored raw payload goes
//! through the stream's current mapping; when it maps, it is staged in a run of its own and
//! leaves the quarantine, otherwise it stays with the new reason.
//!
//! Staging and release are two steps: a crash between them leaves the record both staged and
//! quarantined, and replaying it again stages nothing new (staging is keyed and hashed) and
//! releases it.

use std::collections::BTreeMap;

use serde::Serialize;

use super::{SyncError, stage};
use crate::config::Project;
use crate::mapping::Mapping;
use crate::store::{Batch, Counts, RunStatus, Store};

/// What a replay did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Replayed {
    /// Mapped and staged; removed from the quarantine.
    Staged {
        /// The run that staged it.
        run: i64,
        /// Its key.
        key: String,
    },
    /// Still does not map; stays quarantined.
    StillFailing {
        /// Why, with the current mapping.
        reason: String,
    },
}

/// Replays quarantined record `id`; `None` when there is no such record.
pub async fn replay_quarantined(
    project: &Project,
    mappings: &BTreeMap<String, Mapping>,
    store: &Store,
    id: i64,
) -> Result<Option<Replayed>, SyncError> {
    let Some(row) = store.quarantined(id).await? else {
        return Ok(None);
    };
    let mapping = project
        .connectors
        .values()
        .find(|c| c.config.name == row.connector)
        .and_then(|c| c.config.streams.iter().find(|s| s.name == row.stream))
        .and_then(|s| mappings.get(&s.mapping))
        .ok_or_else(|| SyncError::UnknownStream {
            connector: row.connector.clone(),
            stream: row.stream.clone(),
        })?;
    let record = match mapping.apply(&row.payload) {
        Ok(rec) => stage(rec, row.payload.clone()),
        Err(e) => {
            return Ok(Some(Replayed::StillFailing {
                reason: e.to_string(),
            }));
        }
    };
    let key = record.key.clone();
    let run = store.start_run(&row.connector).await?;
    let counts = store
        .commit_batch(Batch {
            run,
            connector: &row.connector,
            stream: &row.stream,
            records: vec![record],
            quarantined: vec![],
            cursor: None,
        })
        .await?;
    store
        .finish_run(
            run,
            RunStatus::Success,
            Counts {
                fetched: 1,
                ..counts
            },
            None,
        )
        .await?;
    store.release_quarantined(id).await?;
    Ok(Some(Replayed::Staged { run, key }))
}
