//! Scheduler tests on a manual clock: nothing here sleeps. Events are awaited with a timeout
//! that only guards against a hang.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use tokio::sync::{Semaphore, broadcast};

use super::*;
use crate::store::RunStatus;
use crate::store::testing::each_backend_named;

fn at(text: &str) -> DateTime<Utc> {
    text.parse().unwrap()
}

fn job(connector: &str, kind: RunKind, cron: &str, timezone: Tz) -> Job {
    Job {
        connector: connector.into(),
        kind,
        cron: cron.parse().unwrap(),
        timezone,
    }
}

fn tick(cron: &str, tz: Tz, after: &str) -> DateTime<Utc> {
    next_tick(&cron.parse().unwrap(), tz, at(after)).unwrap()
}

/// Lets every task that can run, run.
async fn settle() {
    for _ in 0..50 {
        tokio::task::yield_now().await;
    }
}

async fn next_event(rx: &mut broadcast::Receiver<SchedulerEvent>) -> SchedulerEvent {
    tokio::time::timeout(Duration::from_secs(10), rx.recv())
        .await
        .expect("an event within 10 s")
        .expect("the scheduler is alive")
}

async fn no_event(rx: &mut broadcast::Receiver<SchedulerEvent>) {
    settle().await;
    if let Ok(e) = rx.try_recv() {
        panic!("unexpected event {e:?}");
    }
}

fn started(connector: &str, kind: RunKind, scheduled: &str) -> SchedulerEvent {
    SchedulerEvent::Started {
        connector: connector.into(),
        kind,
        scheduled: at(scheduled),
    }
}

fn finished(connector: &str, kind: RunKind, scheduled: &str, status: RunStatus) -> SchedulerEvent {
    SchedulerEvent::Finished {
        connector: connector.into(),
        kind,
        scheduled: at(scheduled),
        outcome: Ok(status),
    }
}

fn skipped(connector: &str, scheduled: &str, reason: SkipReason) -> SchedulerEvent {
    SchedulerEvent::Skipped {
        connector: connector.into(),
        kind: RunKind::Incremental,
        scheduled: at(scheduled),
        reason,
    }
}

/// What a runner was asked to run.
type Asked = (String, RunKind, DateTime<Utc>);

/// A runner that records what it was asked and waits for a permit of `gate` before it ends.
#[derive(Clone)]
struct Gated {
    asked: Arc<Mutex<Vec<Asked>>>,
    gate: Arc<Semaphore>,
}

impl Gated {
    /// Runs end at once.
    fn open() -> Self {
        let gated = Gated::closed();
        gated.gate.add_permits(Semaphore::MAX_PERMITS / 2);
        gated
    }

    /// Each run waits for [`Gated::finish_one`].
    fn closed() -> Self {
        Gated {
            asked: Arc::default(),
            gate: Arc::new(Semaphore::new(0)),
        }
    }

    fn finish_one(&self) {
        self.gate.add_permits(1);
    }

    fn runner(&self) -> Arc<dyn Runner> {
        let me = self.clone();
        Arc::new(move |run: ScheduledRun| {
            let me = me.clone();
            async move {
                me.asked
                    .lock()
                    .unwrap()
                    .push((run.connector.clone(), run.kind, run.scheduled));
                me.gate.acquire().await.unwrap().forget();
                Ok(RunStatus::Success)
            }
        })
    }

    fn asked(&self) -> Vec<Asked> {
        self.asked.lock().unwrap().clone()
    }
}

/// A scheduler of `jobs` on a manual clock showing `now`, with a subscription to its events.
fn begin(
    now: &str,
    jobs: Vec<Job>,
    runner: Arc<dyn Runner>,
    options: SchedulerOptions,
) -> (ManualClock, Scheduler, broadcast::Receiver<SchedulerEvent>) {
    let clock = ManualClock::new(at(now));
    let s = Scheduler::start(jobs, runner, Arc::new(clock.clone()), options);
    let events = s.subscribe();
    (clock, s, events)
}

fn limit(max_concurrent_runs: usize) -> SchedulerOptions {
    SchedulerOptions {
        max_concurrent_runs,
        locks: None,
    }
}

fn planned(s: &Scheduler) -> Vec<Option<DateTime<Utc>>> {
    s.next_ticks().into_iter().map(|p| p.at).collect()
}

#[test]
fn five_field_expressions_tick_in_their_zone() {
    // 02:30 in Shanghai (UTC+8) is 18:30 UTC the day before.
    assert_eq!(
        tick("30 2 * * *", Tz::Asia__Shanghai, "2026-12-01T00:00:00Z"),
        at("2026-12-01T18:30:00Z")
    );
    assert_eq!(
        tick("*/15 * * * *", Tz::UTC, "2026-12-01T04:07:00Z"),
        at("2026-12-01T04:15:00Z")
    );
    // Six fields: seconds first.
    assert_eq!(
        tick("20 */15 * * * *", Tz::UTC, "2026-12-01T04:07:00Z"),
        at("2026-12-01T04:15:20Z")
    );
}

#[test]
fn days_of_week_are_read_the_unix_way() {
    // Friday 2026-12-04 11:00 in Berlin (UTC+1): the next weekday 09:00 is Monday 7 December.
    let friday = "2026-12-04T10:00:00Z";
    let monday = at("2026-12-07T08:00:00Z");
    assert_eq!(tick("0 9 * * 1-5", Tz::Europe__Berlin, friday), monday);
    assert_eq!(tick("0 9 * * MON-FRI", Tz::Europe__Berlin, friday), monday);
    assert_eq!(tick("0 9 * * 1", Tz::Europe__Berlin, friday), monday);
    let sunday = at("2026-12-06T08:00:00Z");
    assert_eq!(tick("0 9 * * 0", Tz::Europe__Berlin, friday), sunday);
    assert_eq!(tick("0 9 * * 7", Tz::Europe__Berlin, friday), sunday);
    assert_eq!(tick("0 9 * * SUN", Tz::Europe__Berlin, friday), sunday);
    assert_eq!(
        tick("0 9 * * 6", Tz::Europe__Berlin, friday),
        at("2026-12-05T08:00:00Z")
    );
}

#[test]
fn daylight_saving_moves_a_nightly_job_but_never_loses_or_repeats_it() {
    let berlin = Tz::Europe__Berlin;
    // 28 March 2027 jumps from 02:00 to 03:00: 02:30 does not exist and runs at 03:30 CEST.
    let spring = tick("30 2 * * *", berlin, "2027-03-27T02:00:00Z");
    assert_eq!(spring, at("2027-03-28T01:30:00Z"));
    assert_eq!(
        tick("30 2 * * *", berlin, "2027-03-28T01:30:00Z"),
        at("2027-03-29T00:30:00Z")
    );
    // 25 October 2026 goes back from 03:00 to 02:00: 02:30 happens twice and runs once.
    let autumn = tick("30 2 * * *", berlin, "2026-10-24T12:00:00Z");
    assert_eq!(autumn, at("2026-10-25T00:30:00Z"));
    assert_eq!(
        tick("30 2 * * *", berlin, "2026-10-25T00:30:00Z"),
        at("2026-10-26T01:30:00Z")
    );
    // Planned at 02:10 of the repeated hour (after the first 02:30), it runs at the second.
    assert_eq!(
        tick("30 2 * * *", berlin, "2026-10-25T01:10:00Z"),
        at("2026-10-25T01:30:00Z")
    );
}

#[test]
fn jobs_come_from_enabled_connectors_in_their_zone() {
    let dir = tempfile::tempdir().unwrap();
    let full = "full_schedule = \"30 2 * * SUN\"\ntimezone = \"Europe/Berlin\"\n";
    write_project(dir.path(), &format!("{full}{ERP_SCHEDULED}"));
    std::fs::write(
        dir.path().join("connectors/off.toml"),
        ERP_SCHEDULED.replace("schedule", "enabled = false\nschedule"),
    )
    .unwrap();
    std::fs::write(dir.path().join("connectors/dealers.toml"), ERP_SCHEDULED).unwrap();
    let loaded = load_with_env(dir.path(), &Default::default()).unwrap();
    let (every_15, sundays) = ("*/15 * * * *", "30 2 * * SUN");
    assert_eq!(
        loaded.jobs,
        vec![
            // No zone of its own: `[scheduler] timezone`.
            job(
                "dealers",
                RunKind::Incremental,
                every_15,
                Tz::Asia__Shanghai
            ),
            job("erp", RunKind::Incremental, every_15, Tz::Europe__Berlin),
            job("erp", RunKind::Full, sundays, Tz::Europe__Berlin),
        ]
    );
}

#[tokio::test]
async fn ticks_fire_at_the_planned_instants() {
    let runner = Gated::open();
    let (clock, s, mut events) = begin(
        "2026-12-01T03:59:00Z",
        vec![job("erp", RunKind::Incremental, "*/15 * * * *", Tz::UTC)],
        runner.runner(),
        limit(2),
    );
    assert_eq!(planned(&s), vec![Some(at("2026-12-01T04:00:00Z"))]);
    clock.set(at("2026-12-01T03:59:59Z"));
    no_event(&mut events).await;
    clock.set(at("2026-12-01T04:00:00Z"));
    let inc = RunKind::Incremental;
    assert_eq!(
        next_event(&mut events).await,
        started("erp", inc, "2026-12-01T04:00:00Z")
    );
    assert_eq!(
        next_event(&mut events).await,
        finished("erp", inc, "2026-12-01T04:00:00Z", RunStatus::Success)
    );
    assert_eq!(planned(&s), vec![Some(at("2026-12-01T04:15:00Z"))]);
    clock.set(at("2026-12-01T04:15:00Z"));
    assert_eq!(
        next_event(&mut events).await,
        started("erp", inc, "2026-12-01T04:15:00Z")
    );
    assert_eq!(s.stats()["erp"].started, 2);
}

#[tokio::test]
async fn a_full_resync_fires_in_its_zone_across_a_dst_change() {
    let runner = Gated::open();
    let (clock, s, mut events) = begin(
        "2027-03-27T12:00:00Z",
        vec![job("erp", RunKind::Full, "30 2 * * *", Tz::Europe__Berlin)],
        runner.runner(),
        limit(2),
    );
    assert_eq!(planned(&s), vec![Some(at("2027-03-28T01:30:00Z"))]);
    clock.set(at("2027-03-28T01:29:59Z"));
    no_event(&mut events).await;
    clock.set(at("2027-03-28T01:30:00Z"));
    assert_eq!(
        next_event(&mut events).await,
        started("erp", RunKind::Full, "2027-03-28T01:30:00Z")
    );
    let asked = runner.asked();
    assert_eq!(
        asked,
        vec![("erp".into(), RunKind::Full, at("2027-03-28T01:30:00Z"))]
    );
}

#[tokio::test]
async fn a_full_and_an_incremental_tick_at_once_make_one_full_run() {
    let runner = Gated::open();
    let shanghai = Tz::Asia__Shanghai;
    let (clock, _running, mut events) = begin(
        "2026-12-01T18:00:00Z",
        vec![
            job("erp", RunKind::Incremental, "*/30 * * * *", shanghai),
            job("erp", RunKind::Full, "30 2 * * *", shanghai),
        ],
        runner.runner(),
        limit(2),
    );
    clock.set(at("2026-12-01T18:30:00Z"));
    let full = started("erp", RunKind::Full, "2026-12-01T18:30:00Z");
    assert_eq!(next_event(&mut events).await, full);
    assert!(matches!(
        next_event(&mut events).await,
        SchedulerEvent::Finished { .. }
    ));
    no_event(&mut events).await;
    assert_eq!(runner.asked().len(), 1);
}

#[tokio::test]
async fn a_tick_during_a_run_of_the_same_connector_is_skipped_and_reported() {
    let runner = Gated::closed();
    let (clock, s, mut events) = begin(
        "2026-12-01T04:00:30Z",
        vec![job("erp", RunKind::Incremental, "* * * * *", Tz::UTC)],
        runner.runner(),
        limit(2),
    );
    let inc = RunKind::Incremental;
    clock.set(at("2026-12-01T04:01:00Z"));
    assert_eq!(
        next_event(&mut events).await,
        started("erp", inc, "2026-12-01T04:01:00Z")
    );
    clock.set(at("2026-12-01T04:02:00Z"));
    assert_eq!(
        next_event(&mut events).await,
        skipped("erp", "2026-12-01T04:02:00Z", SkipReason::AlreadyRunning)
    );
    // The next tick is planned as usual, and the run still goes.
    assert_eq!(planned(&s), vec![Some(at("2026-12-01T04:03:00Z"))]);
    assert_eq!(s.running(), vec!["erp".to_string()]);
    let stats = s.stats()["erp"];
    assert_eq!((stats.started, stats.skipped_running), (1, 1));
    runner.finish_one();
    assert_eq!(
        next_event(&mut events).await,
        finished("erp", inc, "2026-12-01T04:01:00Z", RunStatus::Success)
    );
    clock.set(at("2026-12-01T04:03:00Z"));
    assert_eq!(
        next_event(&mut events).await,
        started("erp", inc, "2026-12-01T04:03:00Z")
    );
    assert_eq!(runner.asked().len(), 2, "the skipped tick ran nothing");
}

#[tokio::test]
async fn different_connectors_run_side_by_side_up_to_the_limit() {
    let runner = Gated::closed();
    let every_minute = |name: &str| job(name, RunKind::Incremental, "* * * * *", Tz::UTC);
    let (clock, s, mut events) = begin(
        "2026-12-01T04:00:30Z",
        vec![every_minute("a"), every_minute("b"), every_minute("c")],
        runner.runner(),
        limit(2),
    );
    clock.set(at("2026-12-01T04:01:00Z"));
    for _ in 0..2 {
        assert!(matches!(
            next_event(&mut events).await,
            SchedulerEvent::Started { .. }
        ));
    }
    no_event(&mut events).await;
    assert_eq!(runner.asked().len(), 2, "the third waits for a turn");
    assert_eq!(s.running().len(), 3, "and counts as running meanwhile");
    runner.finish_one();
    assert!(matches!(
        next_event(&mut events).await,
        SchedulerEvent::Finished { .. }
    ));
    assert!(matches!(
        next_event(&mut events).await,
        SchedulerEvent::Started { .. }
    ));
    assert_eq!(runner.asked().len(), 3);
}

#[tokio::test]
async fn a_connector_locked_by_another_daemon_is_skipped_on_both_backends() {
    each_backend_named(|backend, store| async move {
        let runner = Gated::open();
        let options = SchedulerOptions::default().with_locks(store.clone());
        let jobs = vec![job("erp", RunKind::Incremental, "* * * * *", Tz::UTC)];
        let (clock, s, mut events) = begin("2026-12-01T04:00:30Z", jobs, runner.runner(), options);
        let elsewhere = store.try_lock_run("erp").await.unwrap().unwrap();
        clock.set(at("2026-12-01T04:01:00Z"));
        assert_eq!(
            next_event(&mut events).await,
            skipped("erp", "2026-12-01T04:01:00Z", SkipReason::LockedElsewhere),
            "{backend}"
        );
        assert_eq!(s.stats()["erp"].skipped_locked, 1);
        assert!(runner.asked().is_empty());
        elsewhere.release().await.unwrap();
        clock.set(at("2026-12-01T04:02:00Z"));
        let inc = RunKind::Incremental;
        assert_eq!(
            next_event(&mut events).await,
            started("erp", inc, "2026-12-01T04:02:00Z"),
            "{backend}"
        );
        assert!(matches!(
            next_event(&mut events).await,
            SchedulerEvent::Finished { .. }
        ));
        let after = store.try_lock_run("erp").await.unwrap();
        assert!(
            after.is_some(),
            "{backend}: the scheduler gave its lock back"
        );
        s.shutdown(Duration::from_secs(5)).await;
    })
    .await;
}

#[tokio::test]
async fn shutdown_stops_ticks_and_cancels_runs_under_way() {
    let runner: Arc<dyn Runner> = Arc::new(|run: ScheduledRun| async move {
        // A run that stops at its next page boundary once asked to.
        run.cancel.cancelled().await;
        Ok(RunStatus::Cancelled)
    });
    let every_minute = |name: &str| job(name, RunKind::Incremental, "* * * * *", Tz::UTC);
    let jobs = vec![every_minute("a"), every_minute("b")];
    let (clock, s, mut events) = begin("2026-12-01T04:00:30Z", jobs, runner, limit(1));
    clock.set(at("2026-12-01T04:01:00Z"));
    assert_eq!(
        next_event(&mut events).await,
        started("a", RunKind::Incremental, "2026-12-01T04:01:00Z")
    );
    let left = s.shutdown(Duration::from_secs(10)).await;
    assert!(left.is_empty(), "{left:?}");
    assert_eq!(
        next_event(&mut events).await,
        finished(
            "a",
            RunKind::Incremental,
            "2026-12-01T04:01:00Z",
            RunStatus::Cancelled
        )
    );
    // `b` was waiting for its turn: it never starts. No tick fires any more.
    clock.set(at("2026-12-01T04:05:00Z"));
    no_event(&mut events).await;
    assert!(s.running().is_empty());
    assert_eq!(s.stats()["a"].cancelled, 1);
}

#[tokio::test]
async fn shutdown_gives_up_after_the_grace_period() {
    let stuck: Arc<dyn Runner> = Arc::new(|_run: ScheduledRun| async move {
        futures::future::pending::<()>().await;
        Ok(RunStatus::Success)
    });
    let jobs = vec![job("erp", RunKind::Incremental, "* * * * *", Tz::UTC)];
    let (clock, s, mut events) = begin("2026-12-01T04:00:30Z", jobs, stuck, limit(2));
    clock.set(at("2026-12-01T04:01:00Z"));
    next_event(&mut events).await;
    let left = s.shutdown(Duration::from_millis(50)).await;
    assert_eq!(left, vec!["erp".to_string()]);
}

const SETTINGS: &str = "[currency]\nbase = \"CNY\"\n[scheduler]\ntimezone = \"Asia/Shanghai\"\n";
const MAPPING: &str =
    "entity = \"customer\"\n[fields.source_key]\npath = \"id\"\n[fields.name]\npath = \"name\"\n";
const ERP_SCHEDULED: &str = r#"kind = "file"
schedule = "*/15 * * * *"
[file]
dir = "in"
[[streams]]
name = "customers"
mapping = "m"
file = { pattern = "*.csv", format = "csv" }
"#;

fn write_project(root: &std::path::Path, connector: &str) {
    for (path, text) in [
        ("config/tributary.toml", SETTINGS),
        ("mappings/m.toml", MAPPING),
        ("connectors/erp.toml", connector),
    ] {
        let full = root.join(path);
        std::fs::create_dir_all(full.parent().unwrap()).unwrap();
        std::fs::write(full, text).unwrap();
    }
}

#[tokio::test]
async fn a_failed_reload_keeps_the_old_schedule() {
    let dir = tempfile::tempdir().unwrap();
    let plain = ERP_SCHEDULED;
    write_project(dir.path(), plain);
    let env = Default::default();
    let first = load_with_env(dir.path(), &env).unwrap();
    let runner = Gated::open();
    let (clock, s, mut events) = begin(
        "2026-12-01T04:00:30Z",
        first.jobs.clone(),
        runner.runner(),
        limit(2),
    );

    let broken = plain.replace("*/15 * * * *", "*/15 * * *");
    std::fs::write(dir.path().join("connectors/erp.toml"), &broken).unwrap();
    let refused = load_with_env(dir.path(), &env).unwrap_err().to_string();
    assert!(
        refused.starts_with("connectors/erp.toml:2: field `schedule`: ")
            && refused.contains("has 4 fields"),
        "{refused}"
    );
    // The caller keeps the old jobs: they still tick.
    assert_eq!(s.jobs(), first.jobs);
    clock.set(at("2026-12-01T04:15:00Z"));
    assert_eq!(
        next_event(&mut events).await,
        started("erp", RunKind::Incremental, "2026-12-01T04:15:00Z")
    );
    next_event(&mut events).await;

    let hourly = plain.replace("*/15 * * * *", "0 * * * *");
    std::fs::write(dir.path().join("connectors/erp.toml"), hourly).unwrap();
    let second = load_with_env(dir.path(), &env).unwrap();
    s.replace(second.jobs.clone());
    assert_eq!(s.jobs(), second.jobs);
    assert_eq!(planned(&s), vec![Some(at("2026-12-01T05:00:00Z"))]);
    clock.set(at("2026-12-01T04:30:00Z"));
    no_event(&mut events).await;
    clock.set(at("2026-12-01T05:00:00Z"));
    assert_eq!(
        next_event(&mut events).await,
        started("erp", RunKind::Incremental, "2026-12-01T05:00:00Z")
    );
}
