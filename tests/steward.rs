//! The data steward's actions on the shipped samples, on each store backend: a review answered,
//! two masters merged (the older ID survives, the other resolves as an alias), records split
//! out, everything audited in the history, surviving a resync, and undone.

mod common;

use tributary::config::Project;
use tributary::master::steward::{self, Actor};
use tributary::store::Store;
use tributary::store::steward::ReviewStatus;

async fn sync_all(project: &Project, store: &Store) -> tributary::master::MasterSummary {
    for name in ["dealer-portal", "erp"] {
        common::run_connector(project, store, name).await;
    }
    tributary::master::reconcile_master(project, store)
        .await
        .unwrap()
}

fn actor(reason: &str) -> Actor {
    Actor {
        name: "li.na".into(),
        reason: reason.into(),
    }
}

/// The master ID of a source record.
async fn master_of(store: &Store, source: &str, key: &str) -> String {
    let state = store.load_master().await.unwrap();
    state
        .xrefs
        .iter()
        .find(|x| x.source == source && x.key == key)
        .map(|x| x.master_id.clone())
        .unwrap_or_else(|| panic!("no xref for {source}:{key}"))
}

#[tokio::test]
async fn steward_actions_are_audited_survive_resyncs_and_undo() {
    common::on_each_backend(|backend, store| {
        async move {
            // A project per backend: the test edits its sample data.
            let dir = common::shipped_project();
            // A dealer at D1002's address, with its contact and phone but another name: the
            // matcher will not link names that disagree outright; a steward must look.
            let dealers = dir.path().join("samples/dealer/dealers.csv");
            let text = std::fs::read_to_string(&dealers).unwrap();
            let d1002 = text.lines().find(|l| l.starts_with("D1002,")).unwrap();
            let mut cells: Vec<&str> = d1002.split(',').collect();
            cells[0] = "D9999";
            cells[1] = "浦东新区永兴五金经营部";
            cells[4] = "";
            cells[15] = "";
            std::fs::write(&dealers, format!("{text}{}\n", cells.join(","))).unwrap();
            let project = &common::load(dir.path(), &[]);
            let first = sync_all(project, &store).await;
            assert_eq!(first.masters, 56, "{backend}");

            // The review queue: the two dealers whose names differ.
            let open = store.reviews(Some(ReviewStatus::Open)).await.unwrap();
            assert!(!open.is_empty(), "{backend}: no review");
            let review = open[0].clone();
            assert_eq!(review.reason, "names_differ", "{backend}: {open:?}");
            assert!(
                [&review.left, &review.right].iter().any(|r| r.1 == "D9999"),
                "{backend}: {review:?}"
            );
            assert!(
                review.explanation["steps"]
                    .as_array()
                    .is_some_and(|s| !s.is_empty())
            );
            let (left, right) = (review.left.clone(), review.right.clone());
            let apart = master_of(&store, &left.0, &left.1).await
                != master_of(&store, &right.0, &right.1).await;
            assert!(apart, "{backend}: a reviewed pair is not linked");

            // Rejected: stays apart, the review is closed and no longer proposed.
            let err = steward::decide_review(project, &store, review.id, false, &actor(""))
                .await
                .unwrap_err();
            assert!(err.to_string().contains("reason"), "{err}");
            let done = steward::decide_review(
                project,
                &store,
                review.id,
                false,
                &actor("different dealers, one street apart"),
            )
            .await
            .unwrap();
            let r = store.review(review.id).await.unwrap().unwrap();
            assert_eq!(r.status, ReviewStatus::Rejected, "{backend}");
            assert_eq!(done.master.masters, 56);
            let again = steward::decide_review(project, &store, review.id, true, &actor("x")).await;
            assert!(
                again.is_err(),
                "{backend}: a decided review cannot be decided twice"
            );

            // Merge two masters: the older ID survives and the other still resolves.
            let taxed = |key: &'static str| master_of(&store, "erp", key);
            let refused = steward::merge(
                project,
                &store,
                &taxed("C10014").await,
                &taxed("C10020").await,
                &actor("x"),
            )
            .await
            .unwrap_err();
            assert!(
                refused.to_string().contains("different valid tax IDs"),
                "{refused}"
            );
            // Two ERP customers that are alone in their masters lose their tax IDs at the
            // source; after a resync their masters can merge.
            let state = store.load_master().await.unwrap();
            let singles: Vec<(String, String)> = state
                .xrefs
                .iter()
                .filter(|x| x.source == "erp")
                .filter(|x| {
                    state
                        .xrefs
                        .iter()
                        .filter(|y| y.master_id == x.master_id)
                        .count()
                        == 1
                })
                .map(|x| (x.source.clone(), x.key.clone()))
                .take(2)
                .collect();
            common::blank_erp_tax_ids(
                dir.path(),
                &singles.iter().map(|(_, k)| k.as_str()).collect::<Vec<_>>(),
            );
            sync_all(project, &store).await;
            let (ka, kb) = (singles[0].clone(), singles[1].clone());
            let (a, b) = (
                master_of(&store, &ka.0, &ka.1).await,
                master_of(&store, &kb.0, &kb.1).await,
            );
            let merged = steward::merge(project, &store, &a, &b, &actor("same group, one account"))
                .await
                .unwrap();
            assert_eq!(merged.master.masters, 55, "{backend}");
            let survivor = master_of(&store, &ka.0, &ka.1).await;
            assert_eq!(survivor, master_of(&store, &kb.0, &kb.1).await);
            let state = store.load_master().await.unwrap();
            let retired = if survivor == a { &b } else { &a };
            assert!(
                state
                    .aliases
                    .iter()
                    .any(|(from, to)| from == retired && *to == survivor),
                "{backend}: {retired} should resolve to {survivor}"
            );

            // A resync keeps the merge.
            let resync = sync_all(project, &store).await;
            assert_eq!(resync.masters, 55, "{backend}");
            assert_eq!(
                master_of(&store, &ka.0, &ka.1).await,
                master_of(&store, &kb.0, &kb.1).await
            );

            // History by either ID shows the merge with who and why.
            let history = steward::history(&store, retired).await.unwrap();
            let m = history
                .iter()
                .find(|d| d.what.action == "merge")
                .expect("merge in history");
            assert_eq!(m.what.actor, "li.na");
            assert_eq!(m.what.reason, "same group, one account");

            // Undo the merge: apart again, and the action stays in the history as undone.
            steward::undo(project, &store, merged.decision, &actor("wrong customer"))
                .await
                .unwrap();
            assert_ne!(
                master_of(&store, &ka.0, &ka.1).await,
                master_of(&store, &kb.0, &kb.1).await,
                "{backend}"
            );
            let history = steward::history(&store, &survivor).await.unwrap();
            let m = history.iter().find(|d| d.id == merged.decision).unwrap();
            assert_eq!(m.undo_reason.as_deref(), Some("wrong customer"));
            assert!(
                steward::undo(project, &store, merged.decision, &actor("twice"))
                    .await
                    .is_err()
            );

            // Split a record out of a master that holds several; it survives a resync.
            let state = store.load_master().await.unwrap();
            let mut counts = std::collections::BTreeMap::<&str, Vec<(String, String)>>::new();
            for x in &state.xrefs {
                counts
                    .entry(x.master_id.as_str())
                    .or_default()
                    .push((x.source.clone(), x.key.clone()));
            }
            let (id, members) = counts
                .iter()
                .find(|(_, m)| m.len() >= 2)
                .map(|(id, m)| (id.to_string(), m.clone()))
                .expect("a master with two records");
            let before = state.masters.len();
            let out = members[1].clone();
            let split = steward::split(
                project,
                &store,
                &id,
                std::slice::from_ref(&out),
                &actor("two shops"),
            )
            .await
            .unwrap();
            assert_eq!(split.master.masters, before + 1, "{backend}");
            assert_ne!(
                master_of(&store, &out.0, &out.1).await,
                master_of(&store, &members[0].0, &members[0].1).await
            );
            let resync = sync_all(project, &store).await;
            assert_eq!(
                resync.masters,
                before + 1,
                "{backend}: the split survives a resync"
            );
            steward::undo(
                project,
                &store,
                split.decision,
                &actor("one shop after all"),
            )
            .await
            .unwrap();
            assert_eq!(
                master_of(&store, &out.0, &out.1).await,
                master_of(&store, &members[0].0, &members[0].1).await,
                "{backend}"
            );
        }
    })
    .await;
}

/// One lock guards the master: while another process holds it, a rebuild and a steward's
/// action wait for it, give up after `[reconcile] lock_wait_secs` naming the setting, and go
/// through once it is free.
#[tokio::test]
async fn a_held_master_lock_makes_writers_wait_then_give_up() {
    common::on_each_backend(|backend, store| async move {
        let dir = common::shipped_project();
        let project = &common::load(dir.path(), &[("TRIBUTARY__RECONCILE__LOCK_WAIT_SECS", "1")]);
        assert_eq!(project.settings.reconcile.lock_wait_secs, 1);
        sync_all(project, &store).await;
        let a = master_of(&store, "erp", "C10001").await;
        let b = master_of(&store, "erp", "C10002").await;

        let held = store
            .try_lock_run(tributary::master::MASTER_LOCK)
            .await
            .unwrap()
            .expect("the lock is free");
        let started = std::time::Instant::now();
        let err = tributary::master::reconcile_master(project, &store)
            .await
            .unwrap_err();
        assert!(
            matches!(err, tributary::master::MasterError::LockTimeout { .. }),
            "{backend}: {err}"
        );
        assert!(
            err.to_string().contains("lock_wait_secs"),
            "{backend}: {err}"
        );
        assert!(
            started.elapsed() >= std::time::Duration::from_secs(1),
            "{backend}"
        );
        let refused = steward::merge(project, &store, &a, &b, &actor("one account")).await;
        assert!(
            matches!(
                refused,
                Err(steward::StewardError::Master(
                    tributary::master::MasterError::LockTimeout { .. }
                ))
            ),
            "{backend}: {refused:?}"
        );
        assert!(
            store.decisions().await.unwrap().is_empty(),
            "{backend}: an action that never got the lock records nothing"
        );

        held.release().await.unwrap();
        tributary::master::reconcile_master(project, &store)
            .await
            .unwrap();
    })
    .await;
}
