//! Tests of the `sql` kind: query checks without a database, and reads against the real
//! PostgreSQL (`TRIBUTARY_TEST_PG_URL`, default `postgres://postgres@127.0.0.1:5432/postgres`)
//! and MariaDB/MySQL (`TRIBUTARY_TEST_MYSQL_URL`, default `mysql://root@127.0.0.1:3306/test`)
//! on loopback. Each test makes its own scratch database and drops it, even after a panic.
//! An unreachable server fails the test with the command to start it, unless
//! `TRIBUTARY_SKIP_PG=1` / `TRIBUTARY_SKIP_MYSQL=1`.

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicU64, Ordering};

use futures::FutureExt;
use serde_json::{Value, json};
use sqlx::{Connection, Executor, MySqlConnection, PgConnection};

use super::query::{Bound, Dialect, check_query, check_url_secret, page_sql, redact};
use crate::connector::{ConnectorConfig, ConnectorError, SourceContext, open_stream};

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// One server under test.
#[derive(Clone, Copy, Debug)]
struct Backend {
    dialect: Dialect,
    /// Column type of a naive timestamp.
    ts: &'static str,
}

const PG: Backend = Backend {
    dialect: Dialect::Postgres,
    ts: "TIMESTAMP",
};
const MY: Backend = Backend {
    dialect: Dialect::MySql,
    ts: "DATETIME(6)",
};

impl Backend {
    fn admin_url(self) -> String {
        let (var, default) = match self.dialect {
            Dialect::Postgres => (
                "TRIBUTARY_TEST_PG_URL",
                "postgres://postgres@127.0.0.1:5432/postgres",
            ),
            Dialect::MySql => (
                "TRIBUTARY_TEST_MYSQL_URL",
                "mysql://root@127.0.0.1:3306/test",
            ),
        };
        std::env::var(var).unwrap_or_else(|_| default.to_string())
    }

    fn skip_var(self) -> &'static str {
        match self.dialect {
            Dialect::Postgres => "TRIBUTARY_SKIP_PG",
            Dialect::MySql => "TRIBUTARY_SKIP_MYSQL",
        }
    }

    fn how_to_start(self) -> &'static str {
        match self.dialect {
            Dialect::Postgres => {
                "start it with `pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start`"
            }
            Dialect::MySql => {
                "start it with `service mariadb start` (or `start-stop-daemon --start --background --exec /usr/sbin/mariadbd`)"
            }
        }
    }

    /// Runs statements on the database at `url`.
    async fn exec(self, url: &str, statements: &[&str]) {
        match self.dialect {
            Dialect::Postgres => {
                let mut c = PgConnection::connect(url).await.expect("connect");
                for s in statements {
                    c.execute(sqlx::AssertSqlSafe(s.to_string()))
                        .await
                        .unwrap_or_else(|e| panic!("{s}: {e}"));
                }
                c.close().await.ok();
            }
            Dialect::MySql => {
                let mut c = MySqlConnection::connect(url).await.expect("connect");
                for s in statements {
                    c.execute(sqlx::AssertSqlSafe(s.to_string()))
                        .await
                        .unwrap_or_else(|e| panic!("{s}: {e}"));
                }
                c.close().await.ok();
            }
        }
    }

    /// Runs `body(url)` with a fresh database; returns false when the backend was skipped.
    async fn with_db<F, Fut>(self, body: F) -> bool
    where
        F: FnOnce(String) -> Fut,
        Fut: Future<Output = ()>,
    {
        let admin = self.admin_url();
        let name = format!(
            "trib_sql_{}_{}_{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::SeqCst),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.subsec_nanos())
                .unwrap_or(0)
        );
        let created = match self.dialect {
            Dialect::Postgres => match PgConnection::connect(&admin).await {
                Ok(mut c) => c
                    .execute(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
                    .await
                    .map(|_| ())
                    .map_err(|e| e.to_string()),
                Err(e) => Err(e.to_string()),
            },
            Dialect::MySql => match MySqlConnection::connect(&admin).await {
                Ok(mut c) => c
                    .execute(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
                    .await
                    .map(|_| ())
                    .map_err(|e| e.to_string()),
                Err(e) => Err(e.to_string()),
            },
        };
        if let Err(e) = created {
            if std::env::var(self.skip_var()).as_deref() == Ok("1") {
                eprintln!("skipping {:?}: {e}", self.dialect);
                return false;
            }
            panic!(
                "{:?} at {admin} is unreachable ({e}): {}; or set {}=1 to skip it knowingly",
                self.dialect,
                self.how_to_start(),
                self.skip_var()
            );
        }
        let url = match admin.rsplit_once('/') {
            Some((base, _)) => format!("{base}/{name}"),
            None => panic!("no database in {admin}"),
        };
        let outcome = AssertUnwindSafe(body(url)).catch_unwind().await;
        let drop = match self.dialect {
            Dialect::Postgres => format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
            Dialect::MySql => format!("DROP DATABASE IF EXISTS {name}"),
        };
        self.exec(&admin, &[drop.as_str()]).await;
        if let Err(panic) = outcome {
            std::panic::resume_unwind(panic);
        }
        true
    }
}

/// A connector reading one stream with `options` (TOML lines of `[streams.sql]`).
fn connector(url: &str, options: &str) -> ConnectorConfig {
    let text = format!(
        "kind = \"sql\"\n[sql]\nurl = '{url}'\ntimeout_secs = 10\n[[streams]]\nname = \"rows\"\nmapping = \"m\"\n[streams.sql]\n{options}\n"
    );
    toml::from_str(&text).unwrap_or_else(|e| panic!("{e}\n{text}"))
}

/// Reads the stream to its end: the pages' payloads and the last checkpoint.
async fn read(
    config: &ConnectorConfig,
    cursor: Option<Value>,
) -> Result<(Vec<Vec<Value>>, Option<Value>), ConnectorError> {
    let ctx = SourceContext {
        root: std::env::temp_dir(),
    };
    let mut source = open_stream(config, "rows", cursor.clone(), &ctx)?;
    let mut pages = Vec::new();
    let mut last = cursor;
    while let Some(page) = source.next_page().await? {
        if page.checkpoint.is_some() {
            last = page.checkpoint.clone();
        }
        pages.push(page.records.into_iter().map(|r| r.payload).collect());
    }
    Ok((pages, last))
}

fn ids(pages: &[Vec<Value>]) -> Vec<i64> {
    pages
        .iter()
        .flatten()
        .map(|r| r["id"].as_i64().expect("integer id"))
        .collect()
}

/// The customer table of the paging tests: `n` rows, rows 3..=6 sharing one timestamp.
async fn customers(b: Backend, url: &str) {
    let create = format!(
        "CREATE TABLE res_partner (id INTEGER PRIMARY KEY, name VARCHAR(50) NOT NULL, write_date {} NULL)",
        b.ts
    );
    b.exec(
        url,
        &[
            create.as_str(),
            "INSERT INTO res_partner VALUES
             (1, 'A', '2026-11-01 08:00:00'), (2, 'B', '2026-11-01 08:01:00'),
             (6, 'F', '2026-11-01 08:02:00'), (3, 'C', '2026-11-01 08:02:00'),
             (5, 'E', '2026-11-01 08:02:00'), (4, 'D', '2026-11-01 08:02:00'),
             (7, 'G', '2026-11-01 08:03:00')",
        ],
    )
    .await;
}

const PARTNERS: &str = "query = 'SELECT id, name, write_date FROM res_partner'\ncursor = \"write_date\"\nkey = \"id\"\nbatch_size = 3";

#[tokio::test]
async fn equal_timestamps_across_page_boundaries_are_neither_lost_nor_repeated() {
    for b in [PG, MY] {
        b.with_db(|url| async move {
            customers(b, &url).await;
            let config = connector(&url, PARTNERS);
            let (pages, last) = read(&config, None).await.unwrap();
            assert_eq!(ids(&pages), vec![1, 2, 3, 4, 5, 6, 7], "{b:?}");
            assert_eq!(
                pages.iter().map(Vec::len).collect::<Vec<_>>(),
                vec![3, 3, 1]
            );
            assert_eq!(
                last,
                Some(json!({"version": 1, "cursor": "2026-11-01T08:03:00", "key": 7}))
            );
            // Batches of 1 and 2 cut inside the group of equal timestamps too.
            for size in [1, 2] {
                let config = connector(
                    &url,
                    &PARTNERS.replace("batch_size = 3", &format!("batch_size = {size}")),
                );
                let (pages, _) = read(&config, None).await.unwrap();
                assert_eq!(ids(&pages), vec![1, 2, 3, 4, 5, 6, 7], "{b:?} batch {size}");
            }
            // Nothing new: no page at all, the cursor stays.
            let (pages, again) = read(&config, last.clone()).await.unwrap();
            assert!(pages.is_empty(), "{b:?}");
            assert_eq!(again, last);
        })
        .await;
    }
}

#[tokio::test]
async fn resumes_from_a_stored_cursor_inside_a_group_of_equal_timestamps() {
    for b in [PG, MY] {
        b.with_db(|url| async move {
            customers(b, &url).await;
            let config = connector(&url, PARTNERS);
            // Stopped after id 4 of the 08:02 group (as a crash after page 2 would leave it).
            let stored = json!({"version": 1, "cursor": "2026-11-01T08:02:00", "key": 4});
            let (pages, _) = read(&config, Some(stored)).await.unwrap();
            assert_eq!(ids(&pages), vec![5, 6, 7], "{b:?}");
            // Another version is refused with the way out.
            let err = read(&config, Some(json!({"version": 2})))
                .await
                .unwrap_err();
            assert!(err.to_string().contains("sync --full"), "{err}");
        })
        .await;
    }
}

#[tokio::test]
async fn rows_updated_after_the_cursor_passed_them_are_read_again() {
    for b in [PG, MY] {
        b.with_db(|url| async move {
            customers(b, &url).await;
            let config = connector(&url, PARTNERS);
            let ctx = SourceContext {
                root: std::env::temp_dir(),
            };
            let mut source = open_stream(&config, "rows", None, &ctx).unwrap();
            let first = source.next_page().await.unwrap().unwrap();
            assert_eq!(first.records.len(), 3);
            // Row 1 (already read) changes while the read goes on: it comes again at the end.
            b.exec(
                &url,
                &["UPDATE res_partner SET name = 'A2', write_date = '2026-11-01 09:00:00' WHERE id = 1"],
            )
            .await;
            let mut rest = Vec::new();
            let mut last = None;
            while let Some(page) = source.next_page().await.unwrap() {
                last = page.checkpoint.clone();
                rest.extend(page.records.into_iter().map(|r| r.payload));
            }
            assert_eq!(ids(&[rest.clone()]), vec![4, 5, 6, 7, 1], "{b:?}");
            assert_eq!(rest.last().unwrap()["name"], "A2");
            // The next run sees only what changed after that.
            b.exec(
                &url,
                &[
                    "UPDATE res_partner SET name = 'C2', write_date = '2026-11-01 10:00:00' WHERE id = 3",
                    "INSERT INTO res_partner VALUES (8, 'H', '2026-11-01 10:00:00')",
                ],
            )
            .await;
            let (pages, last) = read(&config, last).await.unwrap();
            assert_eq!(ids(&pages), vec![3, 8], "{b:?}");
            assert_eq!(
                last,
                Some(json!({"version": 1, "cursor": "2026-11-01T10:00:00", "key": 8}))
            );
        })
        .await;
    }
}

#[tokio::test]
async fn lookback_reads_late_commits_with_older_timestamps() {
    for b in [PG, MY] {
        b.with_db(|url| async move {
            customers(b, &url).await;
            let stored = json!({"version": 1, "cursor": "2026-11-01T08:03:00", "key": 7});
            // A row committed late with a timestamp before the cursor.
            b.exec(
                &url,
                &["INSERT INTO res_partner VALUES (9, 'Late', '2026-11-01 08:02:30')"],
            )
            .await;
            let plain = connector(&url, PARTNERS);
            let (pages, _) = read(&plain, Some(stored.clone())).await.unwrap();
            assert!(ids(&pages).is_empty(), "{b:?}");
            let back = connector(&url, &format!("{PARTNERS}\nlookback_secs = 60"));
            let (pages, last) = read(&back, Some(stored.clone())).await.unwrap();
            // From 08:02:00 inclusive: the 08:02 group, the late row, and 7 again.
            assert_eq!(ids(&pages), vec![3, 4, 5, 6, 9, 7], "{b:?}");
            assert_eq!(last, Some(stored));
            // Look-back needs a time cursor.
            let by_id = connector(
                &url,
                "query = 'SELECT id, name FROM res_partner'\ncursor = \"id\"\nkey = \"id\"\nlookback_secs = 60",
            );
            let err = read(&by_id, None).await.unwrap_err().to_string();
            assert!(err.contains("lookback_secs needs a date or timestamp"), "{err}");
        })
        .await;
    }
}

#[tokio::test]
async fn rows_with_a_null_cursor_are_read_once_on_a_full_sync() {
    for b in [PG, MY] {
        b.with_db(|url| async move {
            customers(b, &url).await;
            b.exec(
                &url,
                &["INSERT INTO res_partner VALUES (10, 'N1', NULL), (11, 'N2', NULL), (12, 'N3', NULL)"],
            )
            .await;
            let config = connector(&url, &PARTNERS.replace("batch_size = 3", "batch_size = 2"));
            let ctx = SourceContext {
                root: std::env::temp_dir(),
            };
            let mut source = open_stream(&config, "rows", None, &ctx).unwrap();
            let first = source.next_page().await.unwrap().unwrap();
            assert_eq!(
                first.checkpoint,
                Some(json!({"version": 1, "cursor": null, "key": 11}))
            );
            // Resume inside the NULL group.
            let (pages, last) = read(&config, first.checkpoint.clone()).await.unwrap();
            assert_eq!(ids(&pages), vec![12, 1, 2, 3, 4, 5, 6, 7], "{b:?}");
            assert!(pages[0][0]["write_date"].is_null());
            let (pages, _) = read(&config, last).await.unwrap();
            assert!(pages.is_empty());
        })
        .await;
    }
}

#[tokio::test]
async fn postgres_types_convert_exactly() {
    PG.with_db(|url| async move {
        PG.exec(
            &url,
            &[
                "CREATE TABLE t (id BIGINT PRIMARY KEY, small SMALLINT, int INTEGER, amount NUMERIC(16,4),
                 big NUMERIC, ratio DOUBLE PRECISION, f4 REAL, name TEXT, code VARCHAR(10), fixed CHAR(3),
                 active BOOLEAN, day DATE, at TIME, written TIMESTAMP, stamped TIMESTAMPTZ, doc JSONB,
                 raw JSON, data BYTEA, nothing TEXT)",
                "INSERT INTO t VALUES (1, -2, 2147483647, 12345.6700, 123456789012345678901234.5,
                 0.5, 0.1, '深圳 \"x\"', 'C-1', 'ab', true, '2026-11-01', '08:30:00.25',
                 '2026-11-01 08:12:00.123456', '2026-11-01 08:12:00+08:00',
                 '{\"b\": [1, 2.50], \"a\": null}', '[1, \"x\"]', '\\x00ff10', NULL)",
            ],
        )
        .await;
        let config = connector(
            &url,
            "query = 'SELECT * FROM t'\ncursor = \"written\"\nkey = \"id\"\ntimezone = \"Asia/Shanghai\"",
        );
        let (pages, last) = read(&config, None).await.unwrap();
        let row = &pages[0][0];
        assert_eq!(
            *row,
            json!({"id": 1, "small": -2, "int": 2147483647, "amount": "12345.6700",
                   "big": "123456789012345678901234.5", "ratio": 0.5, "f4": 0.1,
                   "name": "深圳 \"x\"", "code": "C-1", "fixed": "ab ", "active": true,
                   "day": "2026-11-01", "at": "08:30:00.250",
                   "written": "2026-11-01T08:12:00.123456+08:00",
                   "stamped": "2026-11-01T00:12:00Z",
                   // JSON numbers keep their exact text (serde_json's arbitrary_precision).
                   "doc": serde_json::from_str::<Value>(r#"{"b": [1, 2.50], "a": null}"#).unwrap(),
                   "raw": [1, "x"], "data": "AP8Q", "nothing": null})
        );
        // The cursor keeps the naive value as written, whatever the timezone.
        assert_eq!(
            last,
            Some(json!({"version": 1, "cursor": "2026-11-01T08:12:00.123456", "key": 1}))
        );
        // A TIMESTAMPTZ or NUMERIC cursor and a text key resume as well.
        for (cursor, key) in [("stamped", "code"), ("amount", "name"), ("day", "id")] {
            let config = connector(
                &url,
                &format!("query = 'SELECT * FROM t'\ncursor = \"{cursor}\"\nkey = \"{key}\""),
            );
            let (pages, last) = read(&config, None).await.unwrap();
            assert_eq!(pages.len(), 1, "{cursor}");
            let (pages, _) = read(&config, last).await.unwrap();
            assert!(pages.is_empty(), "{cursor}");
        }
        // Unknown types name the column and the type.
        let config = connector(
            &url,
            "query = 'SELECT id, written, point(1, 2) AS spot FROM t'\ncursor = \"written\"\nkey = \"id\"",
        );
        let err = read(&config, None).await.unwrap_err().to_string();
        assert!(err.contains("`spot`") && err.contains("POINT"), "{err}");
    })
    .await;
}

#[tokio::test]
async fn mysql_types_convert_exactly() {
    MY.with_db(|url| async move {
        MY.exec(
            &url,
            &[
                "CREATE TABLE t (id BIGINT PRIMARY KEY, small SMALLINT, uns INT UNSIGNED,
                 amount DECIMAL(16,4), ratio DOUBLE, name VARCHAR(50), body TEXT, flag TINYINT(1),
                 tiny TINYINT, kind ENUM('a','b'), day DATE, at TIME, written DATETIME(6),
                 stamped TIMESTAMP NULL, doc JSON, data VARBINARY(10), nothing VARCHAR(5),
                 yr YEAR) CHARACTER SET utf8mb4",
                "INSERT INTO t VALUES (1, -2, 4294967295, 12345.6700, 0.5, '深圳', 'long text',
                 1, -5, 'b', '2026-11-01', '08:30:00', '2026-11-01 08:12:00.123456',
                 '2026-11-01 00:12:00', '{\"b\": [1, 2.5]}', X'00FF10', NULL, 2026)",
            ],
        )
        .await;
        let config = connector(
            &url,
            "query = 'SELECT id, small, uns, amount, ratio, name, body, flag, tiny, kind, day, at, written, stamped, doc, data, nothing FROM t'\ncursor = \"written\"\nkey = \"id\"\ntimezone = \"UTC\"",
        );
        let (pages, last) = read(&config, None).await.unwrap();
        assert_eq!(
            pages[0][0],
            json!({"id": 1, "small": -2, "uns": 4294967295u64, "amount": "12345.6700",
                   "ratio": 0.5, "name": "深圳", "body": "long text", "flag": true, "tiny": -5,
                   "kind": "b", "day": "2026-11-01", "at": "08:30:00",
                   "written": "2026-11-01T08:12:00.123456Z", "stamped": "2026-11-01T00:12:00Z",
                   "doc": "{\"b\": [1, 2.5]}", "data": "AP8Q", "nothing": null})
        );
        assert_eq!(
            last,
            Some(json!({"version": 1, "cursor": "2026-11-01T08:12:00.123456", "key": 1}))
        );
        let config = connector(
            &url,
            "query = 'SELECT id, written, yr FROM t'\ncursor = \"written\"\nkey = \"id\"",
        );
        let err = read(&config, None).await.unwrap_err().to_string();
        assert!(err.contains("`yr`") && err.contains("YEAR"), "{err}");
    })
    .await;
}

#[tokio::test]
async fn reads_run_in_read_only_transactions() {
    PG.with_db(|url| async move {
        PG.exec(
            &url,
            &[
                "CREATE SEQUENCE s",
                "CREATE TABLE t (id INT PRIMARY KEY, w DATE)",
                "INSERT INTO t VALUES (1, '2026-01-01')",
            ],
        )
        .await;
        let config = connector(
            &url,
            "query = \"SELECT id, w, nextval('s') AS n FROM t\"\ncursor = \"w\"\nkey = \"id\"",
        );
        let err = read(&config, None).await.unwrap_err().to_string();
        assert!(err.contains("read-only transaction"), "{err}");
    })
    .await;
    MY.with_db(|url| async move {
        MY.exec(&url, &["CREATE TABLE t (id INT PRIMARY KEY, w DATE)", "INSERT INTO t VALUES (1, '2026-01-01')"]).await;
        let config = connector(
            &url,
            "query = 'SELECT id, w, CAST(@@session.tx_read_only AS SIGNED) AS ro FROM t'\ncursor = \"w\"\nkey = \"id\"",
        );
        let (pages, _) = read(&config, None).await.unwrap();
        assert_eq!(pages[0][0]["ro"], 1);
    })
    .await;
}

#[tokio::test]
async fn columns_the_connector_cannot_use_are_config_errors() {
    for b in [PG, MY] {
        b.with_db(|url| async move {
            customers(b, &url).await;
            let missing = connector(
                &url,
                "query = 'SELECT id, name FROM res_partner'\ncursor = \"write_date\"\nkey = \"id\"",
            );
            let err = read(&missing, None).await.unwrap_err();
            assert!(matches!(err, ConnectorError::Config { .. }), "{err}");
            let text = err.to_string();
            assert!(text.contains("`write_date` is not among the query's columns (id, name)"), "{text}");
            let twice = connector(
                &url,
                "query = 'SELECT p.id, p.write_date, q.id FROM res_partner p JOIN res_partner q ON q.id = p.id'\ncursor = \"write_date\"\nkey = \"id\"",
            );
            let err = read(&twice, None).await.unwrap_err().to_string();
            // PostgreSQL lets the query through and the connector refuses it; MariaDB refuses
            // it itself.
            assert!(
                err.contains("two columns named `id`") || err.contains("Duplicate column name 'id'"),
                "{err}"
            );
            let syntax = connector(
                &url,
                "query = 'SELECT id, write_date FROM no_such_table'\ncursor = \"write_date\"\nkey = \"id\"",
            );
            let err = read(&syntax, None).await.unwrap_err().to_string();
            assert!(err.contains("the database refused the query") && err.contains("no_such_table"), "{err}");
        })
        .await;
    }
}

#[tokio::test]
async fn a_connection_failure_is_reported_clearly_without_the_password() {
    for url in [
        "postgres://erp:hunter2@127.0.0.1:1/odoo",
        "mysql://erp:hunter2@127.0.0.1:1/erp",
    ] {
        let config = connector(url, PARTNERS);
        let err = read(&config, None).await.unwrap_err().to_string();
        assert!(err.contains("cannot connect"), "{err}");
        assert!(err.contains("127.0.0.1:1"), "{err}");
        assert!(!err.contains("hunter2"), "{err}");
    }
}

#[test]
fn queries_must_be_one_plain_select() {
    assert_eq!(
        check_query("  SELECT id FROM t;  ").unwrap(),
        "SELECT id FROM t"
    );
    check_query("with x as (select 1 as id) select * from x").unwrap();
    check_query("SELECT id, row_number() OVER (ORDER BY id) AS n FROM t").unwrap();
    check_query("SELECT 'ORDER BY; LIMIT' AS s -- ORDER BY\n FROM t /* LIMIT */").unwrap();
    check_query("SELECT \"order\" FROM t").unwrap();
    let refused = [
        ("", "empty"),
        ("DELETE FROM t", "not DELETE"),
        ("UPDATE t SET a = 1", "not UPDATE"),
        ("SELECT 1; DROP TABLE t", "only one statement"),
        ("SELECT id FROM t ORDER BY id", "remove `ORDER`"),
        ("select id from t limit 5", "remove `LIMIT`"),
        ("SELECT id FROM t OFFSET 5", "remove `OFFSET`"),
        ("SELECT id FROM t FOR UPDATE", "row locks"),
        ("SELECT id INTO copy FROM t", "`INTO`"),
        ("SELECT 'open", "unterminated"),
    ];
    for (q, why) in refused {
        let err = check_query(q).unwrap_err();
        assert!(err.contains(why), "{q}: {err}");
    }
}

#[test]
fn page_queries_are_keyset_queries_with_backend_placeholders() {
    assert_eq!(
        page_sql(
            Dialect::Postgres,
            "SELECT * FROM t",
            "write_date",
            "id",
            &Bound::After,
            100
        ),
        "SELECT * FROM (SELECT * FROM t) AS q WHERE q.\"write_date\" > $1 OR (q.\"write_date\" = $1 AND q.\"id\" > $2) ORDER BY q.\"write_date\" ASC NULLS FIRST, q.\"id\" ASC LIMIT 100"
    );
    assert_eq!(
        page_sql(
            Dialect::MySql,
            "SELECT * FROM t",
            "w",
            "id",
            &Bound::After,
            5
        ),
        "SELECT * FROM (SELECT * FROM t) AS q WHERE q.`w` > ? OR (q.`w` = ? AND q.`id` > ?) ORDER BY q.`w` ASC, q.`id` ASC LIMIT 5"
    );
    assert_eq!(
        page_sql(Dialect::MySql, "SELECT 1", "w", "id", &Bound::Start, 5),
        "SELECT * FROM (SELECT 1) AS q ORDER BY q.`w` ASC, q.`id` ASC LIMIT 5"
    );
    assert_eq!(Dialect::Postgres.quote("a\"b"), "\"a\"\"b\"");
}

#[test]
fn database_passwords_must_be_references() {
    check_url_secret("${ERP_DB_URL}").unwrap();
    check_url_secret("postgres://odoo_ro:${ERP_DB_PASSWORD}@db:5432/odoo").unwrap();
    check_url_secret("postgres://postgres@127.0.0.1/odoo").unwrap();
    check_url_secret("mariadb://reader@db/erp?ssl-mode=required").unwrap();
    for url in [
        "postgres://odoo:hunter2@db/odoo",
        "mysql://root:pw@127.0.0.1/erp",
        "postgres://db/odoo?user=x&password=hunter2",
    ] {
        let err = check_url_secret(url).unwrap_err();
        assert!(
            err.contains("never written in config files"),
            "{url}: {err}"
        );
    }
    assert!(
        check_url_secret("sqlserver://db/x")
            .unwrap_err()
            .contains("unsupported")
    );
    assert_eq!(
        redact("postgres://odoo:hunter2@db:5432/odoo?sslmode=require"),
        "postgres://odoo:***@db:5432/odoo?…"
    );
}
