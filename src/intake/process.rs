//! [`process_inbox`]: pending webhook events → mapping → staging, exactly once each.

use std::collections::BTreeMap;

use serde_json::Value;

use super::event::records_of;
use crate::config::Project;
use crate::connector::RawRecord;
use crate::mapping::Mapping;
use crate::model::RunId;
use crate::store::{
    Batch, Counts, InboxEvent, Quarantined, RunStatus, StagedRecord, Store, StoreError,
};
use crate::sync::map_records;

/// Events read from the inbox at a time.
const BATCH: i64 = 100;
/// Attempts after which an event that keeps failing to be written is marked `failed`.
const MAX_ATTEMPTS: u64 = 5;
/// Event errors quoted in a run's error text.
const ERRORS_SHOWN: usize = 5;

/// What one [`process_inbox`] call did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ProcessReport {
    /// Events whose records were staged or quarantined.
    pub processed: u64,
    /// Events marked `failed` (their connector, stream or mapping is gone, or their body no
    /// longer reads).
    pub failed: u64,
    /// Record counts over all events.
    pub counts: Counts,
    /// One sync run per connector that had events.
    pub runs: Vec<InboxRun>,
}

impl ProcessReport {
    /// True when records were newly staged or changed: the master should be rebuilt.
    pub fn staged_any(&self) -> bool {
        self.counts.staged > 0
    }
}

/// The sync run recorded for one connector's events.
#[derive(Debug, Clone, PartialEq)]
pub struct InboxRun {
    /// Connector name.
    pub connector: String,
    /// The run in the run history.
    pub run: RunId,
    /// How it ended: `failed` when an event failed or a store error stopped it, `partial` when
    /// records were quarantined.
    pub status: RunStatus,
    /// Record counts.
    pub counts: Counts,
    /// Events processed.
    pub processed: u64,
    /// Events failed.
    pub failed: u64,
    errors: Vec<String>,
}

impl InboxRun {
    fn outcome(&self) -> RunStatus {
        if !self.errors.is_empty() {
            RunStatus::Failed
        } else if self.counts.quarantined > 0 {
            RunStatus::Partial
        } else {
            RunStatus::Success
        }
    }

    fn error(&self) -> Option<String> {
        if self.errors.is_empty() {
            return None;
        }
        let mut text = self.errors[..self.errors.len().min(ERRORS_SHOWN)].join("; ");
        if self.errors.len() > ERRORS_SHOWN {
            text.push_str(&format!("; and {} more", self.errors.len() - ERRORS_SHOWN));
        }
        Some(text)
    }
}

/// Processes every pending inbox event, oldest first: its records are mapped with its stream's
/// mapping and staged (rejects quarantined with their reason) in the transaction that marks the
/// event processed, under one sync run per connector. An event that cannot be processed for
/// good is marked `failed` with the reason and the others go on.
///
/// Afterwards, when [`ProcessReport::staged_any`], rebuild the master
/// ([`crate::master::reconcile_master`], then [`crate::master::refresh_insights`]).
///
/// # Errors
/// A store error stops the call; the event at hand stays pending (failed after
/// [`MAX_ATTEMPTS`]) and the runs started so far are recorded as failed.
pub async fn process_inbox(
    project: &Project,
    mappings: &BTreeMap<String, Mapping>,
    store: &Store,
) -> Result<ProcessReport, StoreError> {
    let mut runs: BTreeMap<String, InboxRun> = BTreeMap::new();
    let outcome = process_pending(project, mappings, store, &mut runs).await;
    let mut report = ProcessReport::default();
    for (_, mut run) in runs {
        if let Err(e) = &outcome {
            run.errors.push(format!("stopped: {e}"));
        }
        run.status = run.outcome();
        store
            .finish_run(run.run, run.status, run.counts, run.error().as_deref())
            .await?;
        report.processed += run.processed;
        report.failed += run.failed;
        report.counts += run.counts;
        report.runs.push(run);
    }
    outcome.map(|()| report)
}

async fn process_pending(
    project: &Project,
    mappings: &BTreeMap<String, Mapping>,
    store: &Store,
    runs: &mut BTreeMap<String, InboxRun>,
) -> Result<(), StoreError> {
    loop {
        let events = store.pending_events(BATCH).await?;
        if events.is_empty() {
            return Ok(());
        }
        for event in events {
            let run = match runs.get_mut(&event.connector) {
                Some(run) => run,
                None => {
                    let id = store.start_run(&event.connector).await?;
                    runs.entry(event.connector.clone()).or_insert(InboxRun {
                        connector: event.connector.clone(),
                        run: id,
                        status: RunStatus::Running,
                        counts: Counts::default(),
                        processed: 0,
                        failed: 0,
                        errors: vec![],
                    })
                }
            };
            process_one(project, mappings, store, &event, run).await?;
        }
    }
}

async fn process_one(
    project: &Project,
    mappings: &BTreeMap<String, Mapping>,
    store: &Store,
    event: &InboxEvent,
    run: &mut InboxRun,
) -> Result<(), StoreError> {
    let (records, quarantined, fetched) = match prepare(project, mappings, event) {
        Ok(prepared) => prepared,
        Err(reason) => {
            tracing::warn!(connector = %event.connector, inbox_id = event.id, %reason, "webhook event failed");
            if store
                .fail_event(event.id, Some(run.run), &reason, true)
                .await?
            {
                run.failed += 1;
                run.errors.push(format!("event {}: {reason}", event.id));
            }
            return Ok(());
        }
    };
    let batch = Batch {
        run: run.run,
        connector: &event.connector,
        stream: &event.stream,
        records,
        quarantined,
        cursor: None,
    };
    match store.stage_event(event.id, batch).await {
        Ok(Some(mut counts)) => {
            counts.fetched = fetched;
            run.counts += counts;
            run.processed += 1;
            Ok(())
        }
        // Another processor staged it meanwhile.
        Ok(None) => Ok(()),
        Err(e) => {
            let give_up = event.attempts + 1 >= MAX_ATTEMPTS;
            if let Err(note) = store
                .fail_event(event.id, Some(run.run), &e.to_string(), give_up)
                .await
            {
                tracing::error!(inbox_id = event.id, error = %note, "recording a failed attempt");
            }
            Err(e)
        }
    }
}

/// The event's records, mapped: staged records, quarantined ones, and how many there were.
/// `Err` is a reason that will not go away by retrying.
fn prepare(
    project: &Project,
    mappings: &BTreeMap<String, Mapping>,
    event: &InboxEvent,
) -> Result<(Vec<StagedRecord>, Vec<Quarantined>, u64), String> {
    let connector = project
        .connectors
        .get(&event.connector)
        .ok_or_else(|| format!("connector `{}` is no longer configured", event.connector))?;
    let config = connector
        .config
        .webhook
        .as_ref()
        .ok_or_else(|| format!("connector `{}` has no [webhook] table", event.connector))?;
    let stream = connector
        .config
        .streams
        .iter()
        .find(|s| s.name == event.stream)
        .ok_or_else(|| {
            format!(
                "connector `{}` has no stream `{}`",
                event.connector, event.stream
            )
        })?;
    let mapping = mappings
        .get(&stream.mapping)
        .ok_or_else(|| format!("mapping `{}` is not available", stream.mapping))?;
    let body: Value = serde_json::from_str(&event.body)
        .map_err(|e| format!("the stored body is not JSON: {e}"))?;
    let records = records_of(config, &body)?;
    let fetched = records.len() as u64;
    let raw = records
        .into_iter()
        .enumerate()
        .map(|(i, payload)| RawRecord {
            locator: format!("webhook event {} record {}", event.id, i + 1),
            payload,
        })
        .collect();
    let (staged, quarantined) = map_records(mapping, raw);
    Ok((staged, quarantined, fetched))
}
