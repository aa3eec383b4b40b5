//! Scheduled and cancelled runs against a real store, on SQLite and PostgreSQL: a tick runs the
//! connector through the daemon's runner (`tributary::server::Runner`) and rebuilds the master; a run cancelled between two pages (a
//! shutdown of `tributary serve`, a Ctrl-C of `sync`) keeps every page it committed, with its
//! cursor, ends `cancelled`, and the next run goes on from there.

mod common;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio_util::sync::CancellationToken;
use tributary::model::Entity;
use tributary::store::{Counts, RunStatus};
use tributary::sync::schedule::{
    self, ManualClock, RunKind, Scheduler, SchedulerEvent, SchedulerOptions,
};
use tributary::sync::{self, NoProgress, Progress, SyncOptions};

const ERP: &str = r#"
kind = "file"
schedule = "*/5 * * * *"
[file]
dir = "in"

[[streams]]
name = "customers"
mapping = "customers"
file = { pattern = "customers.csv", format = "csv", batch_size = 2 }

[[streams]]
name = "dealers"
mapping = "customers"
file = { pattern = "dealers.csv", format = "csv" }
"#;

const MAPPING: &str = r#"
entity = "customer"
[fields.source_key]
path = "id"
required = true
[fields.name]
path = "name"
"#;

const CUSTOMERS: &str = "id,name\nC1,Alpha\nC2,Beta\nC3,Gamma\nC4,Delta\nC5,Epsilon\n";
const DEALERS: &str = "id,name\nD1,Dealer One\n";

fn project() -> tempfile::TempDir {
    common::project_dir(&[
        ("config/tributary.toml", common::SETTINGS),
        ("mappings/customers.toml", MAPPING),
        ("connectors/erp.toml", ERP),
        ("in/customers.csv", CUSTOMERS),
        ("in/dealers.csv", DEALERS),
    ])
}

fn at(text: &str) -> DateTime<Utc> {
    text.parse().unwrap()
}

#[tokio::test]
async fn a_tick_runs_the_connector_and_rebuilds_the_master() {
    common::on_each_backend(|backend, store| async move {
        let dir = project();
        let loaded = schedule::load_with_env(dir.path(), &HashMap::new()).unwrap();
        let options =
            SchedulerOptions::from_settings(&loaded.project.settings).with_locks(store.clone());
        let jobs = loaded.jobs.clone();
        let runner = Arc::new(tributary::server::Runner::new(loaded.into(), store.clone()));
        let clock = ManualClock::new(at("2026-12-01T04:01:00Z"));
        let s = Scheduler::start(jobs, runner, Arc::new(clock.clone()), options);
        let mut events = s.subscribe();
        clock.set(at("2026-12-01T04:05:00Z"));
        let mut next = async || {
            tokio::time::timeout(Duration::from_secs(30), events.recv())
                .await
                .unwrap()
                .unwrap()
        };
        assert!(
            matches!(next().await, SchedulerEvent::Started { .. }),
            "{backend}"
        );
        let finished = next().await;
        let SchedulerEvent::Finished { kind, outcome, .. } = finished else {
            panic!("{backend}: {finished:?}");
        };
        assert_eq!(kind, RunKind::Incremental);
        assert_eq!(outcome, Ok(RunStatus::Success), "{backend}");
        assert_eq!(store.staged(Entity::Customer).await.unwrap().len(), 6);
        assert_eq!(
            store.load_master().await.unwrap().masters.len(),
            6,
            "{backend}"
        );
        assert!(s.shutdown(Duration::from_secs(10)).await.is_empty());
    })
    .await;
}

/// Fires the token once the first page has been committed, as a shutdown arriving mid-run.
struct CancelAfterFirstPage(CancellationToken);

impl Progress for CancelAfterFirstPage {
    fn page_committed(&self, _connector: &str, _stream: &str, _counts: Counts) {
        self.0.cancel();
    }
}

#[tokio::test]
async fn a_cancelled_run_stops_between_pages_with_its_cursor_committed() {
    common::on_each_backend(|backend, store| async move {
        let dir = project();
        let project = common::load(dir.path(), &[]);
        let mappings = project.compile_mappings().unwrap();
        let erp = &project.connectors["erp"];
        let cancel = CancellationToken::new();
        let options = SyncOptions {
            cancel: Some(cancel.clone()),
            ..Default::default()
        };
        let progress = CancelAfterFirstPage(cancel);
        let report = sync::run_connector(&project, &mappings, &store, erp, &options, &progress)
            .await
            .unwrap();
        assert_eq!(report.status, RunStatus::Cancelled, "{backend}: {report:?}");
        assert_eq!(report.counts.fetched, 2, "{backend}: one page of two");
        assert_eq!(report.counts.staged, 2);
        assert_eq!(
            report.streams.len(),
            1,
            "{backend}: the next stream is not begun"
        );

        let run = &store.runs(Some("erp"), 1).await.unwrap()[0];
        assert_eq!(run.status, RunStatus::Cancelled, "{backend}");
        assert!(run.finished_at.is_some());
        assert!(run.error.as_deref().unwrap_or("").contains("cancelled"));
        assert_eq!(run.counts.staged, 2);
        let cursor = store.cursor("erp", "customers").await.unwrap();
        assert!(
            cursor.is_some(),
            "{backend}: the page's cursor was committed with it"
        );
        assert!(store.cursor("erp", "dealers").await.unwrap().is_none());
        assert_eq!(store.staged(Entity::Customer).await.unwrap().len(), 2);
        assert!(
            store.last_successful_sync().await.unwrap().is_empty(),
            "{backend}: a cancelled run is no success"
        );

        // The next run reads what is left, nothing twice.
        let next = sync::run_connector(
            &project,
            &mappings,
            &store,
            erp,
            &SyncOptions::default(),
            &NoProgress,
        )
        .await
        .unwrap();
        assert_eq!(next.status, RunStatus::Success, "{backend}: {next:?}");
        assert_eq!(next.counts.fetched, 4, "{backend}: C3–C5 and D1");
        assert_eq!(next.counts.staged, 4);
        assert_eq!(next.counts.unchanged, 0);
        assert_eq!(store.staged(Entity::Customer).await.unwrap().len(), 6);
    })
    .await;
}

#[tokio::test]
async fn a_cli_sync_takes_the_run_lock() {
    common::on_each_backend(|backend, store| async move {
        let held = sync::lock_connector(&store, "erp").await.unwrap();
        let refused = sync::lock_connector(&store, "erp").await.unwrap_err();
        assert!(
            refused
                .to_string()
                .contains("being synced by another process"),
            "{backend}: {refused}"
        );
        held.release().await.unwrap();
        sync::lock_connector(&store, "erp").await.unwrap();
    })
    .await;
}
