//! The cron scheduler of `tributary serve`: each enabled connector's `schedule` (incremental
//! polls) and `full_schedule` (full resyncs) fire in their time zone, one run per connector at
//! a time.
//!
//! Files: `plan.rs` (the next tick of a cron expression in a time zone), `clock.rs` (real and
//! manual time), `runner.rs` (what a tick runs), `events.rs` (what the scheduler did, as logs,
//! counters and events), `scheduler.rs` (the runtime).
//!
//! `tributary serve` (`crate::server::daemon`) builds the jobs with [`load`] (or
//! [`from_project`]), starts a [`Scheduler`] with the server's runner, a [`SystemClock`] and the
//! store's run locks, swaps the jobs with [`Scheduler::replace`] on a valid reload and calls
//! [`Scheduler::shutdown`] on SIGTERM.
//!
//! Invariants:
//! - a connector never runs twice at once: a tick that comes while its previous run in this
//!   scheduler is still going (incremental or full), or while another process holds its run
//!   lock ([`crate::store::Store::try_lock_run`]), is skipped and reported
//!   ([`SchedulerEvent::Skipped`]); the next tick is computed as usual;
//! - ticks of one connector falling on the same instant make one run, a full one if any is full;
//! - ticks missed while the process was held up are not made up: one run, then the next tick
//!   after the current time;
//! - at most `max_concurrent_runs` runs at once; a run waiting for its turn counts as running
//!   for its connector;
//! - shutdown stops the ticks, asks every run to stop after its current page, and waits for
//!   them up to a grace period.

mod clock;
mod events;
mod plan;
mod runner;
mod scheduler;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::path::Path;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;

pub use clock::{Clock, ManualClock, SystemClock};
pub use events::{ConnectorStats, RunKind, SchedulerEvent, SchedulerStats, SkipReason};
pub use plan::next_tick;
pub use runner::{Runner, ScheduledRun};
pub use scheduler::{PlannedTick, Scheduler, SchedulerOptions};

use crate::config::{ConfigErrors, Project};
use crate::mapping::Mapping;
use crate::support::cron::CronExpr;

/// One schedule of one connector.
#[derive(Debug, Clone, PartialEq)]
pub struct Job {
    /// The connector's name.
    pub connector: String,
    /// Incremental (`schedule`) or full (`full_schedule`).
    pub kind: RunKind,
    /// When.
    pub cron: CronExpr,
    /// The zone `cron` is read in.
    pub timezone: Tz,
}

impl Job {
    /// The first tick strictly after `after`.
    pub fn next_after(&self, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        next_tick(&self.cron, self.timezone, after)
    }
}

/// The jobs of every enabled connector, in connector order, incremental before full.
pub fn jobs(project: &Project) -> Vec<Job> {
    let default_zone = project.settings.scheduler.timezone;
    let mut jobs = Vec::new();
    for c in project.connectors.values().filter(|c| c.config.enabled) {
        let config = &c.config;
        let schedules = [
            (RunKind::Incremental, &config.schedule),
            (RunKind::Full, &config.full_schedule),
        ];
        for (kind, cron) in schedules {
            if let Some(cron) = cron {
                jobs.push(Job {
                    connector: config.name.clone(),
                    kind,
                    cron: cron.clone(),
                    timezone: config.timezone.unwrap_or(default_zone),
                });
            }
        }
    }
    jobs
}

/// A project loaded and checked for the scheduler: the project, its mappings and its jobs.
#[derive(Debug, Clone)]
pub struct Loaded {
    /// The project.
    pub project: Project,
    /// Its compiled mappings.
    pub mappings: BTreeMap<String, Mapping>,
    /// Its schedules.
    pub jobs: Vec<Job>,
}

/// Loads and checks the project under `root` (settings, connectors and their schedules and
/// time zones, mappings compiled) for starting or reloading the scheduler. Every problem is
/// returned at once, naming file, line and field; a caller reloading keeps its old schedule
/// when this fails.
pub fn load(root: &Path) -> Result<Loaded, ConfigErrors> {
    let project = Project::load(root)?;
    from_project(project)
}

/// [`load`] with an explicit environment (for tests).
pub fn load_with_env(
    root: &Path,
    env: &std::collections::HashMap<String, String>,
) -> Result<Loaded, ConfigErrors> {
    from_project(Project::load_with_env(root, env)?)
}

/// [`load`] of a project already loaded: compiles its mappings and lists its jobs.
pub fn from_project(project: Project) -> Result<Loaded, ConfigErrors> {
    let mappings = project.compile_mappings()?;
    let jobs = jobs(&project);
    Ok(Loaded {
        project,
        mappings,
        jobs,
    })
}
