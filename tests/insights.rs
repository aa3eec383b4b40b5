//! Customer insights of the shipped sample project, on each store backend and through the
//! binary, checked against figures computed here straight from samples/erp/ (CSV and JSON Lines
//! read by hand, not through the mappings).

mod common;

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::process::Command;

use chrono::{NaiveDate, Utc};
use rust_decimal::{Decimal, RoundingStrategy};
use serde_json::Value;
use tributary::config::Project;
use tributary::insight::CustomerInsight;
use tributary::model::XrefRow;
use tributary::store::Store;

const AS_OF: &str = "2026-11-22";

fn as_of() -> NaiveDate {
    AS_OF.parse().unwrap()
}

/// What one master should show, worked out from the sample files.
#[derive(Debug, Clone, PartialEq)]
struct Expected {
    revenue: Decimal,
    rank: u32,
    tier: &'static str,
    top_20_pct: bool,
    stage: &'static str,
    orders: u32,
    median_gap_days: Option<Decimal>,
    churn: &'static str,
}

/// Revenue per ERP customer key: posted invoices dated 2025-11-23 ..= 2026-11-22, credit
/// notes negative, each converted at the configured rate and rounded to cents. Rows whose total
/// is not a number are the ones the sync quarantines.
fn erp_revenue(project: &Project) -> HashMap<String, Decimal> {
    let rates = &project.settings.currency.rates;
    let from: NaiveDate = "2025-11-23".parse().unwrap();
    let mut out = HashMap::new();
    let mut csv = csv::Reader::from_path(project.root.join("samples/erp/invoices.csv")).unwrap();
    for row in csv.deserialize::<HashMap<String, String>>() {
        let row = row.unwrap();
        let Ok(total) = row["amount_total"].parse::<Decimal>() else {
            continue;
        };
        let date: NaiveDate = row["invoice_date"].parse().unwrap();
        if row["state"] != "posted" || date < from || date > as_of() {
            continue;
        }
        let sign = if row["move_type"] == "out_refund" {
            -Decimal::ONE
        } else {
            Decimal::ONE
        };
        let rate = match row["currency"].as_str() {
            "CNY" => Decimal::ONE,
            other => rates[&other.parse().unwrap()],
        };
        let base =
            (sign * total * rate).round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero);
        *out.entry(row["partner_id"].clone()).or_default() += base;
    }
    out
}

/// Order dates per ERP customer key: confirmed (`sale`) and closed (`done`) orders.
fn erp_orders(project: &Project) -> HashMap<String, Vec<NaiveDate>> {
    let text =
        std::fs::read_to_string(project.root.join("samples/erp/sales_orders.jsonl")).unwrap();
    let mut out: HashMap<String, Vec<NaiveDate>> = HashMap::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let o: Value = serde_json::from_str(line).unwrap();
        if matches!(o["state"].as_str(), Some("sale" | "done")) {
            let date: NaiveDate = o["date_order"].as_str().unwrap().parse().unwrap();
            out.entry(o["partner"]["id"].as_str().unwrap().to_string())
                .or_default()
                .push(date);
        }
    }
    out
}

/// The expected insight of every master, from the sample files and the master's links.
fn expected(
    project: &Project,
    masters: &[String],
    xrefs: &[XrefRow],
) -> BTreeMap<String, Expected> {
    let revenue_of = erp_revenue(project);
    let orders_of = erp_orders(project);
    let rules = &project.settings.insights;
    let mut revenue: BTreeMap<String, Decimal> =
        masters.iter().map(|m| (m.clone(), Decimal::ZERO)).collect();
    let mut dates: HashMap<String, Vec<NaiveDate>> = HashMap::new();
    for x in xrefs.iter().filter(|x| x.source == "erp") {
        *revenue.get_mut(&x.master_id).unwrap() +=
            revenue_of.get(&x.key).copied().unwrap_or_default();
        dates
            .entry(x.master_id.clone())
            .or_default()
            .extend(orders_of.get(&x.key).into_iter().flatten());
    }
    let positive = |r: Decimal| r.max(Decimal::ZERO);
    let total: Decimal = revenue.values().map(|r| positive(*r)).sum();
    let n = masters.len() as u32;
    revenue
        .iter()
        .map(|(m, r)| {
            let higher: Vec<Decimal> = revenue
                .values()
                .map(|o| positive(*o))
                .filter(|o| *o > positive(*r))
                .collect();
            let above: Decimal = higher.iter().sum();
            let rank = higher.len() as u32 + 1;
            let tier = if *r <= Decimal::ZERO {
                "C"
            } else if above / total < Decimal::new(80, 2) {
                "A"
            } else if above / total < Decimal::new(95, 2) {
                "B"
            } else {
                "C"
            };
            let mut days = dates.get(m).cloned().unwrap_or_default();
            let orders = days.len() as u32;
            days.sort();
            days.dedup();
            let mut gaps: Vec<i64> = days.windows(2).map(|w| (w[1] - w[0]).num_days()).collect();
            gaps.sort();
            let median = match gaps.len() {
                0 => None,
                k if k % 2 == 1 => Some(Decimal::from(gaps[k / 2])),
                k => Some(Decimal::from(gaps[k / 2 - 1] + gaps[k / 2]) / Decimal::TWO),
            };
            let since = days
                .last()
                .map(|d| Decimal::from((as_of() - *d).num_days()));
            let periods: std::collections::BTreeSet<i64> = days
                .iter()
                .map(|d| (as_of() - *d).num_days() / i64::from(rules.period_days))
                .filter(|p| *p < i64::from(rules.loyal_periods))
                .collect();
            let lapsed = match (since, median) {
                (Some(s), Some(g)) => s > rules.lapsed_multiple * g,
                (Some(s), None) => s > Decimal::from(rules.lapsed_days_without_history),
                _ => false,
            };
            let stage = match orders {
                0 => "prospect",
                _ if lapsed => "lapsed",
                1 => "first_time",
                _ if periods.len() as u32 >= rules.loyal_min_periods => "loyal",
                _ => "repeat",
            };
            let churn = match (since, median) {
                (Some(s), Some(g)) if days.len() >= 3 => {
                    if s > rules.churn_multiple * g {
                        "at_risk"
                    } else {
                        "ok"
                    }
                }
                _ => "no_history",
            };
            let e = Expected {
                revenue: *r,
                rank,
                tier,
                top_20_pct: *r > Decimal::ZERO && rank * 5 <= n,
                stage,
                orders,
                median_gap_days: median,
                churn,
            };
            (m.clone(), e)
        })
        .collect()
}

fn seen(i: &CustomerInsight) -> Expected {
    Expected {
        revenue: i.value.revenue,
        rank: i.value.rank,
        tier: i.value.tier.as_str(),
        top_20_pct: i.value.top_20_pct,
        stage: i.lifecycle.stage.as_str(),
        orders: i.lifecycle.orders,
        median_gap_days: i.lifecycle.median_gap_days,
        churn: i.lifecycle.churn.status.as_str(),
    }
}

async fn check_store(project: &Project, store: &Store, backend: &str) -> Vec<CustomerInsight> {
    let master = store.load_master().await.unwrap();
    let ids: Vec<String> = master.masters.iter().map(|m| m.master_id.clone()).collect();
    let want = expected(project, &ids, &master.xrefs);
    let stored = store.insights().await.unwrap();
    let got: BTreeMap<String, Expected> = stored
        .iter()
        .map(|i| (i.master_id.clone(), seen(i)))
        .collect();
    assert_eq!(got.len(), 55, "{backend}: one insight per master");
    for (id, w) in &want {
        assert_eq!(got.get(id), Some(w), "{backend}: master {id}");
    }
    assert!(
        stored
            .iter()
            .all(|i| i.as_of == as_of() && i.currency.to_string() == "CNY")
    );
    stored
}

fn count<'a>(
    stored: &'a [CustomerInsight],
    f: impl Fn(&'a CustomerInsight) -> &'a str,
) -> BTreeMap<&'a str, usize> {
    let mut out = BTreeMap::new();
    for i in stored {
        *out.entry(f(i)).or_default() += 1;
    }
    out
}

#[tokio::test]
async fn insights_of_the_shipped_samples_on_each_backend() {
    let dir = common::shipped_project();
    let project = common::load(dir.path(), &[]);
    let mappings = project.compile_mappings().unwrap();
    common::on_each_backend(|backend, store| {
        let (project, mappings) = (&project, &mappings);
        async move {
            for name in ["dealer-portal", "erp"] {
                tributary::sync::run_connector(
                    project,
                    mappings,
                    &store,
                    &project.connectors[name],
                    &tributary::sync::SyncOptions::default(),
                    &tributary::sync::NoProgress,
                )
                .await
                .unwrap();
            }
            tributary::master::reconcile_master(project, &store)
                .await
                .unwrap();
            let summary = tributary::master::refresh_insights(project, &store, as_of(), Utc::now())
                .await
                .unwrap();
            let stored = check_store(project, &store, &backend).await;

            let tiers = count(&stored, |i| i.value.tier.as_str());
            assert_eq!(
                tiers,
                BTreeMap::from([("A", 17), ("B", 9), ("C", 29)]),
                "{backend}"
            );
            assert_eq!(summary.tiers, tiers, "{backend}");
            let stages = count(&stored, |i| i.lifecycle.stage.as_str());
            assert_eq!(summary.stages, stages, "{backend}");
            assert_eq!(
                stored.iter().filter(|i| i.value.top_20_pct).count(),
                11,
                "{backend}"
            );
            // Rank order, and the crossing customer: the last A starts below 80 % and ends at or
            // above it; the first B starts at or above 80 %.
            let ranks: Vec<u32> = stored.iter().map(|i| i.value.rank).collect();
            assert!(
                ranks.windows(2).all(|w| w[0] <= w[1]),
                "{backend}: {ranks:?}"
            );
            let last_a = stored
                .iter()
                .rfind(|i| i.value.tier.as_str() == "A")
                .unwrap();
            assert!(
                last_a.value.cumulative_share_pct >= Decimal::from(80),
                "{backend}"
            );

            // Every dealer-portal dealer with stock is a dealer master carrying its inventory.
            let d1007 = stored
                .iter()
                .find(|i| i.channel.iter().any(|d| d.dealer_key == "D1007"))
                .expect("D1007's master carries its channel inventory");
            assert!(d1007.dealer);
            let inv = d1007
                .channel
                .iter()
                .find(|d| d.dealer_key == "D1007")
                .unwrap();
            // Figures of tests/cli_channel.rs: 110 on hand, 25 sold in 28 days.
            assert_eq!(
                (inv.on_hand, inv.sell_through),
                (Decimal::from(110), Decimal::from(25))
            );

            // Re-running replaces the table: same content, new computation time.
            tributary::master::refresh_insights(project, &store, as_of(), Utc::now())
                .await
                .unwrap();
            assert_eq!(store.insights().await.unwrap().len(), 55, "{backend}");
        }
    })
    .await;
}

#[tokio::test]
async fn customer_json_shows_the_stored_insight() {
    let dir = common::shipped_project();
    let tributary = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_tributary"))
            .args(args)
            .env("TRIBUTARY_ROOT", dir.path())
            .env("TRIBUTARY_AS_OF", AS_OF)
            .env_remove("TRIBUTARY__STORE__URL")
            .output()
            .expect("the binary runs")
    };
    let sync = tributary(&["sync", "--all"]);
    let out = String::from_utf8_lossy(&sync.stdout).to_string();
    assert_eq!(sync.status.code(), Some(3), "{out}");
    assert!(
        out.contains("customer insights as of 2026-11-22: value tiers 17 A, 9 B, 29 C;"),
        "{out}"
    );

    let project = common::load(dir.path(), &[]);
    let url = format!(
        "sqlite://{}",
        Path::new(dir.path()).join("data/tributary.db").display()
    );
    let store = Store::connect(&url).await.unwrap();
    let stored = check_store(&project, &store, "binary").await;
    store.close().await;

    // The top customer, a dealer with stock, and a customer without any order.
    let top = &stored[0];
    let dealer = stored.iter().find(|i| !i.channel.is_empty()).unwrap();
    let prospect = stored.iter().find(|i| i.lifecycle.orders == 0).unwrap();
    for i in [top, dealer, prospect] {
        let out = tributary(&["customer", &i.master_id, "--json"]);
        assert_eq!(out.status.code(), Some(0), "{out:?}");
        let json: Value = serde_json::from_slice(&out.stdout).unwrap();
        let insight = &json["insight"];
        assert_eq!(insight, &serde_json::to_value(i).unwrap());
        for key in [
            "tier",
            "rank",
            "customers",
            "revenue",
            "revenue_share_pct",
            "cumulative_share_pct",
            "top_20_pct",
        ] {
            assert!(
                insight["value"].get(key).is_some(),
                "value.{key}: {insight:#}"
            );
        }
        assert!(
            insight["value"]["revenue"].is_string(),
            "money is a decimal string"
        );
        for key in [
            "stage",
            "orders",
            "last_order",
            "days_since_last_order",
            "median_gap_days",
            "churn",
        ] {
            assert!(
                insight["lifecycle"].get(key).is_some(),
                "lifecycle.{key}: {insight:#}"
            );
        }
    }
    let top_json: Value =
        serde_json::from_slice(&tributary(&["customer", &top.master_id, "--json"]).stdout).unwrap();
    assert_eq!(top_json["insight"]["value"]["rank"], 1);
    assert_eq!(top_json["insight"]["value"]["top_20_pct"], true);
    let p: Value =
        serde_json::from_slice(&tributary(&["customer", &prospect.master_id, "--json"]).stdout)
            .unwrap();
    assert_eq!(p["insight"]["lifecycle"]["stage"], "prospect");
    assert_eq!(p["insight"]["lifecycle"]["churn"]["status"], "no_history");

    let text = tributary(&["customer", &dealer.master_id]);
    let text = String::from_utf8_lossy(&text.stdout).to_string();
    for needle in [
        "value tier",
        "lifecycle",
        "channel inventory",
        "weeks of cover",
    ] {
        assert!(text.contains(needle), "`{needle}` missing from:\n{text}");
    }
    let text = tributary(&["customer", &top.master_id]);
    let text = String::from_utf8_lossy(&text.stdout).to_string();
    assert!(text.contains("★ TOP 20 % of customers"), "{text}");
}
