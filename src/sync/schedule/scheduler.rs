//! The scheduler's runtime: one task that sleeps until the next tick of any job and fires the
//! jobs that are due, and one task per run.

use std::collections::{BTreeMap, BTreeSet};
use std::panic::AssertUnwindSafe;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures::FutureExt;
use tokio::sync::{Semaphore, broadcast, watch};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::events::Telemetry;
use super::{
    Clock, Job, RunKind, Runner, ScheduledRun, SchedulerEvent, SchedulerStats, SkipReason,
};
use crate::config::Settings;
use crate::store::Store;

/// How the scheduler runs.
#[derive(Debug, Clone)]
pub struct SchedulerOptions {
    /// Most runs at once (at least 1).
    pub max_concurrent_runs: usize,
    /// The store whose run locks keep other processes from running a connector at the same
    /// time; `None` guards only within this scheduler.
    pub locks: Option<Store>,
}

impl SchedulerOptions {
    /// `[scheduler]` of the settings, without locks.
    pub fn from_settings(settings: &Settings) -> Self {
        SchedulerOptions {
            max_concurrent_runs: settings.scheduler.max_concurrent_runs,
            locks: None,
        }
    }

    /// Takes each connector's run lock in `store` around its runs.
    pub fn with_locks(mut self, store: Store) -> Self {
        self.locks = Some(store);
        self
    }
}

impl Default for SchedulerOptions {
    fn default() -> Self {
        SchedulerOptions {
            max_concurrent_runs: 2,
            locks: None,
        }
    }
}

/// The next tick of one job, as planned now.
#[derive(Debug, Clone, PartialEq)]
pub struct PlannedTick {
    /// The job.
    pub job: Job,
    /// Its next tick; `None` when its expression never fires again.
    pub at: Option<DateTime<Utc>>,
}

/// A running scheduler. Dropping it stops the ticks but not the runs under way; call
/// [`Scheduler::shutdown`] to wait for them.
pub struct Scheduler {
    shared: Arc<Shared>,
    ticker: Mutex<Option<JoinHandle<()>>>,
}

struct Shared {
    clock: Arc<dyn Clock>,
    runner: Arc<dyn Runner>,
    locks: Option<Store>,
    jobs: watch::Sender<Vec<Job>>,
    plan: Mutex<Vec<PlannedTick>>,
    /// Connectors with a run under way (or waiting for its turn) in this scheduler.
    running: Mutex<BTreeSet<String>>,
    turns: Arc<Semaphore>,
    telemetry: Telemetry,
    stop_ticks: CancellationToken,
    stop_runs: CancellationToken,
    runs: TaskTracker,
}

impl Scheduler {
    /// Starts ticking `jobs` on `clock`, handing due runs to `runner`. Must be called inside a
    /// tokio runtime.
    pub fn start(
        jobs: Vec<Job>,
        runner: Arc<dyn Runner>,
        clock: Arc<dyn Clock>,
        options: SchedulerOptions,
    ) -> Scheduler {
        let shared = Arc::new(Shared {
            clock,
            runner,
            locks: options.locks,
            jobs: watch::Sender::new(jobs),
            plan: Mutex::new(Vec::new()),
            running: Mutex::new(BTreeSet::new()),
            turns: Arc::new(Semaphore::new(options.max_concurrent_runs.max(1))),
            telemetry: Telemetry::new(),
            stop_ticks: CancellationToken::new(),
            stop_runs: CancellationToken::new(),
            runs: TaskTracker::new(),
        });
        shared.replan(&shared.jobs.borrow());
        let ticker = tokio::spawn(tick(shared.clone()));
        Scheduler {
            shared,
            ticker: Mutex::new(Some(ticker)),
        }
    }

    /// The jobs being ticked.
    pub fn jobs(&self) -> Vec<Job> {
        self.shared.jobs.borrow().clone()
    }

    /// Every job's next tick.
    pub fn next_ticks(&self) -> Vec<PlannedTick> {
        lock(&self.shared.plan).clone()
    }

    /// Swaps the jobs (a reloaded configuration); next ticks are planned from the current
    /// time. Runs under way go on. Check the new configuration first ([`super::load`]): an
    /// invalid one must never get here.
    pub fn replace(&self, jobs: Vec<Job>) {
        // Plan first: the ticking task wakes on the send and must find the new plan.
        self.shared.replan(&jobs);
        self.shared.jobs.send_replace(jobs);
    }

    /// Every event from now on. A receiver that falls more than 1024 events behind loses the
    /// oldest ([`broadcast::error::RecvError::Lagged`]).
    pub fn subscribe(&self) -> broadcast::Receiver<SchedulerEvent> {
        self.shared.telemetry.subscribe()
    }

    /// Counters per connector since the start (for metrics).
    pub fn stats(&self) -> SchedulerStats {
        self.shared.telemetry.stats()
    }

    /// Connectors with a run under way or waiting for its turn.
    pub fn running(&self) -> Vec<String> {
        lock(&self.shared.running).iter().cloned().collect()
    }

    /// Stops the ticks, asks the runs under way to stop after their current page (they end
    /// `cancelled`), and waits for them up to `grace` (wall time). Returns the connectors still
    /// running when the grace period ended (empty when all finished).
    pub async fn shutdown(&self, grace: Duration) -> Vec<String> {
        self.shared.stop_ticks.cancel();
        let ticker = lock(&self.ticker).take();
        if let Some(ticker) = ticker {
            let _ = ticker.await;
        }
        self.shared.stop_runs.cancel();
        self.shared.runs.close();
        if tokio::time::timeout(grace, self.shared.runs.wait())
            .await
            .is_err()
        {
            let left = self.running();
            tracing::warn!(?left, "shutdown: runs still going after the grace period");
            return left;
        }
        Vec::new()
    }
}

impl Drop for Scheduler {
    fn drop(&mut self) {
        self.shared.stop_ticks.cancel();
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Shared {
    /// Plans every job's next tick from the current time.
    fn replan(&self, jobs: &[Job]) {
        let now = self.clock.now();
        let plan = jobs
            .iter()
            .map(|job| PlannedTick {
                at: job.next_after(now),
                job: job.clone(),
            })
            .collect();
        *lock(&self.plan) = plan;
    }

    /// Takes the ticks due at `now` out of the plan, planning each job's next one.
    fn take_due(&self, now: DateTime<Utc>) -> Vec<(Job, DateTime<Utc>)> {
        let mut due = Vec::new();
        for planned in lock(&self.plan).iter_mut() {
            if let Some(at) = planned.at.filter(|at| *at <= now) {
                due.push((planned.job.clone(), at));
                planned.at = planned.job.next_after(now);
            }
        }
        due
    }
}

/// The ticking task.
async fn tick(shared: Arc<Shared>) {
    let mut changed = shared.jobs.subscribe();
    loop {
        let next = lock(&shared.plan).iter().filter_map(|p| p.at).min();
        let sleep = match next {
            Some(at) => shared.clock.sleep_until(at),
            None => futures::future::pending().boxed(),
        };
        tokio::select! {
            biased;
            _ = shared.stop_ticks.cancelled() => return,
            // `replace` planned anew; look again at the earliest tick.
            _ = changed.changed() => continue,
            _ = sleep => {}
        }
        let now = shared.clock.now();
        // One run per connector: a full tick wins over an incremental one at the same time.
        let mut runs: BTreeMap<String, (RunKind, DateTime<Utc>)> = BTreeMap::new();
        for (job, at) in shared.take_due(now) {
            let slot = runs.entry(job.connector).or_insert((job.kind, at));
            if job.kind == RunKind::Full {
                *slot = (RunKind::Full, at);
            }
        }
        for (connector, (kind, scheduled)) in runs {
            if !lock(&shared.running).insert(connector.clone()) {
                shared.telemetry.emit(SchedulerEvent::Skipped {
                    connector,
                    kind,
                    scheduled,
                    reason: SkipReason::AlreadyRunning,
                });
                continue;
            }
            let run = ScheduledRun {
                connector,
                kind,
                scheduled,
                cancel: shared.stop_runs.child_token(),
            };
            shared.runs.spawn(run_once(shared.clone(), run));
        }
    }
}

/// Marks a connector as no longer running when a run task ends, however it ends.
struct Running(Arc<Shared>, String);

impl Drop for Running {
    fn drop(&mut self) {
        lock(&self.0.running).remove(&self.1);
    }
}

/// One run: wait for a turn, take the run lock, run, give the lock back. The connector counts
/// as running until just before its last event, so a tick handled after it runs again.
async fn run_once(shared: Arc<Shared>, run: ScheduledRun) {
    let running = Running(shared.clone(), run.connector.clone());
    let last = attempt(&shared, &run).await;
    drop(running);
    if let Some(event) = last {
        shared.telemetry.emit(event);
    }
}

/// The run itself; returns its last event (none when cancelled before its turn came).
async fn attempt(shared: &Shared, run: &ScheduledRun) -> Option<SchedulerEvent> {
    let ended = |outcome| SchedulerEvent::Finished {
        connector: run.connector.clone(),
        kind: run.kind,
        scheduled: run.scheduled,
        outcome,
    };
    let skipped = |reason| SchedulerEvent::Skipped {
        connector: run.connector.clone(),
        kind: run.kind,
        scheduled: run.scheduled,
        reason,
    };
    let _turn = tokio::select! {
        turn = shared.turns.clone().acquire_owned() => turn.ok()?,
        _ = run.cancel.cancelled() => return None,
    };
    let held = match &shared.locks {
        None => None,
        Some(store) => match store.try_lock_run(&run.connector).await {
            Ok(Some(held)) => Some(held),
            Ok(None) => return Some(skipped(SkipReason::LockedElsewhere)),
            Err(e) => return Some(skipped(SkipReason::LockFailed(e.to_string()))),
        },
    };
    shared.telemetry.emit(SchedulerEvent::Started {
        connector: run.connector.clone(),
        kind: run.kind,
        scheduled: run.scheduled,
    });
    let outcome = AssertUnwindSafe(shared.runner.run(run.clone()))
        .catch_unwind()
        .await
        .unwrap_or_else(|_| Err("the run panicked".into()));
    if let Some(held) = held
        && let Err(e) = held.release().await
    {
        tracing::warn!(connector = %run.connector, error = %e, "could not release the run lock");
    }
    Some(ended(outcome))
}
