//! The daemon's HTTP side against the shipped samples, on each store backend: every API route
//! with each role (no token → 401, a role too low → 403), the figures the API gives against the
//! library's, the credit report's filters, paging and CSV, triggering runs (409 while one runs),
//! webhook intake over HTTP, health and the OpenAPI document.

mod common;

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;
use tributary::config::Project;
use tributary::server::{AppState, Loaded};
use tributary::store::Store;

const TOKENS: [(&str, &str); 3] = [
    ("TRIBUTARY_FINANCE_TOKEN", "fin-0d5c"),
    ("TRIBUTARY_STEWARD_TOKEN", "stw-61aa"),
    ("TRIBUTARY_ADMIN_TOKEN", "adm-9e07"),
];

/// A running server over a synced copy of the shipped project.
struct Server {
    base: String,
    state: AppState,
    shutdown: CancellationToken,
    client: reqwest::Client,
    project: Project,
    _dir: tempfile::TempDir,
}

impl Drop for Server {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

impl Server {
    async fn start(store: Store) -> Server {
        Server::start_in(common::shipped_project(), store).await
    }

    /// A running server over the project in `dir`, synced.
    async fn start_in(dir: tempfile::TempDir, store: Store) -> Server {
        let project = common::load(dir.path(), &TOKENS);
        for name in ["dealer-portal", "erp"] {
            common::run_connector(&project, &store, name).await;
        }
        tributary::master::reconcile_master(&project, &store)
            .await
            .unwrap();
        let env = TOKENS
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let state = AppState::with_env(Loaded::new(project.clone()).unwrap(), store, env);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let shutdown = CancellationToken::new();
        tokio::spawn(tributary::server::serve(
            listener,
            state.clone(),
            shutdown.clone(),
        ));
        tokio::spawn(tributary::server::webhooks::worker(
            state.clone(),
            shutdown.clone(),
        ));
        Server {
            base,
            state,
            shutdown,
            client: {
                let _ = rustls::crypto::ring::default_provider().install_default();
                reqwest::Client::new()
            },
            project,
            _dir: dir,
        }
    }

    async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (StatusCode, String) {
        let mut req = self.client.request(method, format!("{}{path}", self.base));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let res = req.send().await.unwrap();
        (res.status(), res.text().await.unwrap())
    }

    async fn get(&self, path: &str, token: &str) -> Value {
        let (status, text) = self.call(Method::GET, path, Some(token), None).await;
        assert_eq!(status, StatusCode::OK, "GET {path}: {text}");
        serde_json::from_str(&text).unwrap()
    }
}

const FINANCE: &str = TOKENS[0].1;
const STEWARD: &str = TOKENS[1].1;
const ADMIN: &str = TOKENS[2].1;

#[tokio::test]
async fn every_route_answers_each_role_as_configured() {
    common::on_each_backend(|backend, store| async move {
        let s = Server::start(store).await;
        let report = s.get("/api/credit/report?limit=1", FINANCE).await;
        let id = report["rows"][0]["master_id"].as_str().unwrap().to_string();
        let why = json!({"reason": "test"});
        // (method, path, body, lowest role allowed (0 finance, 1 steward, 2 admin), status then)
        let routes: Vec<(Method, String, Option<Value>, usize, u16)> = vec![
            (Method::GET, "/api/customers?q=泵业".into(), None, 0, 200),
            (Method::GET, format!("/api/customers/{id}"), None, 0, 200),
            (Method::GET, "/api/customers/M-nope".into(), None, 0, 404),
            (
                Method::GET,
                format!("/api/customers/{id}/credit"),
                None,
                0,
                200,
            ),
            (
                Method::GET,
                format!("/api/customers/{id}/credit?group=true"),
                None,
                0,
                200,
            ),
            (Method::GET, "/api/credit/report".into(), None, 0, 200),
            (Method::GET, "/api/connectors".into(), None, 0, 200),
            (Method::GET, "/api/reviews".into(), None, 1, 200),
            (Method::GET, "/api/reviews/999999".into(), None, 1, 404),
            (
                Method::POST,
                "/api/reviews/999999/approve".into(),
                Some(why.clone()),
                1,
                404,
            ),
            (
                Method::POST,
                "/api/reviews/999999/reject".into(),
                Some(why.clone()),
                1,
                404,
            ),
            (
                Method::POST,
                "/api/masters/merge".into(),
                Some(json!({"a": "M-nope", "b": id, "reason": "test"})),
                1,
                404,
            ),
            (
                Method::POST,
                "/api/masters/link".into(),
                Some(json!({"left": "erp", "right": "erp:C10014", "reason": "test"})),
                1,
                400,
            ),
            (
                Method::POST,
                "/api/masters/unlink".into(),
                Some(json!({"left": "erp:", "right": "erp:C10014", "reason": "test"})),
                1,
                400,
            ),
            (
                Method::POST,
                "/api/masters/M-nope/split".into(),
                Some(json!({"records": ["erp:C10014"], "reason": "test"})),
                1,
                404,
            ),
            (
                Method::GET,
                format!("/api/masters/{id}/history"),
                None,
                1,
                200,
            ),
            (
                Method::POST,
                "/api/decisions/999999/undo".into(),
                Some(why),
                1,
                404,
            ),
            (Method::GET, "/api/runs?limit=5".into(), None, 2, 200),
            (
                Method::POST,
                "/api/runs".into(),
                Some(json!({"connector": "nope"})),
                2,
                404,
            ),
            (Method::GET, "/api/quarantine".into(), None, 2, 200),
            (Method::GET, "/api/inbox?connector=erp".into(), None, 2, 200),
            (Method::GET, "/api/quarantine/999999".into(), None, 2, 404),
            (
                Method::POST,
                "/api/quarantine/999999/replay".into(),
                None,
                2,
                404,
            ),
            (Method::POST, "/api/config/reload".into(), None, 2, 200),
        ];
        let roles = [FINANCE, STEWARD, ADMIN];
        for (method, path, body, lowest, then) in routes {
            let (status, text) = s.call(method.clone(), &path, None, body.clone()).await;
            assert_eq!(
                status, 401,
                "{backend}: {method} {path} without a token: {text}"
            );
            let (status, _) = s
                .call(method.clone(), &path, Some("not-a-token"), body.clone())
                .await;
            assert_eq!(status, 401, "{backend}: {method} {path} with a wrong token");
            for (rank, token) in roles.iter().enumerate() {
                let (status, text) = s
                    .call(method.clone(), &path, Some(token), body.clone())
                    .await;
                let expected = if rank < lowest { 403 } else { then };
                assert_eq!(
                    status.as_u16(),
                    expected,
                    "{backend}: {method} {path} as role {rank}: {text}"
                );
            }
        }
        // Open endpoints.
        for path in ["/healthz", "/readyz", "/openapi.json", "/metrics", "/"] {
            let (status, _) = s.call(Method::GET, path, None, None).await;
            assert_eq!(status, 200, "{backend}: {path}");
        }
        let doc: Value =
            serde_json::from_str(&s.call(Method::GET, "/openapi.json", None, None).await.1)
                .unwrap();
        for path in [
            "/api/customers/{id}",
            "/api/credit/report",
            "/api/reviews/{id}/approve",
            "/api/runs",
        ] {
            assert!(
                doc["paths"][path].is_object(),
                "{backend}: {path} not documented"
            );
        }
        assert_eq!(
            doc["components"]["securitySchemes"]["bearer"]["scheme"],
            "bearer"
        );
    })
    .await;
}

#[tokio::test]
async fn the_api_gives_the_libraries_figures() {
    common::on_each_backend(|backend, store| async move {
        let s = Server::start(store.clone()).await;
        let now = chrono::Utc::now();
        let today = now.date_naive();
        let all = tributary::views::exposures(&s.project, &store, today, now)
            .await
            .unwrap();

        // Search by name finds the group head; its 360 carries golden record, lineage, records,
        // documents and the same exposure as the library.
        let hits = s
            .get(
                "/api/customers?q=%E5%8D%8E%E5%8D%97%E6%B3%B5%E4%B8%9A%E9%9B%86%E5%9B%A2",
                FINANCE,
            )
            .await;
        assert_eq!(hits["total"], 1, "{backend}: {hits}");
        let id = hits["rows"][0]["master_id"].as_str().unwrap().to_string();
        let c = s.get(&format!("/api/customers/{id}"), FINANCE).await;
        assert_eq!(c["master_id"], id);
        assert_eq!(c["lineage"]["name"]["source"], "erp");
        assert!(!c["records"].as_array().unwrap().is_empty());
        let e = &all[&id];
        assert_eq!(c["exposure"]["exposure"], e.exposure.to_string());
        assert_eq!(
            c["exposure"]["open_receivables"],
            e.open_receivables.to_string()
        );
        let open: usize = c["documents"]["open_invoices"].as_array().unwrap().len();
        assert!(
            open > 0 || e.open_receivables.is_zero(),
            "{backend}: receivables without open invoices"
        );
        let credit = s.get(&format!("/api/customers/{id}/credit"), FINANCE).await;
        assert_eq!(credit, serde_json::to_value(e).unwrap());
        let group = s
            .get(&format!("/api/customers/{id}/credit?group=true"), FINANCE)
            .await;
        assert!(
            group["members"].as_array().unwrap().len() >= 3,
            "{backend}: {group}"
        );

        // The report: filters agree with the figures, paging keeps the total, CSV has a line a row.
        let over = s.get("/api/credit/report?over_limit=true", FINANCE).await;
        let expected_over = all
            .values()
            .filter(|e| {
                e.available
                    .is_some_and(|a| a.is_sign_negative() && !a.is_zero())
            })
            .count();
        assert_eq!(over["total"], expected_over, "{backend}");
        assert!(expected_over > 0);
        let overdue = s
            .get(
                "/api/credit/report?min_days_overdue=60&sort=overdue",
                FINANCE,
            )
            .await;
        let days: Vec<i64> = overdue["rows"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["max_days_overdue"].as_i64().unwrap())
            .collect();
        assert!(
            !days.is_empty() && days.iter().all(|d| *d >= 60),
            "{backend}: {days:?}"
        );
        assert!(
            days.windows(2).all(|w| w[0] >= w[1]),
            "{backend}: not sorted: {days:?}"
        );
        let page = s.get("/api/credit/report?offset=2&limit=3", FINANCE).await;
        assert_eq!(page["total"], all.len());
        assert_eq!(page["rows"].as_array().unwrap().len(), 3);
        let first = s.get("/api/credit/report?limit=5", FINANCE).await;
        assert_eq!(page["rows"][0], first["rows"][2], "{backend}: paging");
        let res = s
            .client
            .get(format!(
                "{}/api/credit/report?format=csv&over_limit=true",
                s.base
            ))
            .bearer_auth(FINANCE)
            .send()
            .await
            .unwrap();
        assert!(
            res.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/csv")
        );
        let csv = res.text().await.unwrap();
        assert_eq!(csv.lines().count(), expected_over + 1, "{backend}: {csv}");
        assert!(csv.starts_with("master_id,name,currency,credit_limit"));
        let (status, text) = s
            .call(
                Method::GET,
                "/api/credit/report?format=xml",
                Some(FINANCE),
                None,
            )
            .await;
        assert_eq!(status, 400, "{text}");
    })
    .await;
}

#[tokio::test]
async fn the_review_queue_puts_the_costliest_splits_first() {
    common::on_each_backend(|backend, store| async move {
        let s = Server::start_in(common::review_project(), store).await;
        let report = s.get("/api/credit/report", FINANCE).await;
        let exposures = common::exposures_of(report["rows"].as_array().unwrap());
        let tasks = s.get("/api/reviews", STEWARD).await;
        let tasks = tasks.as_array().unwrap();
        common::check_review_queue(tasks, &exposures);

        // By probability: the same tasks, most probable first; an unknown order is refused.
        let by_p = s.get("/api/reviews?sort=probability", STEWARD).await;
        let by_p = by_p.as_array().unwrap();
        common::check_probability_order(by_p, tasks);
        let (status, text) = s
            .call(Method::GET, "/api/reviews?sort=size", Some(STEWARD), None)
            .await;
        assert_eq!(status, 400, "{backend}: {text}");

        // Answered, a task leaves the queue and the rest keep their order.
        let top = tasks[0]["id"].as_i64().unwrap();
        let (status, text) = s
            .call(
                Method::POST,
                &format!("/api/reviews/{top}/reject"),
                Some(STEWARD),
                Some(json!({"reason": "a stationer, not the engineering firm"})),
            )
            .await;
        assert_eq!(status, 200, "{backend}: {text}");
        let after = s.get("/api/reviews", STEWARD).await;
        let ids = |t: &[Value]| t.iter().map(|t| t["id"].clone()).collect::<Vec<_>>();
        assert_eq!(
            ids(after.as_array().unwrap()),
            ids(&tasks[1..]),
            "{backend}"
        );

        // The OpenAPI document describes the field.
        let doc: Value =
            serde_json::from_str(&s.call(Method::GET, "/openapi.json", None, None).await.1)
                .unwrap();
        let task = doc["components"]["schemas"]["ReviewTask"].to_string();
        assert!(
            task.contains("at_stake") && task.contains("currency"),
            "{backend}: {task}"
        );
    })
    .await;
}

#[tokio::test]
async fn a_triggered_run_is_refused_while_the_connector_runs() {
    common::on_each_backend(|backend, store| async move {
        let s = Server::start(store).await;
        let body = json!({"connector": "erp"});
        let held = s.state.runner().claim("erp").await.unwrap();
        let (status, text) = s
            .call(Method::POST, "/api/runs", Some(ADMIN), Some(body.clone()))
            .await;
        assert_eq!(status, 409, "{backend}: {text}");
        // Another daemon on the same store is kept out by the store's run lock too.
        let other_daemon = tributary::server::Runner::new(
            Loaded::new(s.project.clone()).unwrap(),
            s.state.store().clone(),
        );
        assert!(
            matches!(
                other_daemon.claim("erp").await,
                Err(tributary::server::TriggerError::AlreadyRunning(_))
            ),
            "{backend}"
        );
        let before = s.get("/api/runs?connector=erp", ADMIN).await;
        s.state.runner().run(held, false).await.unwrap();
        let (status, text) = s
            .call(Method::POST, "/api/runs", Some(ADMIN), Some(body))
            .await;
        assert_eq!(status, 202, "{backend}: {text}");
        // The run shows in the history once it ends.
        let mut runs = Value::Null;
        for _ in 0..100 {
            runs = s.get("/api/runs?connector=erp", ADMIN).await;
            let ended = runs.as_array().unwrap().len() == before.as_array().unwrap().len() + 2
                && runs[0]["finished_at"].is_string();
            if ended {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert_eq!(runs[0]["status"], "success", "{backend}: {runs}");
        let connectors = s.get("/api/connectors", FINANCE).await;
        let erp = connectors
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["name"] == "erp")
            .unwrap();
        assert_eq!(erp["stale"], false, "{backend}: {erp}");
        assert_eq!(erp["last_run"]["id"], runs[0]["id"]);
    })
    .await;
}

#[tokio::test]
async fn a_quarantined_record_replays_after_its_mapping_is_fixed() {
    common::on_each_backend(|backend, store| async move {
        let s = Server::start(store).await;
        let rows = s.get("/api/quarantine?connector=erp", ADMIN).await;
        let row = rows
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["key"] == "C10031")
            .unwrap_or_else(|| panic!("{backend}: C10031 not quarantined: {rows}"))
            .clone();
        let id = row["id"].as_i64().unwrap();
        let path = format!("/api/quarantine/{id}/replay");

        // Still the old mapping: it fails again, with the reason, and stays.
        let (status, text) = s.call(Method::POST, &path, Some(ADMIN), None).await;
        assert_eq!(status, 200, "{backend}: {text}");
        let out: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(out["outcome"], "still_failing", "{backend}: {out}");
        assert!(out["reason"].as_str().unwrap().contains("name"), "{out}");

        // The mapping gets a default name; an invalid edit is refused by the reload first.
        let mapping = s.project.root.join("mappings/erp-customers.toml");
        let text = std::fs::read_to_string(&mapping).unwrap();
        std::fs::write(&mapping, text.replace("required = true", "required = maybe")).unwrap();
        let (status, body) = s
            .call(Method::POST, "/api/config/reload", Some(ADMIN), None)
            .await;
        assert_eq!(status, 400, "{backend}: {body}");
        assert!(body.contains("erp-customers.toml"), "{body}");
        let name = "[fields.name]\npath = \"name\"\ntransforms = [\"trim\", \"collapse_whitespace\"]\nrequired = true";
        assert!(text.contains(name), "the shipped mapping changed: {text}");
        let fixed = text.replace(
            name,
            &name.replace("required = true", "default = \"(name missing in ERP)\""),
        );
        std::fs::write(&mapping, fixed).unwrap();
        let (status, body) = s
            .call(Method::POST, "/api/config/reload", Some(ADMIN), None)
            .await;
        assert_eq!(status, 200, "{backend}: {body}");

        let (status, text) = s.call(Method::POST, &path, Some(ADMIN), None).await;
        assert_eq!(status, 200, "{backend}: {text}");
        let out: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(out["outcome"], "staged", "{backend}: {out}");
        assert_eq!(out["key"], "C10031");
        let (status, _) = s
            .call(Method::GET, &format!("/api/quarantine/{id}"), Some(ADMIN), None)
            .await;
        assert_eq!(status, 404, "{backend}: released from the quarantine");
        let hits = s.get("/api/customers?q=C10031", FINANCE).await;
        assert_eq!(hits["total"], 1, "{backend}: the master has it: {hits}");
    })
    .await;
}
