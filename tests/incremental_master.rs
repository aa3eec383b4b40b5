//! The master kept incrementally equals a full re-cluster, through the store, on each backend:
//! a first rebuild trains the model; then rounds of staged edits, new and copied records and a
//! steward's decision are matched incrementally (only what they reach is clustered again), and
//! after each round `master recluster`'s path — every record clustered with the kept model —
//! changes nothing: the same masters (golden records, lineage, timestamps), xrefs with their
//! rules, aliases and open review tasks.

mod common;

use std::collections::BTreeSet;

use tributary::bench::rebuild::stage_customers;
use tributary::bench::synth;
use tributary::config::Project;
use tributary::master::{Matched, Rebuild, reconcile_master, reconcile_master_with};
use tributary::model::Customer;
use tributary::model::MasterState;
use tributary::store::Store;
use tributary::store::steward::ReviewStatus;

async fn stage(store: &Store, customers: &[(String, Customer)]) {
    stage_customers(store, customers).await.unwrap();
}

type Open = BTreeSet<((String, String), (String, String), String)>;

async fn snapshot(store: &Store) -> (MasterState, Open) {
    let open = store
        .reviews(Some(ReviewStatus::Open))
        .await
        .unwrap()
        .into_iter()
        .map(|r| (r.left, r.right, r.reason))
        .collect();
    (store.load_master().await.unwrap(), open)
}

/// Full re-cluster with the kept model; asserts it changes nothing and says so.
async fn assert_recluster_agrees(project: &Project, store: &Store, what: &str) {
    let before = snapshot(store).await;
    let full = reconcile_master_with(project, store, Rebuild::Recluster)
        .await
        .unwrap();
    assert_eq!(full.matched, Matched::Reclustered, "{what}");
    let after = snapshot(store).await;
    assert_eq!(after.0.masters, before.0.masters, "{what}: masters");
    assert_eq!(after.0.xrefs, before.0.xrefs, "{what}: xrefs");
    assert_eq!(after.0.aliases, before.0.aliases, "{what}: aliases");
    assert_eq!(after.1, before.1, "{what}: open reviews");
    assert_eq!((full.merged, full.new_reviews), (0, 0), "{what}");
}

#[tokio::test]
async fn incremental_rebuilds_equal_a_full_recluster_through_the_store() {
    common::on_each_backend(|backend, store| async move {
        // A smaller random sample for u than the default keeps training quick in debug builds.
        let settings = format!(
            "{}\n[reconcile.matching]\nu_sample_pairs = 20000\n",
            common::SETTINGS
        );
        let dir = common::project_dir(&[("config/tributary.toml", &settings)]);
        let project = &common::load(dir.path(), &[]);
        let mut data: Vec<(String, Customer)> = synth::generate(800, 21, 0)
            .into_iter()
            .map(|r| (r.source.to_string(), r.customer))
            .collect();
        stage(&store, &data).await;
        let first = reconcile_master(project, &store).await.unwrap();
        assert_eq!(first.matched, Matched::Trained, "{backend}");
        assert!(first.masters < data.len(), "{backend}: records link");
        assert_recluster_agrees(project, &store, &format!("{backend} round 0")).await;

        let mut rng = fastrand::Rng::with_seed(3);
        for round in 1..=2 {
            // Edits: a record takes another's data, or its phone, or a misspelt name;
            // new customers; second copies of existing ones from a web shop.
            let mut changed: Vec<(String, Customer)> = Vec::new();
            for _ in 0..25 {
                let (i, j) = (rng.usize(..data.len()), rng.usize(..data.len()));
                let other = data[j].1.clone();
                let (source, c) = &mut data[i];
                match rng.u8(..3) {
                    0 => {
                        *c = Customer {
                            source_key: c.source_key.clone(),
                            ..other
                        }
                    }
                    1 => c.phone = other.phone,
                    _ => c.name = format!("{} 2", c.name),
                }
                changed.push((source.clone(), c.clone()));
            }
            for (k, r) in synth::generate(10, 100 + round, 10_000 * round as u32)
                .into_iter()
                .enumerate()
            {
                let c = Customer {
                    source_key: format!("n{round}-{k}"),
                    ..r.customer
                };
                changed.push((r.source.to_string(), c.clone()));
                data.push((r.source.to_string(), c));
            }
            for k in 0..10 {
                let mut c = data[rng.usize(..data.len())].1.clone();
                c.source_key = format!("w{round}-{k}");
                changed.push(("webshop".into(), c.clone()));
                data.push(("webshop".into(), c));
            }
            stage(&store, &changed).await;
            let what = format!("{backend} round {round}");
            let summary = reconcile_master(project, &store).await.unwrap();
            assert_eq!(summary.matched, Matched::Incremental, "{what}");
            assert!(summary.changed > 20, "{what}: {summary:?}");
            assert!(
                summary.reclustered < data.len() / 4,
                "{what}: {} of {} clustered again",
                summary.reclustered,
                data.len()
            );

            // A steward's decision is a change too: approve the first open review, which
            // rebuilds incrementally again (two incremental rebuilds in a row).
            let open = store.reviews(Some(ReviewStatus::Open)).await.unwrap();
            assert!(
                !open.is_empty(),
                "{what}: the generated data leaves reviews"
            );
            {
                let review = &open[0];
                let actor = tributary::master::steward::Actor {
                    name: "li.na".into(),
                    reason: "same customer, checked by phone".into(),
                };
                let done = tributary::master::steward::decide_review(
                    project, &store, review.id, true, &actor,
                )
                .await
                .unwrap();
                assert_eq!(done.master.matched, Matched::Incremental, "{what}");
                let state = store.load_master().await.unwrap();
                let master = |k: &(String, String)| {
                    state
                        .xrefs
                        .iter()
                        .find(|x| x.source == k.0 && x.key == k.1)
                        .map(|x| x.master_id.clone())
                };
                assert_eq!(master(&review.left), master(&review.right), "{what}");
                assert_recluster_agrees(project, &store, &format!("{what}, approved")).await;
            }
        }

        // Nothing staged since: nothing changes and nothing is clustered again.
        let idle = reconcile_master(project, &store).await.unwrap();
        assert_eq!((idle.changed, idle.reclustered), (0, 0), "{backend}");
        // A rebuild that stopped after marking the model stale (before its basis and model
        // were written) is followed by a full re-cluster, then incremental ones again.
        store.mark_match_model_stale().await.unwrap();
        let after_stop = reconcile_master(project, &store).await.unwrap();
        assert_eq!(after_stop.matched, Matched::Reclustered, "{backend}");
        let next = reconcile_master(project, &store).await.unwrap();
        assert_eq!(next.matched, Matched::Incremental, "{backend}");
        // Retraining is asked for by name.
        let retrained = reconcile_master_with(project, &store, Rebuild::Retrain)
            .await
            .unwrap();
        assert_eq!(retrained.matched, Matched::Trained, "{backend}");
    })
    .await;
}

/// When the kept model is used, re-clustered with or trained again: a threshold change
/// re-clusters with the kept model; a blocking change or the data doubling trains again.
#[tokio::test]
async fn the_kept_model_is_retrained_or_reapplied_as_the_settings_and_data_change() {
    common::on_each_backend(|backend, store| async move {
        let settings = |extra: &str| {
            format!(
                "{}\n[reconcile.matching]\nu_sample_pairs = 20000\n{extra}",
                common::SETTINGS
            )
        };
        let dir = common::project_dir(&[("config/tributary.toml", &settings(""))]);
        let load = |extra: &str| {
            std::fs::write(dir.path().join("config/tributary.toml"), settings(extra)).unwrap();
            common::load(dir.path(), &[])
        };
        let mut data: Vec<(String, Customer)> = synth::generate(300, 8, 0)
            .into_iter()
            .map(|r| (r.source.to_string(), r.customer))
            .collect();
        stage(&store, &data).await;
        let rebuild = |project: Project| {
            let store = store.clone();
            async move { reconcile_master(&project, &store).await.unwrap().matched }
        };
        assert_eq!(rebuild(load("")).await, Matched::Trained, "{backend}");
        assert_eq!(rebuild(load("")).await, Matched::Incremental, "{backend}");
        let stricter = "link_threshold = 0.97\n";
        assert_eq!(
            rebuild(load(stricter)).await,
            Matched::Reclustered,
            "{backend}"
        );
        assert_eq!(
            rebuild(load(stricter)).await,
            Matched::Incremental,
            "{backend}"
        );
        let blocks = "link_threshold = 0.97\nmax_block_size = 30\n";
        assert_eq!(rebuild(load(blocks)).await, Matched::Trained, "{backend}");
        // 300 → 610 records: more than doubled since training.
        let more: Vec<(String, Customer)> = synth::generate(310, 9, 5_000)
            .into_iter()
            .map(|r| {
                let c = Customer {
                    source_key: format!("x-{}", r.customer.source_key),
                    ..r.customer
                };
                (r.source.to_string(), c)
            })
            .collect();
        stage(&store, &more).await;
        data.extend(more);
        assert_eq!(rebuild(load(blocks)).await, Matched::Trained, "{backend}");
        // Not retrained automatically when retrain_growth = 0.
        let never = "link_threshold = 0.97\nmax_block_size = 30\nretrain_growth = 0\n";
        let extra: Vec<(String, Customer)> = data
            .iter()
            .map(|(s, c)| {
                let c = Customer {
                    source_key: format!("y-{}", c.source_key),
                    ..c.clone()
                };
                (s.clone(), c)
            })
            .collect();
        stage(&store, &extra).await;
        assert_eq!(
            rebuild(load(never)).await,
            Matched::Incremental,
            "{backend}"
        );
    })
    .await;
}
