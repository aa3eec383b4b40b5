//! The web page end to end in headless Chromium (Debian's `chromium` and `chromium-driver`),
//! driven through chromedriver: the shipped samples are synced into SQLite, the server runs
//! in-process, and the page is used as a finance user would — a wrong token is refused, a
//! customer is searched and opened, and every figure of its exposure table is checked against
//! the API; the credit report marks the over-limit rows; the review queue says it needs a
//! steward token.
//!
//! A machine without the browser fails this test, so CI cannot pass it silently (`.ci/run`
//! installs both packages). `TRIBUTARY_SKIP_BROWSER=1` skips it, loudly.

#[allow(unused_imports)] // the shared helpers re-export what other tests use
mod common;

use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use futures::FutureExt;
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;
use tributary::server::{AppState, Loaded};
use tributary::store::Store;

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const FINANCE_TOKEN: &str = "finance-browser-test-token";
/// The figures of the customer's exposure table: their cells' `data-field` and the label of
/// their row.
const FIGURES: [(&str, &str); 8] = [
    ("exposure", "Exposure"),
    ("open_receivables", "Open receivables"),
    ("open_orders", "Open orders"),
    ("unapplied_payments", "Unapplied payments"),
    ("credit_limit", "Credit limit"),
    ("available", "Available"),
    ("utilization_pct", "Utilisation %"),
    ("max_days_overdue", "Max days overdue"),
];
/// How long any one thing the page does may take before the test gives up on it.
const PATIENCE: Duration = Duration::from_secs(20);

/// chromedriver on a loopback port, killed (with the browser it started) when dropped.
struct Driver {
    child: Child,
    port: u16,
    log: std::path::PathBuf,
}

impl Driver {
    async fn start(dir: &Path) -> Driver {
        // A free port: bind to 0, read the port, release it for chromedriver.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free loopback port")
            .port();
        let log = dir.join("chromedriver.log");
        let out = std::fs::File::create(&log).unwrap();
        let mut command = Command::new(CHROMEDRIVER);
        command
            .arg(format!("--port={port}"))
            .arg("--allowed-ips=127.0.0.1")
            .stdin(Stdio::null())
            .stdout(out.try_clone().unwrap())
            .stderr(out);
        // Its own process group, so that the browser it starts goes down with it.
        std::os::unix::process::CommandExt::process_group(&mut command, 0);
        let child = command
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {CHROMEDRIVER}: {e}"));
        let mut driver = Driver { child, port, log };
        driver.wait_ready().await;
        driver
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Polls `/status` until chromedriver says it is ready.
    async fn wait_ready(&mut self) {
        let http = reqwest::Client::new();
        let deadline = Instant::now() + PATIENCE;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("chromedriver exited ({status}):\n{}", self.log_text());
            }
            if let Ok(res) = http.get(format!("{}/status", self.url())).send().await
                && let Ok(body) = res.json::<Value>().await
                && body["value"]["ready"] == json!(true)
            {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "chromedriver did not answer on port {} within {PATIENCE:?}:\n{}",
                self.port,
                self.log_text()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        // The whole group (chromedriver and the Chromium it started), then chromedriver itself
        // in case the group could not be signalled.
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", self.child.id())])
            .stderr(Stdio::null())
            .status();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Whether the browser is there; `None` means skip (only when asked to).
fn browser_present() -> Option<()> {
    let missing: Vec<&str> = [CHROMIUM, CHROMEDRIVER]
        .into_iter()
        .filter(|p| !Path::new(p).exists())
        .collect();
    if missing.is_empty() {
        return Some(());
    }
    if std::env::var("TRIBUTARY_SKIP_BROWSER").as_deref() == Ok("1") {
        eprintln!(
            "\n!!!!!!!! SKIPPED: the browser test did not run: {} missing and TRIBUTARY_SKIP_BROWSER=1 !!!!!!!!\n",
            missing.join(", ")
        );
        return None;
    }
    panic!(
        "the browser test needs {}; install Debian's packages with \
         `apt-get install -y chromium chromium-driver` (as .ci/run does), \
         or set TRIBUTARY_SKIP_BROWSER=1 to skip it",
        missing.join(" and ")
    );
}

/// The shipped project synced from both connectors into a fresh SQLite store, served on a
/// loopback port with a finance token.
async fn start_server(dir: &Path) -> (SocketAddr, CancellationToken) {
    let project = common::load(dir, &[("TRIBUTARY_FINANCE_TOKEN", FINANCE_TOKEN)]);
    let url = format!("sqlite://{}", dir.join("browser.db").display());
    let store = Store::connect(&url).await.unwrap();
    for name in ["erp", "dealer-portal"] {
        common::run_connector(&project, &store, name).await;
    }
    tributary::master::reconcile_master(&project, &store)
        .await
        .unwrap();
    let now = chrono::Utc::now();
    tributary::master::refresh_insights(&project, &store, now.date_naive(), now)
        .await
        .unwrap();

    let state = AppState::new(Loaded::new(project).unwrap(), store);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let shutdown = CancellationToken::new();
    tokio::spawn(tributary::server::serve(listener, state, shutdown.clone()));
    (addr, shutdown)
}

/// The API as the page reads it, with the finance token.
struct Api {
    http: reqwest::Client,
    base: String,
}

impl Api {
    async fn get(&self, path: &str) -> reqwest::Response {
        self.http
            .get(format!("{}{path}", self.base))
            .bearer_auth(FINANCE_TOKEN)
            .send()
            .await
            .unwrap()
    }

    async fn json(&self, path: &str) -> Value {
        let res = self.get(path).await;
        assert!(res.status().is_success(), "GET {path}: {}", res.status());
        res.json().await.unwrap()
    }
}

async fn connect_browser(driver: &Driver, profile: &Path) -> Client {
    let args = [
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--window-size=1280,1000",
    ]
    .into_iter()
    .map(String::from)
    .chain([format!("--user-data-dir={}", profile.display())])
    .collect::<Vec<_>>();
    let caps = json!({
        "browserName": "chrome",
        "goog:chromeOptions": { "binary": CHROMIUM, "args": args },
    });
    let serde_json::Value::Object(caps) = caps else {
        unreachable!()
    };
    let connector = hyper_util::client::legacy::connect::HttpConnector::new();
    ClientBuilder::new(connector)
        .capabilities(caps)
        .connect(&driver.url())
        .await
        .unwrap_or_else(|e| panic!("no browser session: {e}\n{}", driver.log_text()))
}

/// Polls `css` until its text satisfies `ok`; returns that text.
async fn wait_text(c: &Client, css: &str, what: &str, ok: impl Fn(&str) -> bool) -> String {
    let deadline = Instant::now() + PATIENCE;
    let mut last = None;
    loop {
        if let Ok(e) = c.find(Locator::Css(css)).await
            && let Ok(text) = e.text().await
        {
            if ok(&text) {
                return text;
            }
            last = Some(text);
        }
        assert!(
            Instant::now() < deadline,
            "`{css}` never showed {what} within {PATIENCE:?}; last text: {last:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn wait_for(c: &Client, css: &str) -> fantoccini::elements::Element {
    c.wait()
        .at_most(PATIENCE)
        .for_element(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("`{css}` did not appear within {PATIENCE:?}: {e}"))
}

async fn click(c: &Client, css: &str) {
    let element = c
        .find(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("no `{css}` to click: {e}"));
    element
        .click()
        .await
        .unwrap_or_else(|e| panic!("`{css}` cannot be clicked: {e}"));
}

/// The text the page shows for an API value: strings as they are, numbers as written, null as
/// an empty cell.
fn shown(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn negative(v: &Value) -> bool {
    v.as_str().is_some_and(|s| s.starts_with('-'))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn finance_user_checks_a_customer_exposure_in_headless_chromium() {
    if browser_present().is_none() {
        return;
    }
    let dir = common::shipped_project();
    let (addr, shutdown) = start_server(dir.path()).await;
    let _ = rustls::crypto::ring::default_provider().install_default();
    let api = Api {
        http: reqwest::Client::new(),
        base: format!("http://{addr}"),
    };
    let driver = Driver::start(dir.path()).await;
    let profile = tempfile::tempdir().unwrap();
    let client = connect_browser(&driver, profile.path()).await;

    let outcome = std::panic::AssertUnwindSafe(use_the_page(&client, &api))
        .catch_unwind()
        .await;
    if outcome.is_err()
        && let Ok(png) = client.screenshot().await
    {
        let path = std::env::temp_dir().join("tributary-browser-failure.png");
        if std::fs::write(&path, png).is_ok() {
            eprintln!("screenshot of the page at the failure: {}", path.display());
        }
    }
    let _ = client.close().await;
    drop(driver);
    shutdown.cancel();
    if let Err(panic) = outcome {
        std::panic::resume_unwind(panic);
    }
}

async fn use_the_page(c: &Client, api: &Api) {
    c.goto(&format!("{}/", api.base)).await.unwrap();

    // A wrong token is refused with the login error, and the tabs stay hidden.
    let token = wait_for(c, "#token").await;
    token.send_keys("not-a-token").await.unwrap();
    click(c, "#login").await;
    let error = wait_text(c, "#login-error", "an error", |t| !t.is_empty()).await;
    assert_eq!(error, "The token was not accepted.");
    assert!(
        !c.find(Locator::Css("#nav"))
            .await
            .unwrap()
            .is_displayed()
            .await
            .unwrap(),
        "the tabs show without a valid token"
    );

    // The finance token signs in: the customer search and the tabs show, the sign-in form goes.
    let token = c.find(Locator::Css("#token")).await.unwrap();
    token.clear().await.unwrap();
    token.send_keys(FINANCE_TOKEN).await.unwrap();
    click(c, "#login").await;
    let search = wait_for(c, "#customers-view:not([hidden]) #search-input").await;
    for (css, shown_now) in [("#nav", true), ("#login-view", false)] {
        let element = c.find(Locator::Css(css)).await.unwrap();
        assert_eq!(
            element.is_displayed().await.unwrap(),
            shown_now,
            "`{css}` after signing in"
        );
    }

    // A customer with a credit limit, open receivables, open orders and unapplied payments,
    // whose eight figures all differ (so a figure shown in the wrong cell cannot pass), from
    // the API's report.
    let report = api.json("/api/credit/report").await;
    let rows = report["rows"].as_array().unwrap();
    let pick = rows
        .iter()
        .find(|r| {
            let figures: Vec<String> = FIGURES.iter().map(|(f, _)| shown(&r[f])).collect();
            let distinct: std::collections::BTreeSet<&String> = figures.iter().collect();
            distinct.len() == FIGURES.len()
                && figures.iter().all(|f| !f.is_empty() && f != "0")
                && !negative(&r["available"])
        })
        .expect("a shipped customer with every figure of the exposure table set and distinct");
    let id = pick["master_id"].as_str().unwrap();
    let name = pick["name"].as_str().unwrap();

    // Search it by name and open it from the results.
    search.send_keys(name).await.unwrap();
    click(c, "#search-button").await;
    let link = wait_for(c, &format!("#results a[data-id=\"{id}\"]")).await;
    link.click().await.unwrap();
    wait_text(c, "#customer-name", "the customer's name", |t| t == name).await;
    wait_for(c, "#customer:not([hidden]) #exposure").await;

    // The value tier and lifecycle stage of the 360 are the API's.
    let customer = api.json(&format!("/api/customers/{id}")).await;
    let tier = customer["insight"]["value"]["tier"].as_str().unwrap();
    let stage = customer["insight"]["lifecycle"]["stage"].as_str().unwrap();
    let text = |css: &'static str| async move {
        c.find(Locator::Css(css))
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    };
    assert_eq!(text("#customer-tier").await, format!("tier {tier}"));
    assert_eq!(text("#customer-stage").await, stage);

    // Every figure of the exposure table is the API's, as the API writes it.
    let credit = api.json(&format!("/api/customers/{id}/credit")).await;
    for (field, label) in FIGURES {
        let cell = c
            .find(Locator::Css(&format!(
                "#exposure td[data-field=\"{field}\"]"
            )))
            .await
            .unwrap_or_else(|e| panic!("no `{field}` cell in the exposure table: {e}"));
        let text = cell.text().await.unwrap();
        assert_eq!(text, shown(&credit[field]), "{field} of {id} ({name})");
        let header = cell
            .find(Locator::XPath("./ancestor::tr[1]/th"))
            .await
            .unwrap_or_else(|e| panic!("no label beside the `{field}` cell: {e}"));
        assert_eq!(header.text().await.unwrap(), label, "label of {field}");
    }
    let cells = c
        .find_all(Locator::Css("#exposure td[data-field]"))
        .await
        .unwrap();
    assert_eq!(cells.len(), FIGURES.len(), "figures of the exposure table");

    // The credit report marks exactly the rows over their limit on its first page.
    click(c, "nav button[data-view=\"report\"]").await;
    wait_text(c, "#report-total", "the page's total", |t| !t.is_empty()).await;
    let page = api
        .json("/api/credit/report?offset=0&limit=50&sort=utilization")
        .await;
    let page_rows = page["rows"].as_array().unwrap();
    let mut over: Vec<&str> = page_rows
        .iter()
        .filter(|r| negative(&r["available"]))
        .map(|r| r["master_id"].as_str().unwrap())
        .collect();
    assert!(
        !over.is_empty(),
        "the samples have customers over their limit"
    );
    let shown_rows = c.find_all(Locator::Css("#report tbody tr")).await.unwrap();
    assert_eq!(shown_rows.len(), page_rows.len(), "rows of the report page");
    let mut marked = Vec::new();
    for row in c
        .find_all(Locator::Css("#report tbody tr.over"))
        .await
        .unwrap()
    {
        let link = row.find(Locator::Css("a[data-id]")).await.unwrap();
        marked.push(link.attr("data-id").await.unwrap().unwrap());
    }
    over.sort();
    marked.sort();
    assert_eq!(marked, over, "rows marked over the limit");

    // The review queue needs a steward: the API answers 403 and the page says so.
    assert_eq!(api.get("/api/reviews").await.status(), 403);
    click(c, "nav button[data-view=\"reviews\"]").await;
    let note = wait_text(c, "#reviews-note", "the steward note", |t| !t.is_empty()).await;
    assert!(note.contains("needs a steward token"), "{note}");
    assert!(
        c.find_all(Locator::Css("#reviews tbody tr"))
            .await
            .unwrap()
            .is_empty(),
        "review rows shown to finance"
    );
}
