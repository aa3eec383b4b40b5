//! Store tests, each run on SQLite and on PostgreSQL (see [`super::testing`]).

use chrono::{DateTime, Duration, Utc};
use serde_json::{Value, json};

use super::sql::{micros, on_pool};
use super::testing::each_backend_named;
use super::*;
use crate::model::Entity;

fn rec(key: &str, entity: Entity, name: &str) -> StagedRecord {
    let canonical = json!({ "source_key": key, "name": name });
    StagedRecord {
        key: key.into(),
        entity,
        customer_key: (entity != Entity::Customer).then(|| "C1".to_string()),
        payload: json!({ "raw": key, "name": name }),
        hash: format!("h:{name}"),
        canonical,
    }
}

fn batch<'a>(
    run: RunId,
    stream: &'a str,
    records: Vec<StagedRecord>,
    cursor: Option<Value>,
) -> Batch<'a> {
    Batch {
        run,
        connector: "erp",
        stream,
        records,
        quarantined: vec![],
        cursor,
    }
}

fn bad(key: &str, reason: &str) -> Quarantined {
    Quarantined {
        key: key.into(),
        locator: format!("customers.csv:{key}"),
        payload: json!({ "no": key }),
        reason: reason.into(),
    }
}

/// Runs raw SQL on the store's own pool (to break things on purpose).
async fn exec(store: &Store, sql: &'static str) {
    on_pool!(store, pool => {
        sqlx::raw_sql(sql).execute(pool).await.unwrap();
    });
}

#[tokio::test]
async fn connecting_twice_migrates_once_and_keeps_data() {
    each_backend_named(|backend, store| async move {
        let run = store.start_run("erp").await.unwrap();
        // A second store on the same database finds the schema up to date.
        let url = match &store.pool {
            sql::Pool::Sqlite(p) => {
                format!("sqlite://{}", p.connect_options().get_filename().display())
            }
            sql::Pool::Postgres(p) => {
                let o = p.connect_options();
                format!(
                    "postgres://{}@{}:{}/{}",
                    o.get_username(),
                    o.get_host(),
                    o.get_port(),
                    o.get_database().unwrap_or_default()
                )
            }
        };
        let again = Store::connect(&url).await.unwrap();
        assert_eq!(again.backend().as_str(), backend);
        let runs = again.runs(None, 10).await.unwrap();
        assert_eq!(runs.len(), 1, "{backend}");
        assert_eq!(runs[0].id, run);
        again.close().await;
    })
    .await;
}

#[tokio::test]
async fn sqlite_creates_its_folder_and_memory_works() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a/b/store.db");
    let store = Store::connect(&format!("sqlite:{}", path.display()))
        .await
        .unwrap();
    assert_eq!(store.backend(), Backend::Sqlite);
    assert!(path.exists());
    store.close().await;

    let mem = Store::connect("sqlite::memory:").await.unwrap();
    let run = mem.start_run("erp").await.unwrap();
    mem.commit_batch(batch(run, "s", vec![rec("1", Entity::Customer, "A")], None))
        .await
        .unwrap();
    assert_eq!(mem.staged(Entity::Customer).await.unwrap().len(), 1);

    assert!(matches!(
        Store::connect("mysql://x").await,
        Err(StoreError::Url(_))
    ));
}

#[tokio::test]
async fn staging_counts_new_unchanged_and_changed() {
    each_backend_named(|backend, store| async move {
        let run = store.start_run("erp").await.unwrap();
        let page: Vec<_> = (0..5)
            .map(|i| rec(&i.to_string(), Entity::Customer, &format!("N{i}")))
            .collect();
        let c = store
            .commit_batch(batch(run, "customers", page.clone(), None))
            .await
            .unwrap();
        assert_eq!(
            (c.staged, c.unchanged, c.quarantined),
            (5, 0, 0),
            "{backend}"
        );

        let run2 = store.start_run("erp").await.unwrap();
        let c = store
            .commit_batch(batch(run2, "customers", page.clone(), None))
            .await
            .unwrap();
        assert_eq!((c.staged, c.unchanged), (0, 5), "{backend}");
        let rows = store.staged(Entity::Customer).await.unwrap();
        assert!(
            rows.iter().all(|r| r.run == run),
            "unchanged rows keep their run"
        );

        let mut changed = page.clone();
        changed[1] = rec("1", Entity::Customer, "renamed");
        changed[3] = rec("3", Entity::Customer, "renamed");
        changed.push(rec("9", Entity::Customer, "new"));
        let c = store
            .commit_batch(batch(run2, "customers", changed, None))
            .await
            .unwrap();
        assert_eq!((c.staged, c.unchanged), (3, 3), "{backend}");
        let rows = store.staged(Entity::Customer).await.unwrap();
        assert_eq!(rows.len(), 6);
        let one = rows.iter().find(|r| r.key == "1").unwrap();
        assert_eq!(one.canonical["name"], "renamed");
        assert_eq!(one.run, run2);
        assert_eq!(rows.iter().filter(|r| r.run == run2).count(), 3);
    })
    .await;
}

#[tokio::test]
async fn duplicate_keys_in_a_page_last_wins_counted_once() {
    each_backend_named(|backend, store| async move {
        let run = store.start_run("erp").await.unwrap();
        let page = vec![
            rec("K", Entity::Customer, "first"),
            rec("L", Entity::Customer, "other"),
            rec("K", Entity::Customer, "last"),
        ];
        let c = store
            .commit_batch(batch(run, "s", page, None))
            .await
            .unwrap();
        assert_eq!((c.staged, c.unchanged), (2, 0), "{backend}");
        let rows = store.staged(Entity::Customer).await.unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].key, "K");
        assert_eq!(rows[0].canonical["name"], "last");
    })
    .await;
}

#[tokio::test]
async fn the_cursor_moves_with_its_batch_and_reset_forgets_only_its_stream() {
    each_backend_named(|backend, store| async move {
        let run = store.start_run("erp").await.unwrap();
        assert_eq!(store.cursor("erp", "a").await.unwrap(), None);
        let cur = json!({ "modified_since": "2026-11-01T08:12:00+08:00", "id": 12 });
        store
            .commit_batch(batch(
                run,
                "a",
                vec![rec("1", Entity::Customer, "x")],
                Some(cur.clone()),
            ))
            .await
            .unwrap();
        store
            .commit_batch(batch(run, "b", vec![], Some(json!(7))))
            .await
            .unwrap();
        assert_eq!(
            store.cursor("erp", "a").await.unwrap(),
            Some(cur.clone()),
            "{backend}"
        );
        // A page without a cursor leaves it where it is.
        store
            .commit_batch(batch(run, "a", vec![rec("2", Entity::Customer, "y")], None))
            .await
            .unwrap();
        assert_eq!(store.cursor("erp", "a").await.unwrap(), Some(cur));
        store
            .commit_batch(batch(run, "a", vec![], Some(json!("next"))))
            .await
            .unwrap();
        assert_eq!(store.cursor("erp", "a").await.unwrap(), Some(json!("next")));

        store.reset_cursor("erp", "a").await.unwrap();
        assert_eq!(store.cursor("erp", "a").await.unwrap(), None, "{backend}");
        assert_eq!(store.cursor("erp", "b").await.unwrap(), Some(json!(7)));
        assert_eq!(store.cursor("other", "a").await.unwrap(), None);
        assert_eq!(
            store.staged(Entity::Customer).await.unwrap().len(),
            2,
            "staged records stay"
        );
        // Resetting a stream without a cursor is fine.
        store.reset_cursor("erp", "zzz").await.unwrap();
    })
    .await;
}

#[tokio::test]
async fn a_batch_failing_midway_leaves_neither_records_nor_quarantine_nor_cursor() {
    each_backend_named(|backend, store| async move {
        let run = store.start_run("erp").await.unwrap();
        store
            .commit_batch(batch(
                run,
                "a",
                vec![rec("1", Entity::Customer, "x")],
                Some(json!(1)),
            ))
            .await
            .unwrap();
        // The cursor upsert, the last statement of the transaction, will fail.
        exec(&store, "ALTER TABLE cursors RENAME TO cursors_away").await;
        let mut b = batch(
            run,
            "a",
            vec![
                rec("1", Entity::Customer, "changed"),
                rec("2", Entity::Customer, "new"),
            ],
            Some(json!(2)),
        );
        b.quarantined = vec![bad("3", "broken")];
        let err = store.commit_batch(b).await;
        assert!(matches!(err, Err(StoreError::Db(_))), "{backend}: {err:?}");
        exec(&store, "ALTER TABLE cursors_away RENAME TO cursors").await;

        let rows = store.staged(Entity::Customer).await.unwrap();
        assert_eq!(rows.len(), 1, "{backend}: {rows:?}");
        assert_eq!(rows[0].canonical["name"], "x");
        assert!(
            store.quarantine(None, 10).await.unwrap().is_empty(),
            "{backend}"
        );
        assert_eq!(store.cursor("erp", "a").await.unwrap(), Some(json!(1)));

        // A batch naming an unknown run is refused as a whole as well.
        let err = store
            .commit_batch(batch(
                run + 1000,
                "a",
                vec![rec("5", Entity::Customer, "z")],
                Some(json!(5)),
            ))
            .await;
        assert!(err.is_err(), "{backend}");
        assert_eq!(store.staged(Entity::Customer).await.unwrap().len(), 1);
        assert_eq!(store.cursor("erp", "a").await.unwrap(), Some(json!(1)));
    })
    .await;
}

#[tokio::test]
async fn quarantine_rows_come_back_newest_first_per_connector() {
    each_backend_named(|backend, store| async move {
        let run = store.start_run("erp").await.unwrap();
        let mut b = batch(
            run,
            "customers",
            vec![rec("1", Entity::Customer, "ok")],
            None,
        );
        b.quarantined = vec![
            bad("C4", "name: required"),
            bad("C5", "credit_limit: `12.5O`"),
        ];
        let c = store.commit_batch(b).await.unwrap();
        assert_eq!((c.staged, c.quarantined), (1, 2), "{backend}");
        let other = store.start_run("crm").await.unwrap();
        let mut b = batch(other, "x", vec![], None);
        b.connector = "crm";
        b.quarantined = vec![Quarantined {
            key: "line 4".into(),
            locator: "dealers.csv:4".into(),
            payload: Value::String("a,b,\"c".into()),
            reason: "unterminated quote".into(),
        }];
        store.commit_batch(b).await.unwrap();

        let erp = store.quarantine(Some("erp"), 10).await.unwrap();
        assert_eq!(erp.len(), 2, "{backend}");
        assert_eq!(erp[0].key, "C5", "newest first");
        assert_eq!(erp[0].reason, "credit_limit: `12.5O`");
        assert_eq!(erp[0].payload, json!({ "no": "C5" }));
        assert_eq!(erp[0].run, run);
        assert_eq!(erp[0].stream, "customers");
        assert_eq!(erp[0].locator, "customers.csv:C5");
        let all = store.quarantine(None, 10).await.unwrap();
        assert_eq!(all.len(), 3);
        assert_eq!(all[0].payload, json!("a,b,\"c"));
        assert_eq!(store.quarantine(None, 1).await.unwrap().len(), 1);
        // Quarantining the same record again records it again (each run's finding is kept).
        assert!((Utc::now() - all[0].created_at).num_seconds().abs() < 60);
    })
    .await;
}

#[tokio::test]
async fn runs_and_last_successful_sync() {
    each_backend_named(|backend, store| async move {
        assert!(store.last_successful_sync().await.unwrap().is_empty());
        let before = micros(Utc::now());
        let r1 = store.start_run("erp").await.unwrap();
        let counts = Counts {
            fetched: 10,
            staged: 7,
            unchanged: 2,
            quarantined: 1,
        };
        store
            .finish_run(r1, RunStatus::Partial, counts, None)
            .await
            .unwrap();
        let r2 = store.start_run("erp").await.unwrap();
        store
            .finish_run(
                r2,
                RunStatus::Failed,
                Counts::default(),
                Some("customers: HTTP 500"),
            )
            .await
            .unwrap();
        let r3 = store.start_run("crm").await.unwrap();
        let _running = store.start_run("dealers").await.unwrap();

        let runs = store.runs(Some("erp"), 10).await.unwrap();
        assert_eq!(
            runs.iter().map(|r| r.id).collect::<Vec<_>>(),
            [r2, r1],
            "{backend}"
        );
        assert_eq!(runs[0].status, RunStatus::Failed);
        assert_eq!(runs[0].error.as_deref(), Some("customers: HTTP 500"));
        assert_eq!(runs[1].counts, counts);
        assert_eq!(runs[1].error, None);
        assert!(runs[1].started_at >= before);
        assert!(runs[1].finished_at.unwrap() >= runs[1].started_at);
        let all = store.runs(None, 2).await.unwrap();
        assert_eq!(all.len(), 2);
        assert_eq!(all[0].status, RunStatus::Running);
        assert_eq!(all[0].finished_at, None);
        assert_eq!(all[1].id, r3);

        let last = store.last_successful_sync().await.unwrap();
        assert_eq!(last.len(), 1, "{backend}: {last:?}");
        assert_eq!(last["erp"], runs[1].finished_at.unwrap());

        store
            .finish_run(r3, RunStatus::Success, Counts::default(), None)
            .await
            .unwrap();
        let last = store.last_successful_sync().await.unwrap();
        assert_eq!(last.len(), 2);
        assert!(last["crm"] >= last["erp"]);
    })
    .await;
}

fn master(id: &str, name: &str, t: DateTime<Utc>) -> MasterRow {
    MasterRow {
        master_id: id.into(),
        golden: json!({ "name": name, "tax_id": "91350100M000100Y43", "credit_limit": "500000.00" }),
        lineage: json!({ "name": { "source": "erp", "key": "C1", "run": 1 } }),
        created_at: t,
        updated_at: t,
    }
}

fn xref(source: &str, key: &str, master_id: &str, rule: &str) -> XrefRow {
    XrefRow {
        source: source.into(),
        key: key.into(),
        master_id: master_id.into(),
        rule: rule.into(),
    }
}

#[tokio::test]
async fn master_round_trip_and_an_alias_retires_its_master_row() {
    each_backend_named(|backend, store| async move {
        assert_eq!(store.load_master().await.unwrap(), MasterState::default());
        let t0 = Utc::now() - Duration::days(3);
        let first = MasterState {
            masters: vec![master("M-1", "Feiyue", t0), master("M-2", "飞跃科技", t0)],
            xrefs: vec![
                xref("erp", "C1", "M-1", "singleton"),
                xref("dealers", "D9", "M-2", "singleton"),
                xref("erp", "C2", "M-2", "singleton"),
            ],
            aliases: vec![],
        };
        store.save_master(&first).await.unwrap();
        let loaded = store.load_master().await.unwrap();
        assert_eq!(loaded.masters.len(), 2, "{backend}");
        assert_eq!(
            loaded.masters[0].created_at,
            micros(t0),
            "{backend}: microseconds kept"
        );
        let mut want = first.clone();
        for m in &mut want.masters {
            m.created_at = micros(m.created_at);
            m.updated_at = micros(m.updated_at);
        }
        want.xrefs
            .sort_by(|a, b| (&a.source, &a.key).cmp(&(&b.source, &b.key)));
        assert_eq!(loaded, want, "{backend}");
        // Saving the same state again is a no-op.
        store.save_master(&loaded).await.unwrap();
        assert_eq!(store.load_master().await.unwrap(), want);

        // M-2 merges into M-1; C2 moves out to its own master M-3.
        let t1 = Utc::now();
        let second = MasterState {
            masters: vec![
                master("M-1", "Feiyue Technology", t1),
                master("M-3", "Acme", t1),
            ],
            xrefs: vec![
                xref("erp", "C1", "M-1", "singleton"),
                xref("dealers", "D9", "M-1", "tax_id"),
                xref("erp", "C2", "M-3", "singleton"),
            ],
            aliases: vec![("M-2".into(), "M-1".into())],
        };
        store.save_master(&second).await.unwrap();
        let loaded = store.load_master().await.unwrap();
        let ids: Vec<&str> = loaded
            .masters
            .iter()
            .map(|m| m.master_id.as_str())
            .collect();
        assert_eq!(
            ids,
            ["M-1", "M-3"],
            "{backend}: the alias has no masters row"
        );
        assert_eq!(loaded.masters[0].golden["name"], "Feiyue Technology");
        assert_eq!(loaded.aliases, [("M-2".to_string(), "M-1".to_string())]);
        assert_eq!(loaded.xrefs.len(), 3);
        let d9 = loaded.xrefs.iter().find(|x| x.key == "D9").unwrap();
        assert_eq!((d9.master_id.as_str(), d9.rule.as_str()), ("M-1", "tax_id"));
        assert!(
            store
                .master("M-2")
                .await
                .unwrap()
                .is_some_and(|m| m.master_id == "M-1")
        );

        // The whole state: what is absent goes.
        let third = MasterState {
            masters: vec![master("M-1", "Feiyue Technology", t1)],
            xrefs: vec![xref("erp", "C1", "M-1", "singleton")],
            aliases: vec![],
        };
        store.save_master(&third).await.unwrap();
        let loaded = store.load_master().await.unwrap();
        assert_eq!(loaded.masters.len(), 1, "{backend}");
        assert_eq!(loaded.xrefs.len(), 1);
        assert!(loaded.aliases.is_empty());
    })
    .await;
}

#[tokio::test]
async fn a_state_with_an_xref_to_a_missing_master_is_refused_whole() {
    each_backend_named(|backend, store| async move {
        let t = Utc::now();
        let good = MasterState {
            masters: vec![master("M-1", "A", t)],
            xrefs: vec![xref("erp", "C1", "M-1", "singleton")],
            aliases: vec![],
        };
        store.save_master(&good).await.unwrap();
        let broken = MasterState {
            masters: vec![master("M-1", "changed", t), master("M-9", "B", t)],
            xrefs: vec![
                xref("erp", "C1", "M-1", "singleton"),
                xref("erp", "C2", "M-404", "singleton"),
            ],
            aliases: vec![],
        };
        assert!(store.save_master(&broken).await.is_err(), "{backend}");
        let loaded = store.load_master().await.unwrap();
        assert_eq!(loaded.masters.len(), 1, "{backend}: nothing written");
        assert_eq!(loaded.masters[0].golden["name"], "A");
    })
    .await;
}

#[tokio::test]
async fn json_timestamps_and_unicode_keys_round_trip() {
    each_backend_named(|backend, store| async move {
        let run = store.start_run("ерп-系统").await.unwrap();
        let canonical = json!({
            "name": "飞跃科技(深圳)有限公司 — Ünïcødé 🚀",
            "credit_limit": "500000.00",
            "nested": { "list": [1, 2.5, null, true, "x"], "empty": {} },
            "quote": "it's \"quoted\" \\ back",
        });
        let key = "客户/0001 'é' \"q\"";
        let r = StagedRecord {
            key: key.into(),
            entity: Entity::Invoice,
            customer_key: Some("客户-1".into()),
            payload: json!(["raw", { "a": 1 }]),
            canonical: canonical.clone(),
            hash: "abc".into(),
        };
        let before = micros(Utc::now());
        let mut b = batch(
            run,
            "流",
            vec![r],
            Some(json!({ "since": "2026-11-01T00:00:00Z" })),
        );
        b.connector = "ерп-系统";
        store.commit_batch(b).await.unwrap();
        let after = Utc::now();

        let rows = store.staged(Entity::Invoice).await.unwrap();
        assert_eq!(rows.len(), 1, "{backend}");
        let row = &rows[0];
        assert_eq!(row.connector, "ерп-系统");
        assert_eq!(row.stream, "流");
        assert_eq!(row.key, key);
        assert_eq!(row.customer_key.as_deref(), Some("客户-1"));
        assert_eq!(row.canonical, canonical, "{backend}");
        assert!(
            row.updated_at >= before && row.updated_at <= after,
            "{backend}"
        );
        assert!(store.staged(Entity::Customer).await.unwrap().is_empty());
        assert_eq!(
            store.cursor("ерп-系统", "流").await.unwrap(),
            Some(json!({ "since": "2026-11-01T00:00:00Z" }))
        );

        // Far past and future instants survive too.
        let t = "1970-01-01T00:00:00.000001Z"
            .parse::<DateTime<Utc>>()
            .unwrap();
        let u = "2999-12-31T23:59:59.999999Z"
            .parse::<DateTime<Utc>>()
            .unwrap();
        let mut m = master("Ω-1", "x", t);
        m.updated_at = u;
        let state = MasterState {
            masters: vec![m.clone()],
            xrefs: vec![xref("ерп-系统", key, "Ω-1", "singleton")],
            aliases: vec![],
        };
        store.save_master(&state).await.unwrap();
        assert_eq!(store.load_master().await.unwrap(), state, "{backend}");
    })
    .await;
}

#[tokio::test]
async fn staged_rows_are_ordered_by_connector_stream_key_and_filtered_by_entity() {
    each_backend_named(|backend, store| async move {
        let run = store.start_run("b").await.unwrap();
        for (connector, stream) in [("b", "s2"), ("a", "s1"), ("b", "s1")] {
            let mut b = batch(
                run,
                stream,
                vec![
                    rec("k2", Entity::Payment, "p"),
                    rec("k1", Entity::Payment, "p"),
                    rec("o1", Entity::SalesOrder, "o"),
                ],
                None,
            );
            b.connector = connector;
            store.commit_batch(b).await.unwrap();
        }
        let rows = store.staged(Entity::Payment).await.unwrap();
        let order: Vec<String> = rows
            .iter()
            .map(|r| format!("{}/{}/{}", r.connector, r.stream, r.key))
            .collect();
        assert_eq!(
            order,
            [
                "a/s1/k1", "a/s1/k2", "b/s1/k1", "b/s1/k2", "b/s2/k1", "b/s2/k2"
            ],
            "{backend}"
        );
        assert_eq!(store.staged(Entity::SalesOrder).await.unwrap().len(), 3);
    })
    .await;
}

#[tokio::test]
async fn large_pages_are_split_under_the_parameter_limits() {
    each_backend_named(|backend, store| async move {
        let run = store.start_run("erp").await.unwrap();
        let page: Vec<_> = (0..2_500)
            .map(|i| rec(&format!("{i:05}"), Entity::Customer, "n"))
            .collect();
        let mut b = batch(run, "s", page.clone(), Some(json!(1)));
        b.quarantined = (0..1_200).map(|i| bad(&i.to_string(), "r")).collect();
        let c = store.commit_batch(b).await.unwrap();
        assert_eq!(
            (c.staged, c.unchanged, c.quarantined),
            (2_500, 0, 1_200),
            "{backend}"
        );
        let c = store
            .commit_batch(batch(run, "s", page, None))
            .await
            .unwrap();
        assert_eq!((c.staged, c.unchanged), (0, 2_500), "{backend}");
        assert_eq!(store.staged(Entity::Customer).await.unwrap().len(), 2_500);
    })
    .await;
}

#[tokio::test]
async fn concurrent_batches_on_one_store_all_land() {
    each_backend_named(|backend, store| async move {
        let run = store.start_run("erp").await.unwrap();
        let mut tasks = Vec::new();
        for s in 0..4 {
            let store = store.clone();
            tasks.push(tokio::spawn(async move {
                let stream = format!("s{s}");
                for p in 0..5 {
                    let page: Vec<_> = (0..20)
                        .map(|i| rec(&format!("{p}-{i}"), Entity::Customer, "n"))
                        .collect();
                    store
                        .commit_batch(batch(run, &stream, page, Some(json!(p))))
                        .await
                        .unwrap();
                }
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
        assert_eq!(
            store.staged(Entity::Customer).await.unwrap().len(),
            400,
            "{backend}"
        );
        for s in 0..4 {
            assert_eq!(
                store.cursor("erp", &format!("s{s}")).await.unwrap(),
                Some(json!(4))
            );
        }
    })
    .await;
}

#[tokio::test]
async fn corrupt_stored_values_are_reported_not_unwrapped() {
    each_backend_named(|backend, store| async move {
        let run = store.start_run("erp").await.unwrap();
        exec(&store, "UPDATE runs SET fetched = -1").await;
        let err = store.runs(None, 10).await;
        assert!(
            matches!(err, Err(StoreError::Corrupt { table: "runs", .. })),
            "{backend}: {err:?}"
        );
        let _ = run;
    })
    .await;
}

#[tokio::test]
async fn a_nul_character_cannot_block_a_stream() {
    each_backend_named(|backend, store| async move {
        let run = store.start_run("erp").await.unwrap();
        let mut r = rec("K\u{0}1", Entity::Customer, "x");
        r.canonical = json!({ "name": "bad\u{0}name" });
        let mut b = batch(run, "s", vec![r], Some(json!({ "at": "\u{0}" })));
        b.quarantined = vec![Quarantined {
            key: "line 3".into(),
            locator: "f.csv:3".into(),
            payload: Value::String("a\u{0}b".into()),
            reason: "binary \u{0} junk".into(),
        }];
        let c = store.commit_batch(b).await.unwrap();
        assert_eq!((c.staged, c.quarantined), (1, 1), "{backend}");
        let rows = store.staged(Entity::Customer).await.unwrap();
        assert_eq!(rows[0].key, "K\u{FFFD}1", "{backend}");
        assert_eq!(rows[0].canonical["name"], "bad\u{FFFD}name");
        let q = store.quarantine(None, 1).await.unwrap();
        assert_eq!(q[0].payload, json!("a\u{FFFD}b"));
        assert_eq!(q[0].reason, "binary \u{FFFD} junk");
        assert_eq!(
            store.cursor("erp", "s").await.unwrap(),
            Some(json!({ "at": "\u{FFFD}" }))
        );
    })
    .await;
}

/// An insight with every optional value set (`full`) or none.
fn insight(id: &str, full: bool) -> crate::insight::CustomerInsight {
    use crate::insight::*;
    use rust_decimal_macros::dec;
    let day = |d: &str| d.parse::<chrono::NaiveDate>().unwrap();
    CustomerInsight {
        master_id: id.into(),
        as_of: day("2026-11-22"),
        computed_at: micros(Utc::now()),
        currency: "CNY".parse().unwrap(),
        value: ValueRank {
            tier: if full { Tier::A } else { Tier::C },
            rank: if full { 1 } else { 2 },
            customers: 2,
            revenue: if full { dec!(1234567.80) } else { dec!(0) },
            revenue_share_pct: if full { dec!(100.00) } else { dec!(0) },
            cumulative_share_pct: dec!(100.00),
            top_20_pct: false,
        },
        lifecycle: Lifecycle {
            stage: if full { Stage::Loyal } else { Stage::Prospect },
            orders: if full { 4 } else { 0 },
            order_days: if full { 3 } else { 0 },
            first_order: full.then(|| day("2026-09-01")),
            last_order: full.then(|| day("2026-11-20")),
            days_since_last_order: full.then_some(2),
            median_gap_days: full.then_some(dec!(40.5)),
            active_periods: if full { 3 } else { 0 },
            churn: Churn {
                status: if full {
                    ChurnStatus::Ok
                } else {
                    ChurnStatus::NoHistory
                },
                threshold_days: full.then_some(dec!(81.0)),
                reason: "why".into(),
            },
        },
        dealer: full,
        channel: if full {
            vec![crate::channel::DealerInventory {
                source: "dealer-portal".into(),
                dealer_key: "D1".into(),
                skus: 2,
                on_hand: dec!(42),
                in_transit: dec!(10),
                stock_as_of: Some(
                    DateTime::parse_from_rfc3339("2026-11-21T22:00:00+08:00").unwrap(),
                ),
                window_days: 28,
                sell_through: dec!(14),
                weekly_sell_through: dec!(3.50),
                weeks_of_cover: Some(dec!(12.00)),
            }]
        } else {
            vec![]
        },
    }
}

#[tokio::test]
async fn insights_round_trip_exactly_and_are_replaced_whole() {
    each_backend_named(|backend, store| async move {
        assert!(store.insights().await.unwrap().is_empty(), "{backend}");
        let first = vec![insight("M-A", true), insight("M-B", false)];
        store.replace_insights(&first).await.unwrap();
        assert_eq!(store.insights().await.unwrap(), first, "{backend}");
        let one = store.insight("M-A").await.unwrap().unwrap();
        assert_eq!(
            one.value.revenue.to_string(),
            "1234567.80",
            "{backend}: scale kept"
        );
        assert_eq!(one, first[0]);

        let second = vec![insight("M-C", false)];
        store.replace_insights(&second).await.unwrap();
        assert_eq!(store.insights().await.unwrap(), second, "{backend}");
        assert_eq!(store.insight("M-A").await.unwrap(), None, "{backend}");
        store.replace_insights(&[]).await.unwrap();
        assert!(store.insights().await.unwrap().is_empty(), "{backend}");
    })
    .await;
}

#[tokio::test]
async fn groups_are_replaced_whole_and_read_back() {
    use crate::reconcile::groups::{GroupEdge, GroupIssue, Groups, IssueKind};
    let edge = |child: &str, parent: &str| GroupEdge {
        master_id: child.into(),
        parent_id: parent.into(),
        source: "erp".into(),
        key: format!("K-{child}"),
        parent_key: format!("K-{parent}"),
    };
    each_backend_named(|backend, store| async move {
        assert_eq!(
            store.groups().await.unwrap(),
            Groups::default(),
            "{backend}"
        );
        let first = Groups {
            edges: vec![edge("M-B", "M-A"), edge("M-C", "M-A")],
            issues: vec![GroupIssue {
                kind: IssueKind::SelfReference,
                master_id: "M-D".into(),
                source: "dealer-portal".into(),
                key: "D1".into(),
                parent_key: "D1".into(),
                parent_id: Some("M-D".into()),
                detail: "names itself".into(),
            }],
        };
        store.replace_groups(&first).await.unwrap();
        assert_eq!(store.groups().await.unwrap(), first, "{backend}");
        let second = Groups {
            edges: vec![edge("M-A", "M-Z")],
            issues: vec![GroupIssue {
                kind: IssueKind::Dangling,
                master_id: "M-A".into(),
                source: "erp".into(),
                key: "K-A".into(),
                parent_key: "NOPE".into(),
                parent_id: None,
                detail: "not staged".into(),
            }],
        };
        store.replace_groups(&second).await.unwrap();
        assert_eq!(store.groups().await.unwrap(), second, "{backend}");
    })
    .await;
}
