//! The binary over a copy of the shipped project: the main job, its exit codes and outputs.

mod common;

use std::path::Path;
use std::process::{Command, Output};

use common::shipped_project;

fn tributary(root: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tributary"))
        .args(args)
        .env("TRIBUTARY_ROOT", root)
        .env("TRIBUTARY_AS_OF", "2026-11-22")
        .env_remove("TRIBUTARY__STORE__URL")
        .env_remove("TRIBUTARY_FINANCE_TOKEN")
        .env_remove("TRIBUTARY_STEWARD_TOKEN")
        .env_remove("TRIBUTARY_ADMIN_TOKEN")
        .output()
        .expect("the binary runs")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).to_string()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).to_string()
}

#[test]
fn the_main_job_runs_on_the_embedded_store_and_is_idempotent() {
    let dir = shipped_project();
    let first = tributary(dir.path(), &["sync", "--all"]);
    let out = stdout(&first);
    // The shipped samples hold two deliberately malformed records: partial, exit code 3.
    assert_eq!(
        first.status.code(),
        Some(3),
        "stdout:\n{out}\nstderr:\n{}",
        stderr(&first)
    );
    assert!(
        dir.path().join("data/tributary.db").exists(),
        "the SQLite file is created under data/"
    );
    for needle in [
        "erp",
        "dealer-portal",
        "partial",
        "customer master:",
        "Highest credit utilisation",
    ] {
        assert!(out.contains(needle), "`{needle}` missing from:\n{out}");
    }

    let second = tributary(dir.path(), &["sync", "--all"]);
    assert_eq!(
        second.status.code(),
        Some(0),
        "nothing new to quarantine: {}",
        stdout(&second)
    );
    assert!(stdout(&second).contains("success"), "{}", stdout(&second));

    // Re-clustering from scratch without syncing gives the master the sync left.
    let master_line = |text: &str| {
        text.lines()
            .find(|l| l.starts_with("customer master:"))
            .map(str::to_string)
            .unwrap_or_else(|| panic!("no master line in:\n{text}"))
    };
    let recluster = tributary(dir.path(), &["master", "recluster"]);
    assert_eq!(recluster.status.code(), Some(0), "{}", stderr(&recluster));
    assert_eq!(
        master_line(&stdout(&recluster)),
        master_line(&stdout(&second))
    );
    assert!(master_line(&stdout(&recluster)).contains("→ 55 master customers (0 merged"));

    let errors = tributary(dir.path(), &["errors", "--json"]);
    let rows: serde_json::Value = serde_json::from_slice(&errors.stdout).unwrap();
    assert_eq!(rows.as_array().unwrap().len(), 2, "{rows:#}");
    assert!(
        rows.as_array()
            .unwrap()
            .iter()
            .all(|r| !r["reason"].as_str().unwrap().is_empty())
    );
}

#[test]
fn credit_outputs_follow_the_contract() {
    let dir = shipped_project();
    tributary(dir.path(), &["sync", "--all"]);

    let report = tributary(dir.path(), &["credit", "report", "--format", "json"]);
    assert_eq!(report.status.code(), Some(0), "{}", stderr(&report));
    let rows: Vec<serde_json::Value> = serde_json::from_slice(&report.stdout).unwrap();
    assert!(!rows.is_empty());
    let first = &rows[0];
    for key in [
        "master_id",
        "name",
        "currency",
        "credit_limit",
        "open_receivables",
        "open_orders",
        "unapplied_payments",
        "exposure",
        "available",
        "utilization_pct",
        "aging",
        "sources",
    ] {
        assert!(first.get(key).is_some(), "row lacks `{key}`: {first:#}");
    }
    assert!(first["exposure"].is_string(), "amounts are decimal strings");
    // Sorted by utilisation, highest first.
    let utils: Vec<f64> = rows
        .iter()
        .filter_map(|r| r["utilization_pct"].as_str().map(|s| s.parse().unwrap()))
        .collect();
    assert!(utils.windows(2).all(|w| w[0] >= w[1]), "{utils:?}");

    let id = first["master_id"].as_str().unwrap();
    let one = tributary(dir.path(), &["credit", id, "--json"]);
    assert_eq!(one.status.code(), Some(0), "{}", stderr(&one));
    let single: serde_json::Value = serde_json::from_slice(&one.stdout).unwrap();
    assert_eq!(&single, first, "one customer's JSON equals its report row");

    let csv = tributary(
        dir.path(),
        &["credit", "report", "--over-limit", "--format", "csv"],
    );
    let text = stdout(&csv);
    assert!(
        text.starts_with("master_id,name,currency,credit_limit,"),
        "{text}"
    );

    let customer = tributary(dir.path(), &["customer", id]);
    assert_eq!(customer.status.code(), Some(0), "{}", stderr(&customer));
    assert!(
        stdout(&customer).contains("linked source records"),
        "{}",
        stdout(&customer)
    );

    let missing = tributary(dir.path(), &["credit", "M-NOPE", "--json"]);
    assert_eq!(missing.status.code(), Some(1));
    assert!(
        stderr(&missing).starts_with("error: no customer with master ID `M-NOPE`"),
        "{}",
        stderr(&missing)
    );
}

#[test]
fn check_and_test_accept_the_shipped_files() {
    let dir = shipped_project();
    let check = tributary(dir.path(), &["check"]);
    assert_eq!(
        check.status.code(),
        Some(0),
        "{}{}",
        stdout(&check),
        stderr(&check)
    );
    assert!(
        stdout(&check).starts_with("ok: 2 connectors"),
        "{}",
        stdout(&check)
    );
    assert!(
        stdout(&check).contains(
            "api tokens for `serve`: none usable: the API will answer 401\n   disabled (variable unset): finance (finance), steward (steward), admin (admin)"
        ),
        "{}",
        stdout(&check)
    );

    let test = tributary(dir.path(), &["test"]);
    let out = stdout(&test);
    assert_eq!(test.status.code(), Some(0), "{out}");
    assert!(out.contains(" 0 failed") && !out.contains("FAIL"), "{out}");
}

#[test]
fn a_broken_connector_file_exits_2_naming_file_line_and_field() {
    let dir = shipped_project();
    let path = dir.path().join("connectors/erp.toml");
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(&path, format!("{text}\nbogus_key = 1\n")).unwrap();
    let out = tributary(dir.path(), &["check"]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(err.contains("connectors/erp.toml:"), "{err}");
    assert!(err.contains("bogus_key"), "{err}");
}

#[test]
fn review_lists_the_costliest_splits_first_with_the_exposure_at_stake() {
    let dir = common::review_project();
    tributary(dir.path(), &["sync", "--all"]);
    let report = tributary(dir.path(), &["credit", "report", "--format", "json"]);
    let rows: Vec<serde_json::Value> = serde_json::from_slice(&report.stdout).unwrap();
    let exposures = common::exposures_of(&rows);

    let json = tributary(dir.path(), &["review", "--json"]);
    assert_eq!(json.status.code(), Some(0), "{}", stderr(&json));
    let tasks: Vec<serde_json::Value> = serde_json::from_slice(&json.stdout).unwrap();
    common::check_review_queue(&tasks, &exposures);

    // The table: the same order, each stake with its currency.
    let table = tributary(dir.path(), &["review"]);
    let text = stdout(&table);
    assert!(text.contains("at stake"), "{text}");
    let line_of = |needle: &str| {
        text.lines()
            .position(|l| l.contains(needle))
            .unwrap_or_else(|| panic!("`{needle}` missing from:\n{text}"))
    };
    let (first, second, last) = (line_of("E9002"), line_of("E9001"), line_of("E9004"));
    assert!(first < second && second < last, "{text}");
    assert!(
        text.lines().nth(first).unwrap().contains("67381.90 CNY"),
        "{text}"
    );
    assert!(
        text.lines().nth(second).unwrap().contains("14200.00 CNY"),
        "{text}"
    );
    assert!(
        text.lines().nth(last).unwrap().contains("0.00 CNY"),
        "{text}"
    );

    // `--sort probability`: the same tasks, most probable first.
    let by_p = tributary(dir.path(), &["review", "--json", "--sort", "probability"]);
    let by_p: Vec<serde_json::Value> = serde_json::from_slice(&by_p.stdout).unwrap();
    common::check_probability_order(&by_p, &tasks);
    let bad = tributary(dir.path(), &["review", "--sort", "size"]);
    assert_eq!(bad.status.code(), Some(2), "{}", stderr(&bad));
}

/// A sync waiting on a source that never answers: the first Ctrl-C asks it to stop after the
/// page in flight, the second drops it at once with exit code 130 (no page is half-written: a
/// page is committed in one transaction or not at all).
#[test]
fn a_second_ctrl_c_stops_a_sync_at_once_with_exit_code_130() {
    use std::io::Read;
    use std::time::{Duration, Instant};

    // A source that accepts connections and never answers.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for conn in listener.incoming().flatten() {
            held.push(conn);
        }
    });
    let connector = format!(
        "kind = \"http\"\n[http]\nbase_url = \"http://127.0.0.1:{port}\"\n\n[[streams]]\nname = \"customers\"\nmapping = \"erp-customers\"\n[streams.http]\npath = \"/customers\"\nrecords = \"data\"\n"
    );
    let mapping = "entity = \"customer\"\n[fields.source_key]\npath = \"id\"\nrequired = true\n[fields.name]\npath = \"name\"\n";
    let dir = common::project_dir(&[
        ("config/tributary.toml", common::SETTINGS),
        ("connectors/erp.toml", &connector),
        ("mappings/erp-customers.toml", mapping),
    ]);
    let mut child = Command::new(env!("CARGO_BIN_EXE_tributary"))
        .args(["sync", "--all"])
        .env("TRIBUTARY_ROOT", dir.path())
        .env_remove("TRIBUTARY__STORE__URL")
        .stderr(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("the binary runs");
    let interrupt = |pid: u32| {
        let sent = Command::new("kill")
            .args(["-INT", &pid.to_string()])
            .status()
            .expect("kill runs");
        assert!(sent.success());
    };
    std::thread::sleep(Duration::from_secs(3));
    assert!(
        child.try_wait().unwrap().is_none(),
        "the sync waits on the source"
    );
    interrupt(child.id());
    std::thread::sleep(Duration::from_millis(500));
    assert!(
        child.try_wait().unwrap().is_none(),
        "one Ctrl-C waits for the page in flight"
    );
    interrupt(child.id());
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "a second Ctrl-C stops the sync at once"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    assert_eq!(status.code(), Some(130), "stderr:\n{err}");
    assert!(err.contains("stopping after the current page"), "{err}");
    assert!(err.contains("interrupted"), "{err}");
}
