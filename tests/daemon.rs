//! `tributary serve` as a process: scheduled runs fire, metrics count what a known sync did,
//! a webhook event accepted just before a hard kill is processed exactly once after the
//! restart, and SIGTERM stops the daemon cleanly.

mod common;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tributary::config::Project;
use tributary::intake::signature;
use tributary::model::Entity;
use tributary::store::Store;

const SECRET: &str = "shop-secret-7";
const ADMIN: &str = "adm-4411";

const ENV: [(&str, &str); 2] = [("SHOP_SECRET", SECRET), ("TRIBUTARY_ADMIN_TOKEN", ADMIN)];

/// The shipped project with the ERP polled every two seconds and a push-only shop connector.
fn project() -> (tempfile::TempDir, Project) {
    let dir = common::shipped_project();
    let erp = dir.path().join("connectors/erp.toml");
    let text = std::fs::read_to_string(&erp).unwrap();
    std::fs::write(
        &erp,
        text.replace("schedule = \"30 2 * * *\"", "schedule = \"*/2 * * * * *\""),
    )
    .unwrap();
    std::fs::write(dir.path().join("connectors/shop.toml"), common::SHOP).unwrap();
    std::fs::write(
        dir.path().join("mappings/shop-customers.toml"),
        common::SHOP_MAPPING,
    )
    .unwrap();
    let project = common::load(dir.path(), &ENV);
    (dir, project)
}

struct Daemon {
    child: Child,
    base: String,
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn client() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::new()
}

/// Starts `tributary serve` on `port` and waits until it answers.
async fn start(root: &std::path::Path, port: u16) -> Daemon {
    let child = Command::new(env!("CARGO_BIN_EXE_tributary"))
        .args(["--root", root.to_str().unwrap(), "serve", "--bind"])
        .arg(format!("127.0.0.1:{port}"))
        .envs(ENV)
        .env("TRIBUTARY_LOG", "info")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let daemon = Daemon {
        child,
        base: format!("http://127.0.0.1:{port}"),
    };
    let started = Instant::now();
    while client()
        .get(format!("{}/readyz", daemon.base))
        .send()
        .await
        .is_err()
    {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "serve did not start"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    daemon
}

async fn get(base: &str, path: &str) -> String {
    client()
        .get(format!("{base}{path}"))
        .bearer_auth(ADMIN)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

/// Polls `check` every 100 ms for up to 20 s.
async fn until<F: AsyncFnMut() -> bool>(what: &str, mut check: F) {
    let started = Instant::now();
    while !check().await {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "timed out: {what}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The value of one Prometheus sample line (`name{labels} value`), 0 when absent.
fn sample(metrics: &str, name_and_labels: &str) -> f64 {
    metrics
        .lines()
        .find_map(|l| l.strip_prefix(name_and_labels)?.trim().parse().ok())
        .unwrap_or(0.0)
}

async fn deliver(project: &Project, base: &str, id: &str, body: &[u8], secret: &str) -> u16 {
    let ts = chrono::Utc::now().timestamp().to_string();
    let config = project.connectors["shop"].config.webhook.as_ref().unwrap();
    let sig = signature::sign(config, secret.as_bytes(), &ts, body);
    client()
        .post(format!("{base}/webhooks/shop"))
        .header("X-Shop-Signature", sig)
        .header("X-Shop-Timestamp", ts)
        .header("X-Shop-Event", id)
        .header("content-type", "application/json")
        .body(body.to_vec())
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

async fn shop_customers(root: &std::path::Path) -> usize {
    let url = format!("sqlite://{}", root.join("data/tributary.db").display());
    let store = Store::connect(&url).await.unwrap();
    let n = store
        .staged(Entity::Customer)
        .await
        .unwrap()
        .iter()
        .filter(|r| r.connector == "shop")
        .count();
    store.close().await;
    n
}

#[tokio::test]
async fn serve_schedules_counts_survives_a_kill_and_stops_on_sigterm() {
    let (dir, project) = project();
    let port = free_port();
    let daemon = start(dir.path(), port).await;
    let base = daemon.base.clone();

    // The ERP's schedule fires within seconds; the metrics count what its first run did.
    until("a scheduled ERP run", async || {
        let runs: Value =
            serde_json::from_str(&get(&base, "/api/runs?connector=erp").await).unwrap();
        runs.as_array()
            .is_some_and(|r| r.iter().any(|r| r["status"] == "success"))
    })
    .await;
    let runs: Value = serde_json::from_str(&get(&base, "/api/runs?connector=erp").await).unwrap();
    let done: Vec<&Value> = runs
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["finished_at"].is_string())
        .collect();
    let staged: f64 = done
        .iter()
        .map(|r| r["counts"]["staged"].as_f64().unwrap())
        .sum();
    assert!(staged > 0.0, "{runs}");
    let metrics = get(&base, "/metrics").await;
    let streams = ["customers", "sales_orders", "invoices", "payments", "stock"];
    let counted: f64 = streams
        .iter()
        .map(|s| {
            sample(
                &metrics,
                &format!(
                    "tributary_records_total{{connector=\"erp\",stream=\"{s}\",outcome=\"staged\"}}"
                ),
            )
        })
        .sum();
    assert_eq!(counted, staged, "{metrics}");
    assert!(
        sample(
            &metrics,
            "tributary_scheduler_ticks_total{connector=\"erp\",outcome=\"started\"}"
        ) >= 1.0,
        "{metrics}"
    );
    assert!(metrics.contains("tributary_last_success_timestamp_seconds{connector=\"erp\"}"));

    // A refused webhook is counted by reason and stores nothing.
    let body = serde_json::to_vec(&json!({"data": {"customers": [
        {"id": "S-1", "name": "Acme Trading GmbH", "currency": "EUR"}
    ]}}))
    .unwrap();
    assert_eq!(deliver(&project, &base, "evt-1", &body, "wrong").await, 401);
    let metrics = get(&base, "/metrics").await;
    assert_eq!(
        sample(
            &metrics,
            "tributary_webhook_events_total{connector=\"shop\",outcome=\"bad_signature\"}"
        ),
        1.0,
        "{metrics}"
    );

    // Accepted, then killed at once: after the restart the event is staged, exactly once.
    assert_eq!(deliver(&project, &base, "evt-1", &body, SECRET).await, 202);
    drop(daemon);
    let daemon = start(dir.path(), port).await;
    until("the event staged after the restart", async || {
        shop_customers(dir.path()).await == 1
    })
    .await;
    assert_eq!(
        deliver(&project, &daemon.base, "evt-1", &body, SECRET).await,
        202
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        shop_customers(dir.path()).await,
        1,
        "a redelivery stages nothing new"
    );
    until("the master knows the webhook customer", async || {
        get(&daemon.base, "/api/customers?q=Acme%20Trading")
            .await
            .contains("shop:S-1")
    })
    .await;

    // The inbox holds the one event, processed: the refused and the repeated deliveries
    // stored nothing.
    let inbox: Value =
        serde_json::from_str(&get(&daemon.base, "/api/inbox?connector=shop").await).unwrap();
    let events = inbox.as_array().unwrap();
    assert_eq!(events.len(), 1, "{inbox}");
    assert_eq!(events[0]["status"], "processed");
    assert_eq!(events[0]["idempotency_key"], "evt-1");

    // SIGTERM: the daemon stops by itself, cleanly.
    let mut daemon = daemon;
    let pid = daemon.child.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    let started = Instant::now();
    let status = loop {
        if let Some(s) = daemon.child.try_wait().unwrap() {
            break s;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "no exit after SIGTERM"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(status.success(), "{status:?}");
}
