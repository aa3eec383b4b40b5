//! One customer's credit and 360 view read per customer (its master, xrefs and documents
//! through indexes) give exactly what the whole-table computation gives, for every master of
//! the shipped samples and for a retired ID after a merge, on each store backend.

mod common;

use chrono::{TimeZone, Utc};
use tributary::master::steward::{self, Actor};
use tributary::views;

#[tokio::test]
async fn per_customer_reads_equal_the_whole_table_computation() {
    common::on_each_backend(|backend, store| async move {
        let dir = common::shipped_project();
        let project = &common::load(dir.path(), &[]);
        for name in ["dealer-portal", "erp"] {
            common::run_connector(project, &store, name).await;
        }
        tributary::master::reconcile_master(project, &store)
            .await
            .unwrap();
        let now = Utc.with_ymd_and_hms(2026, 12, 1, 9, 0, 0).unwrap();
        let today = now.date_naive();

        let whole = views::exposures(project, &store, today, now).await.unwrap();
        let state = store.load_master().await.unwrap();
        assert!(state.masters.len() > 40, "{backend}");
        for m in &state.masters {
            let one = views::customer_exposure(project, &store, &m.master_id, today, now)
                .await
                .unwrap();
            assert_eq!(
                one.as_ref(),
                whole.get(&m.master_id),
                "{backend}: {}",
                m.master_id
            );
            let c = views::customer_360(project, &store, &m.master_id, today, now)
                .await
                .unwrap()
                .expect("a live master has a 360 view");
            assert_eq!(c.exposure.as_ref(), whole.get(&m.master_id), "{backend}");
            let mut linked: Vec<(String, String)> = state
                .xrefs
                .iter()
                .filter(|x| x.master_id == m.master_id)
                .map(|x| (x.source.clone(), x.key.clone()))
                .collect();
            linked.sort();
            let shown: Vec<(String, String)> = c
                .records
                .iter()
                .map(|r| (r.source.clone(), r.key.clone()))
                .collect();
            assert_eq!(shown, linked, "{backend}: {}", m.master_id);
            assert!(c.records.iter().all(|r| r.record.is_some()), "{backend}");
        }
        assert!(
            views::customer_exposure(project, &store, "M-nobody", today, now)
                .await
                .unwrap()
                .is_none(),
            "{backend}"
        );

        // A retired ID answers for the master it was merged into.
        // Two ERP customers alone in their masters lose their tax IDs, so a steward may merge
        // them.
        let singles: Vec<String> = state
            .masters
            .iter()
            .filter_map(|m| {
                let mine: Vec<_> = state
                    .xrefs
                    .iter()
                    .filter(|x| x.master_id == m.master_id)
                    .collect();
                (mine.len() == 1 && mine[0].source == "erp").then(|| mine[0].key.clone())
            })
            .take(2)
            .collect();
        common::blank_erp_tax_ids(
            dir.path(),
            &singles.iter().map(String::as_str).collect::<Vec<_>>(),
        );
        common::run_connector(project, &store, "erp").await;
        tributary::master::reconcile_master(project, &store)
            .await
            .unwrap();
        let state = store.load_master().await.unwrap();
        let master_of = |key: &str| {
            state
                .xrefs
                .iter()
                .find(|x| x.source == "erp" && x.key == key)
                .map(|x| x.master_id.clone())
                .unwrap()
        };
        let (a, b) = (master_of(&singles[0]), master_of(&singles[1]));
        let actor = Actor {
            name: "li.na".into(),
            reason: "one account".into(),
        };
        steward::merge(project, &store, &a, &b, &actor)
            .await
            .unwrap();
        let after = store.load_master().await.unwrap();
        let (retired, survivor) = after.aliases.first().cloned().expect("an alias");
        assert_eq!(
            store.master(&retired).await.unwrap().map(|m| m.master_id),
            Some(survivor.clone()),
            "{backend}"
        );
        let whole = views::exposures(project, &store, today, now).await.unwrap();
        let one = views::customer_exposure(project, &store, &retired, today, now)
            .await
            .unwrap();
        assert_eq!(one.as_ref(), whole.get(&survivor), "{backend}");
        let c = views::customer_360(project, &store, &retired, today, now)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(c.alias_of.as_deref(), Some(retired.as_str()), "{backend}");
        assert_eq!(c.master_id, survivor, "{backend}");
    })
    .await;
}
