//! What the scheduler did, as typed events: each one logs its line, counts itself in
//! [`SchedulerStats`] and is sent to subscribers ([`super::Scheduler::subscribe`]) together,
//! so logs, metrics and tests never disagree.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Mutex;

use chrono::{DateTime, Utc};
use serde::Serialize;
use tokio::sync::broadcast;

use crate::store::RunStatus;

/// What a job runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RunKind {
    /// Every stream from its cursor (`schedule`).
    Incremental,
    /// Every stream's cursor reset first (`full_schedule`, as `sync --full`).
    Full,
}

impl RunKind {
    /// `incremental` or `full`, a fixed label for logs and metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            RunKind::Incremental => "incremental",
            RunKind::Full => "full",
        }
    }
}

impl fmt::Display for RunKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a tick started no run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SkipReason {
    /// The previous run of the connector (incremental or full) in this scheduler is still going.
    AlreadyRunning,
    /// Another process or daemon on the same store holds the connector's run lock.
    LockedElsewhere,
    /// The run lock could not be asked for (the store failed).
    LockFailed(String),
}

impl SkipReason {
    /// A fixed label for metrics: `already_running`, `locked_elsewhere` or `lock_failed`.
    pub fn as_str(&self) -> &'static str {
        match self {
            SkipReason::AlreadyRunning => "already_running",
            SkipReason::LockedElsewhere => "locked_elsewhere",
            SkipReason::LockFailed(_) => "lock_failed",
        }
    }
}

/// One thing the scheduler did. `scheduled` is the tick's instant, not when it was handled.
#[derive(Debug, Clone, PartialEq)]
pub enum SchedulerEvent {
    /// A run began.
    Started {
        /// Connector.
        connector: String,
        /// Incremental or full.
        kind: RunKind,
        /// The tick.
        scheduled: DateTime<Utc>,
    },
    /// A run ended: the run's status, or the error that stopped it before or outside a run.
    Finished {
        /// Connector.
        connector: String,
        /// Incremental or full.
        kind: RunKind,
        /// The tick.
        scheduled: DateTime<Utc>,
        /// How it ended.
        outcome: Result<RunStatus, String>,
    },
    /// A tick started no run.
    Skipped {
        /// Connector.
        connector: String,
        /// Incremental or full.
        kind: RunKind,
        /// The tick.
        scheduled: DateTime<Utc>,
        /// Why.
        reason: SkipReason,
    },
}

/// Counters of one connector, for metrics (`tributary_scheduler_…{connector=…}`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct ConnectorStats {
    /// Runs started.
    pub started: u64,
    /// Runs ended `success`.
    pub success: u64,
    /// Runs ended `partial` (some records quarantined).
    pub partial: u64,
    /// Runs ended `failed`, or stopped by an error outside a run.
    pub failed: u64,
    /// Runs stopped by a shutdown.
    pub cancelled: u64,
    /// Ticks skipped because the connector's previous run was still going.
    pub skipped_running: u64,
    /// Ticks skipped because another process held the run lock (or it could not be asked for).
    pub skipped_locked: u64,
}

/// Counters of every connector since the scheduler started (kept across reloads).
pub type SchedulerStats = BTreeMap<String, ConnectorStats>;

/// Where events go: the log, the counters and the subscribers.
#[derive(Debug)]
pub(super) struct Telemetry {
    stats: Mutex<SchedulerStats>,
    events: broadcast::Sender<SchedulerEvent>,
}

/// Events a slow subscriber may fall behind by before it misses some.
const BACKLOG: usize = 1024;

impl Telemetry {
    pub(super) fn new() -> Self {
        Telemetry {
            stats: Mutex::new(SchedulerStats::new()),
            events: broadcast::Sender::new(BACKLOG),
        }
    }

    pub(super) fn subscribe(&self) -> broadcast::Receiver<SchedulerEvent> {
        self.events.subscribe()
    }

    pub(super) fn stats(&self) -> SchedulerStats {
        self.stats.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Logs, counts and sends one event.
    pub(super) fn emit(&self, event: SchedulerEvent) {
        let mut stats = self.stats.lock().unwrap_or_else(|p| p.into_inner());
        match &event {
            SchedulerEvent::Started {
                connector,
                kind,
                scheduled,
            } => {
                tracing::info!(%connector, %kind, %scheduled, "scheduled run started");
                stats.entry(connector.clone()).or_default().started += 1;
            }
            SchedulerEvent::Finished {
                connector,
                kind,
                scheduled,
                outcome,
            } => {
                let counts = stats.entry(connector.clone()).or_default();
                match outcome {
                    Ok(status) => {
                        tracing::info!(%connector, %kind, %scheduled, status = status.as_str(), "scheduled run finished");
                        match status {
                            RunStatus::Success => counts.success += 1,
                            RunStatus::Partial => counts.partial += 1,
                            RunStatus::Cancelled => counts.cancelled += 1,
                            RunStatus::Failed | RunStatus::Running => counts.failed += 1,
                        }
                    }
                    Err(error) => {
                        tracing::error!(%connector, %kind, %scheduled, %error, "scheduled run failed");
                        counts.failed += 1;
                    }
                }
            }
            SchedulerEvent::Skipped {
                connector,
                kind,
                scheduled,
                reason,
            } => {
                let counts = stats.entry(connector.clone()).or_default();
                match reason {
                    SkipReason::AlreadyRunning => {
                        tracing::warn!(%connector, %kind, %scheduled, "tick skipped: the previous run of this connector is still going");
                        counts.skipped_running += 1;
                    }
                    SkipReason::LockedElsewhere => {
                        tracing::warn!(%connector, %kind, %scheduled, "tick skipped: another process holds this connector's run lock");
                        counts.skipped_locked += 1;
                    }
                    SkipReason::LockFailed(error) => {
                        tracing::warn!(%connector, %kind, %scheduled, %error, "tick skipped: the run lock could not be taken");
                        counts.skipped_locked += 1;
                    }
                }
            }
        }
        drop(stats);
        // No subscriber is not an error.
        let _ = self.events.send(event);
    }
}
