//! Command handlers. Each returns an exit code; errors print one line on stderr.

use std::collections::BTreeMap;

use anyhow::{Context, Result, anyhow};
use chrono::Utc;
use tokio_util::sync::CancellationToken;

use super::output::{self, Bars};
use super::{
    By, Cli, Command, CreditArgs, CreditCommand, EXIT_FAILED, EXIT_OK, EXIT_PARTIAL, EXIT_USAGE,
    Format, MasterCommand, ReviewArgs, ReviewCommand, SyncArgs,
};
use crate::config::Project;
use crate::mapping::Mapping;
use crate::store::{RunStatus, Store};
use crate::support::secrets::redact_url;
use crate::sync::{self, SyncOptions};
use crate::views;

/// Prints `rows` as JSON or with `table`.
fn show<T: serde::Serialize>(json: bool, rows: &[T], table: fn(&[T])) -> Outcome {
    if json {
        output::json(&rows)?;
    } else {
        table(rows);
    }
    Ok(EXIT_OK)
}

/// A failure with its exit code.
pub(super) struct Failure(pub(super) u8, pub(super) anyhow::Error);

impl<E: Into<anyhow::Error>> From<E> for Failure {
    fn from(e: E) -> Self {
        Failure(EXIT_FAILED, e.into())
    }
}

pub(super) type Outcome = std::result::Result<u8, Failure>;

/// Runs a parsed command line and returns the process exit code.
pub async fn run(cli: Cli) -> u8 {
    match dispatch(cli).await {
        Ok(code) => code,
        Err(Failure(code, e)) => {
            eprintln!("error: {}", format!("{e:#}").replace('\n', "\n  "));
            code
        }
    }
}

async fn dispatch(cli: Cli) -> Outcome {
    let project = Project::load(&cli.root)
        .map_err(|e| Failure(EXIT_USAGE, anyhow!("invalid configuration:\n{e}")))?;
    match cli.command {
        Command::Serve { bind } => {
            crate::server::daemon::run(project, bind.as_deref()).await?;
            Ok(EXIT_OK)
        }
        Command::Check { environment } => {
            let code = check(&project)?;
            if environment {
                check_environment(&project).await
            } else {
                Ok(code)
            }
        }
        Command::Test { mappings } => test(&project, &mappings),
        Command::Sync(args) => sync_cmd(&project, args).await,
        Command::Customers { query, json } => {
            let store = open(&project).await?;
            let hits = views::search(&store.load_master().await?, query.as_deref().unwrap_or(""));
            if json {
                output::json(&hits)?;
            } else {
                output::customers(&hits);
            }
            Ok(EXIT_OK)
        }
        Command::Customer { id, json, asof } => {
            let store = open(&project).await?;
            let today = asof.as_of.unwrap_or_else(|| Utc::now().date_naive());
            let c = views::customer_360(&project, &store, &id, today, Utc::now())
                .await?
                .ok_or_else(|| {
                    anyhow!("no customer with master ID `{id}` (try `tributary customers QUERY`)")
                })?;
            if json {
                output::json(&c)?;
            } else {
                output::customer(&c);
            }
            Ok(EXIT_OK)
        }
        Command::Credit(args) => credit(&project, args).await,
        Command::Review(args) => review(&project, args).await,
        Command::Master(command) => master(&project, command).await,
        #[cfg(feature = "bench")]
        Command::Bench(command) => super::bench::run(&project, command).await,
        Command::Runs {
            connector,
            limit,
            json,
        } => {
            let runs = open(&project)
                .await?
                .runs(connector.as_deref(), limit)
                .await?;
            if json {
                output::json(&runs)?;
            } else {
                output::runs(&runs);
            }
            Ok(EXIT_OK)
        }
        Command::Channel {
            dealer,
            days,
            json,
            asof,
        } => {
            let store = open(&project).await?;
            let today = asof.as_of.unwrap_or_else(|| Utc::now().date_naive());
            let rows = crate::views::dealer_inventory(&store, today, days, dealer.as_deref())
                .await
                .map_err(|e| match e {
                    crate::views::ViewError::Channel(crate::channel::ChannelError::EmptyWindow) => {
                        Failure(EXIT_USAGE, e.into())
                    }
                    other => Failure(EXIT_FAILED, other.into()),
                })?;
            if json {
                output::json(&rows)?;
            } else {
                output::channel(&rows, today);
            }
            Ok(EXIT_OK)
        }
        Command::Inbox(list) => {
            let rows = open(&project)
                .await?
                .inbox(list.connector.as_deref(), list.limit)
                .await?;
            show(list.json, &rows, output::inbox)
        }
        Command::Errors(list) => {
            let rows = open(&project)
                .await?
                .quarantine(list.connector.as_deref(), list.limit)
                .await?;
            show(list.json, &rows, output::quarantine)
        }
    }
}

async fn open(project: &Project) -> Result<Store> {
    let url = project.store_url();
    Store::connect(&url)
        .await
        .with_context(|| format!("opening the store at {}", redact_url(&url)))
}

fn compiled(project: &Project) -> std::result::Result<BTreeMap<String, Mapping>, Failure> {
    project
        .compile_mappings()
        .map_err(|e| Failure(EXIT_USAGE, anyhow!("invalid mapping:\n{e}")))
}

fn check(project: &Project) -> Outcome {
    let mappings = compiled(project)?;
    let (enabled, disabled): (Vec<_>, Vec<_>) =
        project.connectors.values().partition(|c| c.config.enabled);
    let streams: usize = enabled.iter().map(|c| c.config.streams.len()).sum();
    println!(
        "ok: {} connectors ({} streams), {} disabled, {} mappings, store {}",
        enabled.len(),
        streams,
        disabled.len(),
        mappings.len(),
        redact_url(&project.store_url())
    );
    for c in disabled {
        let waiting = if c.unresolved.is_empty() {
            String::new()
        } else {
            format!(" — set {} to use it", c.unresolved.join(", "))
        };
        println!("   disabled: {}{waiting}", c.config.name);
    }
    let tokens = &project.settings.server.tokens;
    let (usable, unset): (Vec<_>, Vec<_>) = tokens.iter().partition(|t| t.token.is_some());
    let names = |ts: &[&crate::config::settings::ApiToken]| {
        ts.iter()
            .map(|t| format!("{} ({})", t.name, t.role))
            .collect::<Vec<_>>()
            .join(", ")
    };
    println!(
        "api tokens for `serve`: {}",
        if usable.is_empty() {
            "none usable: the API will answer 401".to_string()
        } else {
            names(&usable)
        }
    );
    if !unset.is_empty() {
        println!("   disabled (variable unset): {}", names(&unset));
    }
    Ok(EXIT_OK)
}

/// `check --environment`: reaches every enabled connector's source and the store, one line
/// each; exit 1 if any failed.
async fn check_environment(project: &Project) -> Outcome {
    let ctx = crate::connector::SourceContext {
        root: project.root.clone(),
    };
    let mut failed = 0;
    println!("environment:");
    for c in project.connectors.values().filter(|c| c.config.enabled) {
        let probes = crate::connector::probe(&c.config, &ctx).await;
        let bad: Vec<String> = probes
            .iter()
            .filter_map(|p| {
                p.outcome
                    .as_ref()
                    .err()
                    .map(|e| format!("stream `{}`: {e}", p.stream))
            })
            .collect();
        if bad.is_empty() {
            println!(
                "   ok      connector {} ({}, {} streams)",
                c.config.name,
                c.config.kind.as_str(),
                probes.len()
            );
        } else {
            failed += 1;
            println!(
                "   FAILED  connector {}: {}",
                c.config.name,
                bad.join("; ").replace('\n', " ")
            );
        }
    }
    let url = project.store_url();
    match Store::connect(&url).await {
        Ok(_) => println!("   ok      store {}", redact_url(&url)),
        Err(e) => {
            failed += 1;
            println!("   FAILED  store {}: {e}", redact_url(&url));
        }
    }
    Ok(if failed == 0 { EXIT_OK } else { EXIT_FAILED })
}

fn test(project: &Project, only: &[String]) -> Outcome {
    for name in only {
        if !project.mappings.contains_key(name) {
            return Err(Failure(
                EXIT_USAGE,
                anyhow!("no mapping named `{name}` in mappings/"),
            ));
        }
    }
    let mappings = compiled(project)?;
    let (mut passed, mut failed) = (0, 0);
    for (name, mapping) in &mappings {
        if !only.is_empty() && !only.contains(name) {
            continue;
        }
        for outcome in mapping.run_tests(&project.mappings[name].spec) {
            match outcome.failure {
                None => {
                    passed += 1;
                    println!("PASS  {name}: {}", outcome.name);
                }
                Some(why) => {
                    failed += 1;
                    println!(
                        "FAIL  {name}: {}\n      {}",
                        outcome.name,
                        why.replace('\n', "\n      ")
                    );
                }
            }
        }
    }
    println!("mapping tests: {passed} passed, {failed} failed");
    Ok(if failed == 0 { EXIT_OK } else { EXIT_FAILED })
}

async fn sync_cmd(project: &Project, args: SyncArgs) -> Outcome {
    let mappings = compiled(project)?;
    let names: Vec<String> = if args.connectors.is_empty() {
        project
            .connectors
            .values()
            .filter(|c| c.config.enabled)
            .map(|c| c.config.name.clone())
            .collect()
    } else {
        args.connectors.clone()
    };
    let mut chosen = Vec::new();
    for name in &names {
        let c = project
            .connectors
            .values()
            .find(|c| &c.config.name == name)
            .ok_or_else(|| {
                Failure(
                    EXIT_USAGE,
                    anyhow!("no connector named `{name}` in connectors/"),
                )
            })?;
        chosen.push(c);
    }
    let store = open(project).await?;
    let (stop, quit) = interrupts();
    let options = SyncOptions {
        streams: args.streams.clone(),
        full: args.full,
        cancel: Some(stop),
    };
    let bars = Bars::new();
    let mut reports = Vec::new();
    for c in chosen {
        let lock = sync::lock_connector(&store, &c.config.name).await?;
        let run = sync::run_connector(project, &mappings, &store, c, &options, &bars);
        // A second Ctrl-C drops the run where it is: the page in flight is rolled back with
        // its transaction, the cursor stays at the last committed page.
        let report = tokio::select! {
            report = run => report,
            () = quit.cancelled() => {
                bars.clear();
                return Err(Failure(EXIT_INTERRUPTED, anyhow!("interrupted; the next run goes on from the last committed page")));
            }
        };
        lock.release().await?;
        reports.push(report?);
    }
    bars.clear();
    let now = Utc::now();
    let today = args.asof.as_of.unwrap_or_else(|| now.date_naive());
    let (master, insights) = crate::master::rebuild(project, &store, today, now).await?;
    output::sync_summary(&reports, &master, &insights);
    let issues: Vec<_> = store
        .groups()
        .await?
        .issues
        .into_iter()
        .filter(|i| i.kind != crate::reconcile::groups::IssueKind::Overruled)
        .collect();
    output::group_issues(&issues, 20);
    let top = views::ReportQuery {
        limit: Some(args.top),
        ..Default::default()
    };
    let rows = views::credit_report(project, &store, &top, today, now)
        .await?
        .rows;
    if !rows.is_empty() {
        println!(
            "\nHighest credit utilisation ({}, aged as of {today}):",
            project.settings.currency.base
        );
        output::exposure_table(&rows);
    }
    for r in &reports {
        for s in &r.streams {
            if let Some(e) = &s.error {
                eprintln!(
                    "error: {}/{} ({}): {e}",
                    r.connector,
                    s.stream,
                    e.kind.as_str()
                );
            }
        }
    }
    Ok(
        if reports
            .iter()
            .any(|r| matches!(r.status, RunStatus::Failed | RunStatus::Cancelled))
        {
            EXIT_FAILED
        } else if reports.iter().any(|r| r.status == RunStatus::Partial) {
            eprintln!("note: some records were quarantined; see `tributary errors`");
            EXIT_PARTIAL
        } else {
            EXIT_OK
        },
    )
}

async fn credit(project: &Project, args: CreditArgs) -> Outcome {
    let store = open(project).await?;
    let now = Utc::now();
    match (args.report, args.id) {
        (
            Some(CreditCommand::Report {
                query,
                groups,
                format,
                asof,
            }),
            _,
        ) => {
            let today = asof.as_of.unwrap_or_else(|| now.date_naive());
            if groups {
                let page = views::group_report(project, &store, &query, today, now).await?;
                match format {
                    Format::Table => output::group_table(&page.rows),
                    Format::Csv => output::group_csv(&page.rows)?,
                    Format::Json => output::json(&page.rows)?,
                }
                return Ok(EXIT_OK);
            }
            let page = views::credit_report(project, &store, &query, today, now).await?;
            match format {
                Format::Table => output::exposure_table(&page.rows),
                Format::Csv => output::exposure_csv(&page.rows)?,
                Format::Json => output::json(&page.rows)?,
            }
            Ok(EXIT_OK)
        }
        (None, Some(id)) => {
            let today = args.asof.as_of.unwrap_or_else(|| now.date_naive());
            let master = store.master(&id).await?.ok_or_else(|| {
                anyhow!("no customer with master ID `{id}` (try `tributary customers QUERY`)")
            })?;
            let missing = || anyhow!("no exposure computed for `{id}`");
            if args.group {
                let g = views::group_exposure(project, &store, &master.master_id, today, now)
                    .await?
                    .ok_or_else(missing)?;
                if args.json {
                    output::json(&g)?;
                } else {
                    output::group_detail(&g);
                }
                return Ok(EXIT_OK);
            }
            let e = views::customer_exposure(project, &store, &master.master_id, today, now)
                .await?
                .ok_or_else(missing)?;
            if args.json {
                output::json(&e)?;
            } else {
                output::exposure_detail(&e);
            }
            Ok(EXIT_OK)
        }
        (None, None) => Err(Failure(
            EXIT_USAGE,
            anyhow!(
                "name a master ID (`tributary credit ID`) or ask for `tributary credit report`"
            ),
        )),
    }
}

fn actor(by: By) -> crate::master::steward::Actor {
    crate::master::steward::Actor {
        name: by.by,
        reason: by.reason,
    }
}

/// `SOURCE:KEY` → (source, key).
fn record(text: &str) -> std::result::Result<(String, String), Failure> {
    crate::master::steward::parse_record(text).ok_or_else(|| {
        Failure(
            EXIT_USAGE,
            anyhow!("`{text}`: write a source record as SOURCE:KEY, e.g. erp:C10014"),
        )
    })
}

/// A steward error as a failure: usage errors for refusals and unknown names.
fn steward_failure(e: crate::master::steward::StewardError) -> Failure {
    use crate::master::steward::StewardError;
    match e {
        StewardError::NotFound(_) | StewardError::Refused(_) => Failure(EXIT_FAILED, e.into()),
        other => Failure(EXIT_FAILED, other.into()),
    }
}

async fn review(project: &Project, args: ReviewArgs) -> Outcome {
    use crate::master::steward;
    use crate::store::steward::ReviewStatus;
    let store = open(project).await?;
    match args.command {
        None => {
            let status = (!args.all).then_some(ReviewStatus::Open);
            let tasks = views::review_queue(project, &store, status, args.sort, Utc::now()).await?;
            show(args.json, &tasks, output::reviews)?;
        }
        Some(ReviewCommand::Show { id, json }) => {
            let r = store
                .review(id)
                .await?
                .ok_or_else(|| anyhow!("no review {id} (try `tributary review --all`)"))?;
            if json {
                output::json(&r)?;
            } else {
                output::review(&r);
            }
        }
        Some(ReviewCommand::Approve { id, by }) => {
            let done = steward::decide_review(project, &store, id, true, &actor(by))
                .await
                .map_err(steward_failure)?;
            output::steward_done("approved", &done);
        }
        Some(ReviewCommand::Reject { id, by }) => {
            let done = steward::decide_review(project, &store, id, false, &actor(by))
                .await
                .map_err(steward_failure)?;
            output::steward_done("rejected", &done);
        }
    }
    Ok(EXIT_OK)
}

async fn master(project: &Project, command: MasterCommand) -> Outcome {
    use crate::master::steward;
    let store = open(project).await?;
    let (what, done) = match command {
        MasterCommand::Recluster { retrain, asof } => {
            let now = Utc::now();
            let today = asof.as_of.unwrap_or_else(|| now.date_naive());
            let how = if retrain {
                crate::master::Rebuild::Retrain
            } else {
                crate::master::Rebuild::Recluster
            };
            let (master, insights) =
                crate::master::rebuild_with(project, &store, how, today, now).await?;
            output::master_summary(&master, &insights);
            return Ok(EXIT_OK);
        }
        MasterCommand::History { id, json } => {
            let h = steward::history(&store, &id)
                .await
                .map_err(steward_failure)?;
            if json {
                output::json(&h)?;
            } else {
                output::history(&h);
            }
            return Ok(EXIT_OK);
        }
        MasterCommand::Merge { a, b, by } => (
            "merged",
            steward::merge(project, &store, &a, &b, &actor(by)).await,
        ),
        MasterCommand::Split { id, records, by } => {
            let records = records
                .iter()
                .map(|r| record(r))
                .collect::<std::result::Result<Vec<_>, _>>()?;
            (
                "split",
                steward::split(project, &store, &id, &records, &actor(by)).await,
            )
        }
        MasterCommand::Link { left, right, by } => (
            "linked",
            steward::force(
                project,
                &store,
                record(&left)?,
                record(&right)?,
                true,
                &actor(by),
            )
            .await,
        ),
        MasterCommand::Unlink { left, right, by } => (
            "unlinked",
            steward::force(
                project,
                &store,
                record(&left)?,
                record(&right)?,
                false,
                &actor(by),
            )
            .await,
        ),
        MasterCommand::Undo { action, by } => (
            "undone",
            steward::undo(project, &store, action, &actor(by)).await,
        ),
    };
    output::steward_done(what, &done.map_err(steward_failure)?);
    Ok(EXIT_OK)
}

/// Exit code of a sync stopped by a second Ctrl-C (128 + SIGINT, as shells report it).
const EXIT_INTERRUPTED: u8 = 130;

/// Two tokens: the first Ctrl-C cancels `stop`, so a command-line sync ends after the page it
/// is on; a second cancels `quit`, and the sync is dropped at once (exit code 130).
fn interrupts() -> (CancellationToken, CancellationToken) {
    let (stop, quit) = (CancellationToken::new(), CancellationToken::new());
    let (on_first, on_second) = (stop.clone(), quit.clone());
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            eprintln!("stopping after the current page (Ctrl-C again to quit at once)");
            on_first.cancel();
            if tokio::signal::ctrl_c().await.is_ok() {
                on_second.cancel();
            }
        }
    });
    (stop, quit)
}
