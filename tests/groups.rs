//! Group structure and group exposure on the shipped samples, on each store backend. The group
//! figures are checked against sums computed here straight from `samples/erp/*`.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use chrono::{NaiveDate, Utc};
use rust_decimal::Decimal;
use rust_decimal_macros::dec;
use serde_json::Value;
use tributary::config::Project;
use tributary::store::Store;

fn as_of() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 11, 22).unwrap()
}

fn csv_rows(path: &Path) -> Vec<BTreeMap<String, String>> {
    let mut r = csv::Reader::from_path(path).unwrap();
    r.deserialize().map(|row| row.unwrap()).collect()
}

fn dec(s: &str) -> Decimal {
    s.parse().unwrap()
}

/// Receivables, aging buckets (not due, 1–30, 31–60, 61–90, >90), open orders and unapplied
/// payments of the ERP customers `keys`, from the sample files (all amounts there are CNY).
#[derive(Debug, Default, PartialEq)]
struct Sums {
    receivables: Decimal,
    aging: [Decimal; 5],
    orders: Decimal,
    unapplied: Decimal,
}

fn erp_sums(samples: &Path, keys: &BTreeSet<String>) -> Sums {
    let mut s = Sums::default();
    for inv in csv_rows(&samples.join("invoices.csv")) {
        if !keys.contains(&inv["partner_id"]) || inv["state"] != "posted" {
            continue;
        }
        assert_eq!(inv["currency"], "CNY");
        let mut open = dec(&inv["amount_residual"]);
        if inv["move_type"] == "out_refund" {
            open = -open;
        }
        if open.is_zero() {
            continue;
        }
        s.receivables += open;
        let due: NaiveDate = inv["invoice_date_due"].parse().unwrap();
        let late = (as_of() - due).num_days();
        let slot = match late {
            ..=0 => 0,
            1..=30 => 1,
            31..=60 => 2,
            61..=90 => 3,
            _ => 4,
        };
        s.aging[slot] += open;
    }
    let orders = std::fs::read_to_string(samples.join("sales_orders.jsonl")).unwrap();
    for line in orders.lines().filter(|l| !l.trim().is_empty()) {
        let o: Value = serde_json::from_str(line).unwrap();
        let key = o["partner"]["id"].as_str().unwrap();
        if !keys.contains(key) || o["state"] != "sale" {
            continue;
        }
        assert_eq!(o["currency"], "CNY");
        let total = dec(o["amount_total"].as_str().unwrap());
        let (mut net, mut done) = (Decimal::ZERO, Decimal::ZERO);
        for l in o["order_line"].as_array().unwrap() {
            let price = dec(l["price_unit"].as_str().unwrap());
            net += Decimal::from(l["qty"].as_i64().unwrap()) * price;
            done += Decimal::from(l["qty_invoiced"].as_i64().unwrap()) * price;
        }
        s.orders += total - (total * done / net).round_dp(2);
    }
    for p in csv_rows(&samples.join("payments.csv")) {
        if keys.contains(&p["partner_id"]) && p["state"] == "posted" {
            assert_eq!(p["currency"], "CNY");
            s.unapplied += dec(&p["unreconciled_amount"]);
        }
    }
    s
}

async fn sync(project: &Project, store: &Store) -> tributary::master::MasterSummary {
    for name in ["dealer-portal", "erp"] {
        common::run_connector(project, store, name).await;
    }
    tributary::master::reconcile_master(project, store)
        .await
        .unwrap()
}

fn master_of(state: &tributary::model::MasterState, source: &str, key: &str) -> String {
    state
        .xrefs
        .iter()
        .find(|x| x.source == source && x.key == key)
        .unwrap_or_else(|| panic!("{source}:{key} is in the master"))
        .master_id
        .clone()
}

#[tokio::test]
async fn the_huanan_pump_group_rolls_up_on_each_backend() {
    let dir = common::shipped_project();
    let project = common::load(dir.path(), &[]);
    let samples = dir.path().join("samples/erp");
    common::on_each_backend(|backend, store| {
        let (project, samples) = (&project, &samples);
        async move {
            let summary = sync(project, &store).await;
            assert_eq!(
                (
                    summary.group_cycles,
                    summary.group_self_references,
                    summary.group_dangling
                ),
                (0, 0, 0),
                "{backend}: the samples' parent keys all resolve"
            );
            let state = store.load_master().await.unwrap();
            let head = master_of(&state, "erp", "C10005");
            let subs = [
                master_of(&state, "erp", "C10006"),
                master_of(&state, "erp", "C10007"),
            ];
            let groups = store.groups().await.unwrap();
            assert!(groups.heads().contains(&head.as_str()), "{backend}");
            let mut expected: Vec<&str> = subs.iter().map(String::as_str).collect();
            expected.sort();
            assert_eq!(groups.children()[head.as_str()], expected, "{backend}");

            let now = Utc::now();
            let g = tributary::views::group_exposure(project, &store, &head, as_of(), now)
                .await
                .unwrap()
                .unwrap();
            assert_eq!(g.members.len(), 3, "{backend}");
            // Every ERP key linked to a member counts (a dealer-portal record has no documents).
            let members: BTreeSet<&str> = g
                .members
                .iter()
                .map(|m| m.exposure.master_id.as_str())
                .collect();
            let keys: BTreeSet<String> = state
                .xrefs
                .iter()
                .filter(|x| x.source == "erp" && members.contains(x.master_id.as_str()))
                .map(|x| x.key.clone())
                .collect();
            let want = erp_sums(samples, &keys);
            let t = &g.total;
            let a = &t.aging;
            assert_eq!(
                Sums {
                    receivables: t.open_receivables,
                    aging: [a.not_due, a.d1_30, a.d31_60, a.d61_90, a.over_90],
                    orders: t.open_orders,
                    unapplied: t.unapplied_payments,
                },
                want,
                "{backend}"
            );
            assert_eq!(
                t.exposure,
                want.receivables + want.orders - want.unapplied,
                "{backend}"
            );
            // The group line uses the head's limit (300000), although C10006 has 450000 of its
            // own; each member keeps its own limit and utilisation.
            assert_eq!(t.credit_limit, Some(dec!(300000.00)), "{backend}");
            assert_eq!(t.available, Some(dec!(300000.00) - t.exposure), "{backend}");
            let c10006 = g
                .members
                .iter()
                .find(|m| m.exposure.master_id == subs[0])
                .unwrap();
            assert_eq!(c10006.depth, 1);
            assert_eq!(c10006.parent_id.as_deref(), Some(head.as_str()));
            assert_eq!(
                c10006.exposure.credit_limit,
                Some(dec!(450000.00)),
                "{backend}"
            );
            assert!(t.sources.iter().all(|s| !s.stale), "{backend}");
            println!(
                "{backend}: group {head}: {}",
                serde_json::to_string(&g.total).unwrap()
            );

            // The report lists the head with the same figures; the 360 shows parent and children.
            let heads = tributary::views::group_exposures(project, &store, as_of(), now)
                .await
                .unwrap();
            let row = heads.iter().find(|h| h.total.master_id == head).unwrap();
            assert_eq!(row.total, g.total, "{backend}");
            let c = tributary::views::customer_360(project, &store, &subs[1], as_of(), now)
                .await
                .unwrap()
                .unwrap();
            let parent = c.group.parent.as_ref().unwrap();
            assert_eq!(parent.master_id, head);
            assert_eq!(
                (parent.key.as_str(), parent.parent_key.as_str()),
                ("C10007", "C10005")
            );
            assert_eq!(c.group.head.as_deref(), Some(head.as_str()));
            let h = tributary::views::customer_360(project, &store, &head, as_of(), now)
                .await
                .unwrap()
                .unwrap();
            assert!(h.group.parent.is_none());
            assert_eq!(h.group.children.len(), 2);
        }
    })
    .await;
}

#[tokio::test]
async fn the_dealer_portals_distributors_head_their_sub_dealers() {
    let dir = common::shipped_project();
    let project = common::load(dir.path(), &[]);
    common::on_each_backend(|backend, store| {
        let project = &project;
        async move {
            sync(project, &store).await;
            let state = store.load_master().await.unwrap();
            let groups = store.groups().await.unwrap();
            for (parent, subs) in [
                ("D1001", &["D1003", "D1005", "D1006", "D1012", "D1019"][..]),
                ("D1002", &["D1008", "D1009"][..]),
            ] {
                let head = master_of(&state, "dealer-portal", parent);
                let mut want: Vec<String> = subs
                    .iter()
                    .map(|k| master_of(&state, "dealer-portal", k))
                    .collect();
                want.sort();
                want.dedup();
                let got: Vec<String> = groups.children()[head.as_str()]
                    .iter()
                    .map(|s| s.to_string())
                    .collect();
                assert_eq!(got, want, "{backend}: children of {parent}");
                let g =
                    tributary::views::group_exposure(project, &store, &head, as_of(), Utc::now())
                        .await
                        .unwrap()
                        .unwrap();
                let sum: Decimal = g.members.iter().map(|m| m.exposure.exposure).sum();
                assert_eq!(g.total.exposure, sum, "{backend}");
                println!(
                    "{backend}: group {parent} {head}: exposure {} limit {:?}",
                    g.total.exposure, g.total.credit_limit
                );
            }
            // A rebuild with nothing new gives the same groups.
            tributary::master::reconcile_master(project, &store)
                .await
                .unwrap();
            assert_eq!(store.groups().await.unwrap(), groups, "{backend}");
        }
    })
    .await;
}
