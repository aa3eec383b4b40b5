use chrono::{Duration, TimeZone, Utc};
use rust_decimal_macros::dec;
use serde_json::json;

use super::*;
use crate::model::{Customer, InvoiceKind, OrderStatus};
use crate::reconcile::{DeterministicMatcher, SourceCustomer, Survivorship, reconcile};

fn cur(c: &str) -> Currency {
    c.parse().unwrap()
}

fn fx() -> FxTable {
    FxTable {
        base: cur("CNY"),
        rates: [(cur("USD"), dec!(7.10)), (cur("EUR"), dec!(7.80))]
            .into_iter()
            .collect(),
    }
}

fn day(m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, m, d).unwrap()
}

fn today() -> NaiveDate {
    day(11, 22)
}

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 22, 12, 0, 0).unwrap()
}

fn inv(key: &str, customer: &str, due: NaiveDate, currency: &str, open: Decimal) -> Invoice {
    serde_json::from_value(json!({
        "source_key": key, "customer_key": customer, "invoice_date": "2026-01-01",
        "due_date": due, "currency": currency, "total": open, "residual": open
    }))
    .unwrap()
}

fn order(
    key: &str,
    customer: &str,
    status: OrderStatus,
    currency: &str,
    total: Decimal,
) -> SalesOrder {
    SalesOrder {
        source_key: key.into(),
        customer_key: customer.into(),
        order_date: day(11, 1),
        status,
        currency: cur(currency),
        total,
        invoiced_amount: None,
        lines: vec![],
        updated_at: None,
    }
}

fn payment(key: &str, customer: &str, currency: &str, unapplied: Decimal) -> Payment {
    Payment {
        source_key: key.into(),
        customer_key: customer.into(),
        payment_date: day(11, 15),
        currency: cur(currency),
        amount: unapplied,
        unapplied,
        updated_at: None,
    }
}

fn master(id: &str, golden: serde_json::Value) -> MasterRow {
    MasterRow {
        master_id: id.into(),
        golden,
        lineage: json!({}),
        created_at: now(),
        updated_at: now(),
    }
}

fn xref(source: &str, key: &str, id: &str) -> XrefRow {
    XrefRow {
        source: source.into(),
        key: key.into(),
        master_id: id.into(),
        rule: "singleton".into(),
    }
}

/// One master M1 (erp/C1) with a 100000 CNY limit, synced an hour ago.
fn input() -> ExposureInput {
    ExposureInput {
        masters: vec![master(
            "M1",
            json!({"name": "Feiyue", "credit_limit": "100000", "currency": "CNY"}),
        )],
        xrefs: vec![xref("erp", "C1", "M1")],
        last_sync: [("erp".to_string(), now() - Duration::hours(1))]
            .into_iter()
            .collect(),
        ..ExposureInput::default()
    }
}

fn one(input: &ExposureInput) -> Exposure {
    let mut all = compute(input, &fx(), today(), now(), Duration::hours(36)).unwrap();
    all.remove("M1").unwrap()
}

// ---- FX ----

#[test]
fn fx_rounds_to_cents_half_away_from_zero() {
    let fx = fx();
    assert_eq!(fx.to_base(dec!(926.60), cur("USD")).unwrap(), dec!(6578.86));
    assert_eq!(fx.to_base(dec!(0.005), cur("CNY")).unwrap(), dec!(0.01));
    assert_eq!(fx.to_base(dec!(-0.005), cur("CNY")).unwrap(), dec!(-0.01));
    // 0.15 × 7.10 = 1.065 → 1.07 (not banker's 1.06).
    assert_eq!(fx.to_base(dec!(0.15), cur("USD")).unwrap(), dec!(1.07));
    assert_eq!(
        fx.to_base(dec!(12345.67), cur("CNY")).unwrap(),
        dec!(12345.67)
    );
}

#[test]
fn missing_rate_is_an_error_naming_both_currencies() {
    let err = fx().to_base(dec!(1), cur("JPY")).unwrap_err();
    assert_eq!(
        err,
        ExposureError::MissingRate {
            from: cur("JPY"),
            base: cur("CNY")
        }
    );
    assert!(err.to_string().contains("JPY") && err.to_string().contains("CNY"));

    let mut i = input();
    i.invoices
        .push(("erp".into(), inv("I1", "C1", today(), "JPY", dec!(100))));
    assert!(matches!(
        compute(&i, &fx(), today(), now(), Duration::hours(36)),
        Err(ExposureError::MissingRate { .. })
    ));
}

#[test]
fn overflow_is_an_error_not_a_panic() {
    let err = fx().to_base(Decimal::MAX, cur("USD")).unwrap_err();
    assert!(matches!(err, ExposureError::Overflow { .. }), "{err:?}");
    let mut i = input();
    for k in ["I1", "I2"] {
        i.invoices
            .push(("erp".into(), inv(k, "C1", today(), "CNY", Decimal::MAX)));
    }
    assert!(matches!(
        compute(&i, &fx(), today(), now(), Duration::hours(36)),
        Err(ExposureError::Overflow { .. })
    ));
}

// ---- aging ----

#[test]
fn aging_buckets_at_their_boundaries() {
    let cases = [
        (-5, Bucket::NotDue),
        (0, Bucket::NotDue),
        (1, Bucket::D1To30),
        (30, Bucket::D1To30),
        (31, Bucket::D31To60),
        (60, Bucket::D31To60),
        (61, Bucket::D61To90),
        (90, Bucket::D61To90),
        (91, Bucket::Over90),
    ];
    for (days, expected) in cases {
        let due = today() - Duration::days(days);
        assert_eq!(days_past_due(due, today()), days);
        assert_eq!(bucket(due, today()), expected, "{days} days");
    }
}

#[test]
fn receivables_are_aged_by_due_date() {
    let mut i = input();
    for (n, days) in [0i64, 1, 30, 31, 60, 61, 90, 91].into_iter().enumerate() {
        let due = today() - Duration::days(days);
        i.invoices.push((
            "erp".into(),
            inv(&format!("I{n}"), "C1", due, "CNY", dec!(1)),
        ));
    }
    let e = one(&i);
    assert_eq!(e.open_receivables, dec!(8));
    assert_eq!(e.max_days_overdue, Some(91));
    assert_eq!(
        e.aging,
        Aging {
            not_due: dec!(1),
            d1_30: dec!(2),
            d31_60: dec!(2),
            d61_90: dec!(2),
            over_90: dec!(1),
        }
    );
}

#[test]
fn credit_notes_subtract_in_their_bucket() {
    let mut i = input();
    i.invoices.push((
        "erp".into(),
        inv("I1", "C1", day(12, 10), "CNY", dec!(100000)),
    ));
    let mut cn = inv("CN1", "C1", today(), "CNY", dec!(2000));
    cn.kind = InvoiceKind::CreditNote;
    i.invoices.push(("erp".into(), cn));
    let e = one(&i);
    assert_eq!(e.open_receivables, dec!(98000));
    assert_eq!(e.aging.not_due, dec!(98000));
    assert_eq!(e.max_days_overdue, None, "nothing is past due");
}

#[test]
fn unposted_invoices_are_ignored() {
    let mut i = input();
    let mut draft = inv("I1", "C1", day(1, 1), "CNY", dec!(5000));
    draft.posted = false;
    i.invoices.push(("erp".into(), draft));
    let e = one(&i);
    assert_eq!(e.open_receivables, dec!(0));
    assert_eq!(e.aging, Aging::default());
}

// ---- totals ----

#[test]
fn multi_currency_exposure_adds_up() {
    let mut i = input();
    i.invoices
        .push(("erp".into(), inv("I1", "C1", day(11, 7), "USD", dec!(4000))));
    i.invoices
        .push(("erp".into(), inv("I2", "C1", day(10, 1), "EUR", dec!(1000))));
    i.orders.push((
        "erp".into(),
        order("SO1", "C1", OrderStatus::Confirmed, "USD", dec!(926.60)),
    ));
    i.orders.push((
        "erp".into(),
        order("SO2", "C1", OrderStatus::Draft, "CNY", dec!(50000)),
    ));
    i.payments
        .push(("erp".into(), payment("P1", "C1", "USD", dec!(1500))));
    let e = one(&i);
    assert_eq!(e.currency, cur("CNY"));
    assert_eq!(e.open_receivables, dec!(36200.00));
    assert_eq!(e.aging.d1_30, dec!(28400.00));
    assert_eq!(e.aging.d31_60, dec!(7800.00));
    assert_eq!(e.open_orders, dec!(6578.86));
    assert_eq!(e.unapplied_payments, dec!(10650.00));
    assert_eq!(e.exposure, dec!(32128.86));
    assert_eq!(e.credit_limit, Some(dec!(100000)));
    assert_eq!(e.available, Some(dec!(67871.14)));
    assert_eq!(e.utilization_pct, Some(dec!(32.13)));
}

#[test]
fn limit_in_another_currency_is_converted() {
    let mut i = input();
    i.masters[0].golden = json!({"name": "Acme GmbH", "credit_limit": "10000", "currency": "EUR"});
    i.invoices
        .push(("erp".into(), inv("I1", "C1", day(12, 1), "CNY", dec!(800))));
    let e = one(&i);
    assert_eq!(e.credit_limit, Some(dec!(78000.00)));
    assert_eq!(e.utilization_pct, Some(dec!(1.03)));
    assert_eq!(e.name, "Acme GmbH");
}

#[test]
fn no_limit_gives_no_available_or_utilisation() {
    let mut i = input();
    i.masters[0].golden = json!({"name": "Feiyue", "credit_limit": null, "currency": "CNY"});
    i.invoices
        .push(("erp".into(), inv("I1", "C1", day(12, 1), "CNY", dec!(800))));
    let e = one(&i);
    assert_eq!(e.credit_limit, None);
    assert_eq!(e.available, None);
    assert_eq!(e.utilization_pct, None);
    // A limit without a currency is not guessed; a zero limit has no utilisation.
    i.masters[0].golden = json!({"name": "Feiyue", "credit_limit": "5000"});
    assert_eq!(one(&i).credit_limit, None);
    i.masters[0].golden = json!({"name": "Feiyue", "credit_limit": "0", "currency": "CNY"});
    let e = one(&i);
    assert_eq!(e.available, Some(dec!(-800)));
    assert_eq!(e.utilization_pct, None);
}

#[test]
fn documents_without_a_master_are_left_out() {
    let mut i = input();
    i.invoices
        .push(("erp".into(), inv("I1", "C9", day(12, 1), "CNY", dec!(800))));
    i.invoices
        .push(("crm".into(), inv("I2", "C1", day(12, 1), "CNY", dec!(700))));
    let all = compute(&i, &fx(), today(), now(), Duration::hours(36)).unwrap();
    assert_eq!(all.len(), 1);
    assert_eq!(all["M1"].exposure, dec!(0), "C1 of crm is not C1 of erp");
    assert_eq!(all["M1"].sources.len(), 1);
}

#[test]
fn a_master_without_documents_has_zero_exposure() {
    let e = one(&input());
    assert_eq!(e.exposure, dec!(0));
    assert_eq!(e.available, Some(dec!(100000)));
    assert_eq!(e.utilization_pct, Some(dec!(0)));
}

// ---- freshness ----

#[test]
fn sources_are_sorted_and_stale_when_old_or_never_synced() {
    let mut i = input();
    i.xrefs.push(xref("shop", "S1", "M1"));
    i.xrefs.push(xref("crm", "K1", "M1"));
    i.last_sync
        .insert("crm".into(), now() - Duration::hours(37));
    i.invoices
        .push(("erp".into(), inv("I1", "C1", day(12, 1), "CNY", dec!(1))));
    let e = one(&i);
    let got: Vec<(&str, bool, bool)> = e
        .sources
        .iter()
        .map(|s| (s.source.as_str(), s.last_synced_at.is_some(), s.stale))
        .collect();
    assert_eq!(
        got,
        [
            ("crm", true, true),
            ("erp", true, false),
            ("shop", false, true)
        ]
    );
}

#[test]
fn json_contract_uses_strings_for_amounts() {
    let mut i = input();
    i.invoices.push((
        "erp".into(),
        inv("I1", "C1", day(1, 1), "CNY", dec!(12345.67)),
    ));
    let v = serde_json::to_value(one(&i)).unwrap();
    assert_eq!(v["exposure"], "12345.67");
    assert_eq!(v["aging"]["over_90"], "12345.67");
    assert_eq!(v["credit_limit"], "100000");
    assert_eq!(v["currency"], "CNY");
    assert_eq!(v["sources"][0]["source"], "erp");
}

// ---- the fixture of tests/file_sync.rs, without the store ----

fn customer(v: serde_json::Value) -> Customer {
    serde_json::from_value(v).unwrap()
}

#[test]
fn hand_computed_fixture_through_reconcile_and_exposure() {
    let uscc = "91350100M000100Y43";
    let customers = vec![
        SourceCustomer {
            source: "erp".into(),
            run: 1,
            customer: customer(
                json!({"source_key": "C1", "name": "Feiyue Technology Co. Ltd.",
                "tax_id": uscc, "country": "CN", "postal_code": "518000",
                "credit_limit": "500000", "currency": "CNY"}),
            ),
        },
        SourceCustomer {
            source: "erp".into(),
            run: 1,
            customer: customer(json!({"source_key": "C2", "name": "Acme GmbH",
                "country": "DE", "postal_code": "10115", "credit_limit": "10000",
                "currency": "EUR"})),
        },
        SourceCustomer {
            source: "dealers".into(),
            run: 2,
            customer: customer(json!({"source_key": "D9", "name": "飞跃科技(深圳)有限公司",
                "tax_id": uscc.to_lowercase(), "country": "CN", "postal_code": "518000"})),
        },
    ];
    let rules = Survivorship {
        source_priority: vec!["erp".into()],
    };
    let state = reconcile(
        &Default::default(),
        &customers,
        &DeterministicMatcher,
        &rules,
        now(),
    );
    assert_eq!(state.masters.len(), 2);

    let erp = |i: Invoice| ("erp".to_string(), i);
    let mut cn1 = inv("CN1", "C1", day(11, 22), "CNY", dec!(2000));
    cn1.kind = InvoiceKind::CreditNote;
    let mut so1 = order("SO1", "C1", OrderStatus::Confirmed, "USD", dec!(1130));
    so1.lines = serde_json::from_value(json!([
        {"sku": "A", "quantity": "10", "quantity_invoiced": "3", "unit_price": "60"},
        {"sku": "B", "quantity": "4", "unit_price": "100"}
    ]))
    .unwrap();
    let input = ExposureInput {
        masters: state.masters.clone(),
        xrefs: state.xrefs.clone(),
        invoices: vec![
            erp(inv("INV1", "C1", day(12, 10), "CNY", dec!(100000))),
            erp(inv("INV2", "C1", day(11, 7), "USD", dec!(4000))),
            erp(inv("INV3", "C1", day(8, 19), "CNY", dec!(12345.67))),
            erp(cn1),
            erp(inv("INV4", "C1", day(7, 1), "CNY", dec!(0))),
            erp(inv("INV5", "C2", day(12, 1), "CNY", dec!(800))),
            (
                "dealers".into(),
                inv("DI1", "D9", day(10, 1), "EUR", dec!(1000)),
            ),
        ],
        orders: vec![
            ("erp".into(), so1),
            (
                "erp".into(),
                order("SO2", "C1", OrderStatus::Draft, "CNY", dec!(50000)),
            ),
            (
                "erp".into(),
                order("SO3", "C1", OrderStatus::Confirmed, "CNY", dec!(20000)),
            ),
        ],
        payments: vec![
            ("erp".into(), payment("P1", "C1", "USD", dec!(1500))),
            ("erp".into(), payment("P2", "C1", "CNY", dec!(0))),
        ],
        last_sync: [
            ("erp".to_string(), now() - Duration::minutes(5)),
            ("dealers".to_string(), now() - Duration::minutes(5)),
        ]
        .into_iter()
        .collect(),
    };
    let all = compute(&input, &fx(), today(), now(), Duration::hours(36)).unwrap();
    assert_eq!(all.len(), 2);
    let e = all.values().find(|e| e.open_orders > dec!(0)).unwrap();
    assert_eq!(e.name, "Feiyue Technology Co. Ltd.");
    assert_eq!(e.open_receivables, dec!(146545.67));
    assert_eq!(e.aging.not_due, dec!(98000.00));
    assert_eq!(e.aging.d1_30, dec!(28400.00));
    assert_eq!(e.aging.d31_60, dec!(7800.00));
    assert_eq!(e.aging.d61_90, dec!(0));
    assert_eq!(e.aging.over_90, dec!(12345.67));
    assert_eq!(e.open_orders, dec!(26578.86));
    assert_eq!(e.unapplied_payments, dec!(10650.00));
    assert_eq!(e.exposure, dec!(162474.53));
    assert_eq!(e.credit_limit, Some(dec!(500000)));
    assert_eq!(e.available, Some(dec!(337525.47)));
    assert_eq!(e.utilization_pct, Some(dec!(32.49)));
    let sources: Vec<&str> = e.sources.iter().map(|s| s.source.as_str()).collect();
    assert_eq!(sources, ["dealers", "erp"]);
    assert!(e.sources.iter().all(|s| !s.stale));

    let acme = all.values().find(|x| x.name == "Acme GmbH").unwrap();
    assert_eq!(acme.exposure, dec!(800));
    assert_eq!(acme.credit_limit, Some(dec!(78000.00)));
    assert_eq!(acme.utilization_pct, Some(dec!(1.03)));
}

// ---- group roll-up ----

/// H (limit 100000) with subsidiaries S1 (own limit 50000) and S2 (dealer source, stale), S1
/// with a subsidiary G; U stands apart.
fn group_input() -> (ExposureInput, crate::reconcile::groups::Groups) {
    use crate::reconcile::groups::{GroupEdge, Groups};
    let mut input = input();
    input.masters = vec![
        master(
            "H",
            json!({"name": "Head", "credit_limit": "100000", "currency": "CNY"}),
        ),
        master(
            "S1",
            json!({"name": "Sub 1", "credit_limit": "50000", "currency": "CNY"}),
        ),
        master("S2", json!({"name": "Sub 2"})),
        master("G", json!({"name": "Grandchild"})),
        master(
            "U",
            json!({"name": "Other", "credit_limit": "1", "currency": "CNY"}),
        ),
    ];
    input.xrefs = vec![
        xref("erp", "H", "H"),
        xref("erp", "S1", "S1"),
        xref("dealer", "S2", "S2"),
        xref("erp", "G", "G"),
        xref("erp", "U", "U"),
    ];
    input.invoices = vec![
        (
            "erp".into(),
            inv("I1", "H", day(12, 1), "CNY", dec!(1000.10)),
        ),
        (
            "erp".into(),
            inv("I2", "S1", day(11, 1), "USD", dec!(100.15)),
        ), // 711.07, 21 days
        (
            "dealer".into(),
            inv("I3", "S2", day(7, 1), "CNY", dec!(250.00)),
        ), // over 90
        (
            "erp".into(),
            inv("I4", "G", day(10, 10), "EUR", dec!(10.00)),
        ), // 78.00, 43 days
        ("erp".into(), inv("I5", "U", day(12, 1), "CNY", dec!(99999))),
    ];
    input.orders = vec![
        (
            "erp".into(),
            order("O1", "S1", OrderStatus::Confirmed, "CNY", dec!(300.33)),
        ),
        (
            "dealer".into(),
            order("O2", "S2", OrderStatus::Confirmed, "USD", dec!(10)),
        ),
    ];
    input.payments = vec![("erp".into(), payment("P1", "G", "CNY", dec!(50.05)))];
    // The dealer source last synced two days ago: stale.
    input
        .last_sync
        .insert("dealer".into(), now() - Duration::hours(48));
    let edge = |child: &str, parent: &str| GroupEdge {
        master_id: child.into(),
        parent_id: parent.into(),
        source: "erp".into(),
        key: child.into(),
        parent_key: parent.into(),
    };
    let groups = Groups {
        edges: vec![edge("G", "S1"), edge("S1", "H"), edge("S2", "H")],
        issues: vec![],
    };
    (input, groups)
}

#[test]
fn a_group_sums_its_members_against_the_heads_limit() {
    let (input, groups) = group_input();
    let all = compute(&input, &fx(), today(), now(), Duration::hours(36)).unwrap();
    let g = roll_up("H", &groups, &all).unwrap().unwrap();
    let t = &g.total;
    assert_eq!(t.master_id, "H");
    assert_eq!(t.name, "Head");
    assert_eq!(t.credit_limit, Some(dec!(100000)));
    // 1000.10 + 711.07 + 250.00 + 78.00
    assert_eq!(t.open_receivables, dec!(2039.17));
    // 300.33 + 71.00
    assert_eq!(t.open_orders, dec!(371.33));
    assert_eq!(t.unapplied_payments, dec!(50.05));
    assert_eq!(t.exposure, dec!(2360.45));
    assert_eq!(t.available, Some(dec!(97639.55)));
    assert_eq!(t.utilization_pct, Some(dec!(2.36)));
    assert_eq!(
        (
            t.aging.not_due,
            t.aging.d1_30,
            t.aging.d31_60,
            t.aging.over_90
        ),
        (dec!(1000.10), dec!(711.07), dec!(78.00), dec!(250.00))
    );
    let stale: Vec<(&str, bool)> = t
        .sources
        .iter()
        .map(|s| (s.source.as_str(), s.stale))
        .collect();
    assert_eq!(stale, [("dealer", true), ("erp", false)]);
    // Members: head first, then depth first; each keeps its own limit and utilisation.
    let members: Vec<(&str, usize, Option<&str>)> = g
        .members
        .iter()
        .map(|m| {
            (
                m.exposure.master_id.as_str(),
                m.depth,
                m.parent_id.as_deref(),
            )
        })
        .collect();
    assert_eq!(
        members,
        [
            ("H", 0, None),
            ("S1", 1, Some("H")),
            ("G", 2, Some("S1")),
            ("S2", 1, Some("H"))
        ]
    );
    let s1 = &g.members[1].exposure;
    assert_eq!(s1.credit_limit, Some(dec!(50000)));
    assert_eq!(s1.exposure, dec!(1011.40));
    assert_eq!(s1.utilization_pct, Some(dec!(2.02)));
    // The members' figures add up to the group's.
    let sum: Decimal = g.members.iter().map(|m| m.exposure.exposure).sum();
    assert_eq!(sum, t.exposure);
}

#[test]
fn a_subsidiary_rolls_up_its_own_subtree_and_a_loner_is_its_own_group() {
    let (input, groups) = group_input();
    let all = compute(&input, &fx(), today(), now(), Duration::hours(36)).unwrap();
    let s1 = roll_up("S1", &groups, &all).unwrap().unwrap();
    assert_eq!(s1.members.len(), 2);
    assert_eq!(s1.members[0].parent_id, None);
    assert_eq!(s1.total.credit_limit, Some(dec!(50000)));
    assert_eq!(s1.total.exposure, dec!(1011.40) + dec!(27.95));
    let u = roll_up("U", &groups, &all).unwrap().unwrap();
    assert_eq!(u.total, all["U"]);
    assert!(roll_up("NOPE", &groups, &all).unwrap().is_none());
}

#[test]
fn the_group_json_carries_the_exposure_contract_and_members() {
    let (input, groups) = group_input();
    let all = compute(&input, &fx(), today(), now(), Duration::hours(36)).unwrap();
    let g = roll_up("H", &groups, &all).unwrap().unwrap();
    let v = serde_json::to_value(&g).unwrap();
    assert_eq!(v["master_id"], "H");
    assert_eq!(v["exposure"], "2360.45");
    assert_eq!(v["aging"]["d31_60"], "78.00");
    assert_eq!(v["members"][2]["master_id"], "G");
    assert_eq!(v["members"][2]["parent_id"], "S1");
    assert_eq!(v["members"][2]["depth"], 2);
    assert_eq!(v["members"][2]["exposure"], "27.95");
}
