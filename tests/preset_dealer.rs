//! The shipped dealer presets, synced end to end on SQLite and PostgreSQL:
//!
//! - `connectors/dealer-api.toml` against a fake dealer portal (wiremock) that really applies
//!   cursor pagination, `updated_since` and bearer auth: everything is staged, a second run
//!   stages nothing, a changed dealer is restaged once;
//! - `connectors/dealer-uploads.toml` over an inbox of per-dealer CSV files: files are archived
//!   only after their records are committed (a failed move loses and duplicates nothing),
//!   half-written and fresh files wait for a later run, a file dropped again yields unchanged
//!   records, a malformed row is quarantined with `file:line` while the rest is staged; the
//!   channel inventory per dealer is then computed from what was staged.
//!
//! The preset files are copied from the repository as they ship (the API test only lowers the
//! page size so that a handful of fixture records spans several pages).

mod common;

/// What both dealer registers hold about D1001 for matching (`common::CONTACT_FIELDS`).
const D1001_CONTACT: [&str; 8] = [
    "南山区科苑路15号讯美科技广场3栋12楼",
    "深圳市",
    "518057",
    "广东省",
    "CN",
    "+86 139 2874 5501",
    "chenlf@feiyue-tech.cn",
    "www.feiyue-tech.cn",
];

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use chrono::NaiveDate;
use rust_decimal_macros::dec;
use serde_json::{Value, json};
use tributary::model::Entity;
use tributary::store::{RunStatus, Store};
use tributary::sync::{self, NoProgress, RunReport, SyncOptions};
use wiremock::matchers::{header, method, path_regex};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn fixture(path: &str) -> PathBuf {
    repo().join("tests/fixtures/dealer").join(path)
}

/// A project holding the settings, one shipped connector (its text passed through `edit`) and
/// the shipped mappings whose names start with `mapping_prefix`.
fn project_with(
    connector: &str,
    mapping_prefix: &str,
    edit: impl FnOnce(String) -> String,
) -> tempfile::TempDir {
    common::preset_project(connector, mapping_prefix, common::SETTINGS, edit)
}

async fn sync_once(root: &Path, env: &[(&str, &str)], name: &str, store: &Store) -> RunReport {
    let project = common::load(root, env);
    assert!(
        !project.connectors[name].config.enabled,
        "{name} ships disabled"
    );
    common::run_connector(&project, store, name).await
}

/// (fetched, staged, unchanged, quarantined) per stream.
fn per_stream(report: &RunReport) -> BTreeMap<String, (u64, u64, u64, u64)> {
    report
        .streams
        .iter()
        .map(|s| {
            let c = s.counts;
            (
                s.stream.clone(),
                (c.fetched, c.staged, c.unchanged, c.quarantined),
            )
        })
        .collect()
}

async fn staged(store: &Store, entity: Entity) -> BTreeMap<String, Value> {
    store
        .staged(entity)
        .await
        .unwrap()
        .into_iter()
        .map(|r| (r.key, r.canonical))
        .collect()
}

// ---------------------------------------------------------------------------------------------
// The REST preset.

const TOKEN: &str = "dealer-test-token";

/// The dealer portal: three tables served as documented in docs/connect-dealer-system.md —
/// `GET /api/v1/<table>?updated_since&limit&cursor` → `{"data": […], "next_cursor": …}`,
/// records with `updated_at >= updated_since`, sorted by (`updated_at`, key).
#[derive(Clone)]
struct Portal {
    tables: Arc<Mutex<BTreeMap<String, Vec<Value>>>>,
    requests: Arc<Mutex<Vec<String>>>,
}

impl Portal {
    fn new() -> Self {
        let mut tables = BTreeMap::new();
        for (path, file) in [
            ("dealers", "api/dealers.json"),
            ("channel-stock", "api/channel_stock.json"),
            ("sell-through", "api/sell_through.json"),
        ] {
            let body: Value =
                serde_json::from_str(&std::fs::read_to_string(fixture(file)).unwrap()).unwrap();
            tables.insert(path.to_string(), body["data"].as_array().unwrap().clone());
        }
        Portal {
            tables: Arc::new(Mutex::new(tables)),
            requests: Arc::new(Mutex::new(vec![])),
        }
    }

    fn update_dealer(&self, code: &str, name: &str, updated_at: &str) {
        let mut tables = self.tables.lock().unwrap();
        let dealer = tables
            .get_mut("dealers")
            .unwrap()
            .iter_mut()
            .find(|d| d["dealer_code"] == code)
            .unwrap();
        dealer["name"] = json!(name);
        dealer["updated_at"] = json!(updated_at);
    }
}

fn record_key(r: &Value) -> String {
    ["dealer_code", "location_code", "sku", "line_id"]
        .iter()
        .filter_map(|k| r[*k].as_str())
        .collect::<Vec<_>>()
        .join("/")
}

impl Respond for Portal {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let q: BTreeMap<String, String> = req
            .url
            .query_pairs()
            .map(|(k, v)| (k.into(), v.into()))
            .collect();
        self.requests.lock().unwrap().push(format!(
            "{}?{}",
            req.url.path(),
            req.url.query().unwrap_or("")
        ));
        let table = req.url.path().trim_start_matches("/api/v1/").to_string();
        let Some(rows) = self.tables.lock().unwrap().get(&table).cloned() else {
            return ResponseTemplate::new(404).set_body_json(
                json!({"type": "about:blank", "title": "Not Found", "status": 404}),
            );
        };
        let since = q.get("updated_since").cloned().unwrap_or_default();
        let limit: usize = q.get("limit").map_or(100, |l| l.parse().unwrap());
        let offset: usize = match q.get("cursor") {
            None => 0,
            Some(c) => match c.strip_prefix("after-").and_then(|n| n.parse().ok()) {
                Some(n) => n,
                None => {
                    return ResponseTemplate::new(400).set_body_json(
                        json!({"type": "about:blank", "title": "Bad Request", "status": 400, "detail": "bad cursor"}),
                    );
                }
            },
        };
        let mut rows: Vec<Value> = rows
            .into_iter()
            .filter(|r| r["updated_at"].as_str().unwrap() >= since.as_str())
            .collect();
        rows.sort_by_key(|r| (r["updated_at"].as_str().unwrap().to_string(), record_key(r)));
        let data: Vec<Value> = rows.iter().skip(offset).take(limit).cloned().collect();
        let next = (offset + limit < rows.len()).then(|| format!("after-{}", offset + limit));
        ResponseTemplate::new(200).set_body_json(json!({"data": data, "next_cursor": next}))
    }
}

async fn serve(portal: &Portal) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path_regex("^/api/v1/"))
        .and(header("authorization", format!("Bearer {TOKEN}").as_str()))
        .respond_with(portal.clone())
        .mount(&server)
        .await;
    // Anything else (a wrong or missing token) is refused as the portal would.
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(401).set_body_json(
            json!({"type": "about:blank", "title": "Unauthorized", "status": 401, "detail": "token expired"}),
        ))
        .mount(&server)
        .await;
    server
}

/// The preset with pages of 2 records instead of 200/500.
fn api_project() -> tempfile::TempDir {
    project_with("dealer-api", "dealer-api-", |text| {
        text.replace("size = 200", "size = 2")
            .replace("size = 500", "size = 2")
    })
}

#[tokio::test]
async fn the_dealer_api_preset_syncs_incrementally_through_cursor_pages() {
    common::on_each_backend(|backend, store| async move {
        let portal = Portal::new();
        let server = serve(&portal).await;
        let dir = api_project();
        let url = server.uri();
        let env = [
            ("DEALER_API_URL", url.as_str()),
            ("DEALER_API_TOKEN", TOKEN),
        ];

        let started = Instant::now();
        let first = sync_once(dir.path(), &env, "dealer-api", &store).await;
        eprintln!(
            "{backend}: dealer-api first sync: {} records in {:.2} s",
            first.counts.fetched,
            started.elapsed().as_secs_f64()
        );
        assert_eq!(first.status, RunStatus::Success, "{backend}: {first:?}");
        assert_eq!(
            per_stream(&first),
            BTreeMap::from([
                ("dealers".to_string(), (5, 5, 0, 0)),
                ("channel_stock".to_string(), (5, 5, 0, 0)),
                ("sell_through".to_string(), (6, 6, 0, 0)),
            ]),
            "{backend}"
        );
        {
            let requests = portal.requests.lock().unwrap();
            let dealers: Vec<&String> = requests
                .iter()
                .filter(|r| r.starts_with("/api/v1/dealers"))
                .collect();
            // 5 dealers in pages of 2: three requests, the later ones carrying the cursor.
            assert_eq!(dealers.len(), 3, "{backend}: {requests:?}");
            assert!(
                dealers[1].contains("cursor=after-2") && dealers[2].contains("cursor=after-4"),
                "{dealers:?}"
            );
            assert!(
                requests
                    .iter()
                    .all(|r| r.contains("updated_since=") && r.contains("limit=2")),
                "{requests:?}"
            );
        }

        let customers = staged(&store, Entity::Customer).await;
        assert_eq!(customers["D1001"]["kind"], "distributor");
        assert_eq!(customers["D1003"]["kind"], "dealer");
        assert_eq!(customers["D1003"]["parent_key"], "D1001");
        assert_eq!(customers["D1024"]["active"], false);
        assert_eq!(customers["A2001"]["kind"], "agent");
        assert_eq!(customers["A2001"]["parent_key"], "D1002");
        assert_eq!(
            common::texts(&customers["D1001"], &common::CONTACT_FIELDS),
            D1001_CONTACT,
            "{backend}"
        );
        // The optional fields left out or null: nothing filled.
        assert_eq!(
            common::texts(&customers["D1003"], &["phone", "email", "website"]),
            ["+86 135 3015 8826", "-", "-"]
        );
        assert_eq!(
            common::texts(&customers["A2001"], &["address", "phone"]),
            ["-", "-"]
        );
        let stock = staged(&store, Entity::InventoryPosition).await;
        assert_eq!(stock["D1001/D1001-GZ/HX-CP-050"]["tier"], "dealer");
        assert_eq!(stock["D1001/D1001-GZ/HX-CP-050"]["dealer_key"], "D1001");
        assert_eq!(stock["D1003/D1003/HX-CP-050"]["in_transit"], "0");
        let sales = staged(&store, Entity::ChannelSale).await;
        assert_eq!(sales["D1003-2026-11-20-HX-CP-050"]["quantity"], "-1");

        // Nothing changed: only the records on each stream's boundary are read again.
        portal.requests.lock().unwrap().clear();
        let second = sync_once(dir.path(), &env, "dealer-api", &store).await;
        assert_eq!(second.status, RunStatus::Success, "{backend}");
        assert_eq!(
            per_stream(&second),
            BTreeMap::from([
                // D1024 and A2001 share the last updated_at.
                ("dealers".to_string(), (2, 0, 2, 0)),
                ("channel_stock".to_string(), (1, 0, 1, 0)),
                ("sell_through".to_string(), (1, 0, 1, 0)),
            ]),
            "{backend}"
        );
        assert!(
            portal
                .requests
                .lock()
                .unwrap()
                .iter()
                .any(|r| r.starts_with("/api/v1/dealers")
                    && r.contains("updated_since=2026-11-20T04%3A00%3A00Z")),
            "{backend}: {:?}",
            portal.requests.lock().unwrap()
        );

        // One dealer is renamed at the portal: it alone is restaged, once.
        portal.update_dealer("D1003", "佛山市恒水机电有限公司", "2026-11-22T00:30:00Z");
        let third = sync_once(dir.path(), &env, "dealer-api", &store).await;
        assert_eq!(per_stream(&third)["dealers"], (3, 1, 2, 0), "{backend}");
        assert_eq!(third.counts.staged, 1, "{backend}");
        assert_eq!(
            staged(&store, Entity::Customer).await["D1003"]["name"],
            "佛山市恒水机电有限公司"
        );
        let fourth = sync_once(dir.path(), &env, "dealer-api", &store).await;
        assert_eq!(per_stream(&fourth)["dealers"], (1, 0, 1, 0), "{backend}");
    })
    .await;
}

#[tokio::test]
async fn the_dealer_api_preset_refuses_to_run_without_its_variables_and_fails_on_a_bad_token() {
    common::on_each_backend(|backend, store| async move {
        let portal = Portal::new();
        let server = serve(&portal).await;
        let dir = api_project();
        let project = common::load(dir.path(), &[]);
        let mappings = project.compile_mappings().unwrap();
        let err = sync::run_connector(
            &project,
            &mappings,
            &store,
            &project.connectors["dealer-api"],
            &SyncOptions::default(),
            &NoProgress,
        )
        .await
        .unwrap_err();
        assert!(
            err.to_string().contains("DEALER_API_URL"),
            "{backend}: {err}"
        );

        let url = server.uri();
        let report = sync_once(
            dir.path(),
            &[("DEALER_API_URL", &url), ("DEALER_API_TOKEN", "wrong")],
            "dealer-api",
            &store,
        )
        .await;
        assert_eq!(report.status, RunStatus::Failed, "{backend}");
        assert!(
            report
                .streams
                .iter()
                .all(|s| s.error_message().is_some_and(|e| e.contains("401"))),
            "{backend}: {report:?}"
        );
        assert!(
            report.streams.iter().all(|s| s
                .error
                .as_ref()
                .is_some_and(|e| e.kind == tributary::sync::FailureKind::Auth)),
            "{backend}: a refused key is an authentication failure: {report:?}"
        );
        assert!(staged(&store, Entity::Customer).await.is_empty());
    })
    .await;
}

// ---------------------------------------------------------------------------------------------
// The CSV upload preset.

/// Copies a fixture upload into the inbox (under `name`), modified `age` ago.
fn drop_file(inbox: &Path, fixture_name: &str, name: &str, age: Duration) {
    let to = inbox.join(name);
    std::fs::copy(fixture(&format!("uploads/{fixture_name}")), &to).unwrap();
    set_age(&to, age);
}

fn set_age(path: &Path, age: Duration) {
    let file = std::fs::File::options().write(true).open(path).unwrap();
    file.set_modified(SystemTime::now() - age).unwrap();
}

fn files_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_type().unwrap().is_file())
        .map(|e| e.file_name().to_string_lossy().to_string())
        .collect();
    names.sort();
    names
}

const HOUR: Duration = Duration::from_secs(3600);
const JUST_NOW: Duration = Duration::from_secs(1);

#[tokio::test]
async fn dealer_uploads_are_read_once_then_archived() {
    common::on_each_backend(|backend, store| async move {
        let dir = project_with("dealer-uploads", "dealer-upload-", |t| t);
        let root = dir.path();
        let inbox = root.join("inbox/dealers");
        std::fs::create_dir_all(&inbox).unwrap();
        for name in [
            "dealers_20261122.csv",
            "D1001_stock_20261122.csv",
            "D1003_stock_20261122.csv",
            "D1001_sellout_20261122.csv",
        ] {
            drop_file(&inbox, name, name, HOUR);
        }
        // Still being uploaded: written just now, or under a temporary or hidden name.
        drop_file(
            &inbox,
            "D1003_sellout_20261122.csv",
            "D1003_sellout_20261122.csv",
            JUST_NOW,
        );
        std::fs::write(
            inbox.join("D1002_stock_20261122.csv.part"),
            "location_code,sku,on_hand,in_transit,as_of\n,HX-CP-050,7,0,2026-11-22\n",
        )
        .unwrap();
        set_age(&inbox.join("D1002_stock_20261122.csv.part"), HOUR);
        drop_file(
            &inbox,
            "D1001_stock_20261122.csv",
            ".D1009_stock_20261122.csv",
            HOUR,
        );
        // The archive folder cannot be made: a file stands in its place. Records get committed,
        // then the move fails — as if the process had died between the two.
        std::fs::write(inbox.join("archive"), "in the way").unwrap();

        let started = Instant::now();
        let first = sync_once(root, &[], "dealer-uploads", &store).await;
        eprintln!(
            "{backend}: dealer-uploads first sync: {} records in {:.2} s",
            first.counts.fetched,
            started.elapsed().as_secs_f64()
        );
        assert_eq!(first.status, RunStatus::Failed, "{backend}: {first:?}");
        assert_eq!(
            per_stream(&first),
            BTreeMap::from([
                ("dealers".to_string(), (2, 2, 0, 0)),
                ("channel_stock".to_string(), (6, 5, 0, 1)),
                ("sell_through".to_string(), (3, 3, 0, 0)),
            ]),
            "{backend}"
        );
        assert!(
            first
                .streams
                .iter()
                .all(|s| s.error_message().is_some_and(|e| e.contains("archive"))),
            "{first:?}"
        );
        assert_eq!(staged(&store, Entity::InventoryPosition).await.len(), 5);

        // The move works again: the files are read again, nothing is restaged, then archived.
        std::fs::remove_file(inbox.join("archive")).unwrap();
        let second = sync_once(root, &[], "dealer-uploads", &store).await;
        assert_eq!(second.status, RunStatus::Partial, "{backend}: {second:?}");
        assert_eq!(
            per_stream(&second),
            BTreeMap::from([
                ("dealers".to_string(), (2, 0, 2, 0)),
                ("channel_stock".to_string(), (6, 0, 5, 1)),
                ("sell_through".to_string(), (3, 0, 3, 0)),
            ]),
            "{backend}"
        );
        assert_eq!(
            files_in(&inbox.join("archive")),
            [
                "D1001_sellout_20261122.csv",
                "D1001_stock_20261122.csv",
                "D1003_stock_20261122.csv",
                "dealers_20261122.csv"
            ]
        );
        assert_eq!(
            files_in(&inbox),
            [
                ".D1009_stock_20261122.csv",
                "D1002_stock_20261122.csv.part",
                "D1003_sellout_20261122.csv"
            ]
        );
        // The malformed row: quarantined with its file and line, the rest of its file staged.
        let bad = store.quarantine(Some("dealer-uploads"), 10).await.unwrap();
        assert!(
            !bad.is_empty()
                && bad
                    .iter()
                    .all(|q| q.locator == "D1003_stock_20261122.csv:3"),
            "{backend}: {bad:?}"
        );
        let stock = staged(&store, Entity::InventoryPosition).await;
        assert_eq!(
            stock.keys().map(String::as_str).collect::<Vec<_>>(),
            [
                "D1001/D1001-GZ/HX-CP-050",
                "D1001/D1001/HX-CP-050",
                "D1001/D1001/HX-MTR-110",
                "D1003/D1003/HX-CP-050",
                "D1003/D1003/HX-SEN-PT1"
            ]
        );
        assert_eq!(stock["D1003/D1003/HX-SEN-PT1"]["dealer_key"], "D1003");
        let customers = staged(&store, Entity::Customer).await;
        assert_eq!(customers["D1003"]["parent_key"], "D1001");
        assert_eq!(customers["D1001"]["kind"], "distributor");
        assert_eq!(
            common::texts(&customers["D1001"], &common::CONTACT_FIELDS),
            D1001_CONTACT,
            "{backend}: the optional register columns"
        );
        assert_eq!(
            common::texts(&customers["D1003"], &["address", "phone", "email"]),
            ["-", "+86 135 3015 8826", "-"]
        );

        // The uploads finish: the fresh file has settled, the .part file got its final name.
        set_age(&inbox.join("D1003_sellout_20261122.csv"), HOUR);
        std::fs::rename(
            inbox.join("D1002_stock_20261122.csv.part"),
            inbox.join("D1002_stock_20261122.csv"),
        )
        .unwrap();
        let third = sync_once(root, &[], "dealer-uploads", &store).await;
        assert_eq!(third.status, RunStatus::Success, "{backend}: {third:?}");
        assert_eq!(
            per_stream(&third),
            BTreeMap::from([
                ("dealers".to_string(), (0, 0, 0, 0)),
                ("channel_stock".to_string(), (1, 1, 0, 0)),
                ("sell_through".to_string(), (2, 2, 0, 0)),
            ]),
            "{backend}"
        );
        assert_eq!(files_in(&inbox), [".D1009_stock_20261122.csv"]);

        // The same file dropped again: read, unchanged, archived beside the first copy.
        drop_file(
            &inbox,
            "D1001_stock_20261122.csv",
            "D1001_stock_20261122.csv",
            HOUR,
        );
        let fourth = sync_once(root, &[], "dealer-uploads", &store).await;
        assert_eq!(
            per_stream(&fourth)["channel_stock"],
            (3, 0, 3, 0),
            "{backend}"
        );
        assert_eq!(fourth.status, RunStatus::Success);
        let archived: Vec<String> = files_in(&inbox.join("archive"))
            .into_iter()
            .filter(|n| n.starts_with("D1001_stock_20261122"))
            .collect();
        assert_eq!(archived.len(), 2, "{archived:?}");
        assert!(
            archived
                .iter()
                .any(|n| n != "D1001_stock_20261122.csv" && n.ends_with("Z.csv")),
            "{archived:?}"
        );

        // Channel inventory per dealer from what was staged, 28 days to 2026-11-22:
        // D1001 holds 33 + 12 + 4 = 49 and sold 6 + 5 + 3 = 14 (3.5 a week): 14 weeks of cover.
        // D1003 holds 9 + 5 = 14 and sold 4 − 1 = 3 (0.75 a week): 18.67 weeks.
        // D1002 holds 7 and reported no sales: cover unknown.
        let today = NaiveDate::from_ymd_opt(2026, 11, 22).unwrap();
        let view = tributary::views::dealer_inventory(&store, today, 28, None)
            .await
            .unwrap();
        let got: Vec<_> = view
            .iter()
            .map(|d| {
                (
                    d.dealer_key.as_str(),
                    d.on_hand,
                    d.in_transit,
                    d.sell_through,
                    d.weeks_of_cover,
                )
            })
            .collect();
        assert_eq!(
            got,
            [
                ("D1001", dec!(49), dec!(16), dec!(14), Some(dec!(14))),
                ("D1002", dec!(7), dec!(0), dec!(0), None),
                ("D1003", dec!(14), dec!(1), dec!(3), Some(dec!(18.67))),
            ],
            "{backend}"
        );
        let one = tributary::views::dealer_inventory(&store, today, 28, Some("D1003"))
            .await
            .unwrap();
        assert_eq!(one.len(), 1);
    })
    .await;
}
