//! [`compute`] over small hand-made inputs: revenue window, FX, credit notes, linking.

use rust_decimal_macros::dec;

use super::*;

fn day(d: &str) -> NaiveDate {
    d.parse().unwrap()
}

fn cur(c: &str) -> Currency {
    c.parse().unwrap()
}

fn fx() -> FxTable {
    FxTable {
        base: cur("CNY"),
        rates: [(cur("USD"), dec!(7.10))].into_iter().collect(),
    }
}

fn xref(source: &str, key: &str, master: &str) -> XrefRow {
    XrefRow {
        source: source.into(),
        key: key.into(),
        master_id: master.into(),
        rule: "tax_id".into(),
    }
}

fn invoice(customer: &str, date: &str, currency: &str, total: Decimal) -> Invoice {
    Invoice {
        source_key: format!("{customer}/{date}/{total}"),
        customer_key: customer.into(),
        number: None,
        kind: InvoiceKind::Invoice,
        invoice_date: day(date),
        due_date: day(date),
        currency: cur(currency),
        total,
        residual: Decimal::ZERO,
        order_key: None,
        posted: true,
        updated_at: None,
    }
}

fn order(customer: &str, date: &str, status: OrderStatus) -> SalesOrder {
    SalesOrder {
        source_key: format!("{customer}/{date}"),
        customer_key: customer.into(),
        order_date: day(date),
        status,
        currency: cur("CNY"),
        total: dec!(100),
        invoiced_amount: None,
        lines: vec![],
        updated_at: None,
    }
}

fn dealer_stock(source: &str, key: &str) -> DealerInventory {
    DealerInventory {
        source: source.into(),
        dealer_key: key.into(),
        skus: 1,
        on_hand: dec!(12),
        in_transit: dec!(0),
        stock_as_of: None,
        window_days: 28,
        sell_through: dec!(4),
        weekly_sell_through: dec!(1.00),
        weeks_of_cover: Some(dec!(12.00)),
    }
}

/// Two masters: M1 (erp C1 and portal D1), M2 (erp C2); erp C9 has no master.
fn input() -> InsightInput {
    InsightInput {
        masters: vec!["M1".into(), "M2".into(), "M3".into()],
        xrefs: vec![
            xref("erp", "C1", "M1"),
            xref("portal", "D1", "M1"),
            xref("erp", "C2", "M2"),
            xref("erp", "C3", "M3"),
        ],
        dealers: [("portal".to_string(), "D1".to_string())]
            .into_iter()
            .collect(),
        ..InsightInput::default()
    }
}

/// The insights as a sync on 2026-11-22 with the default settings derives them.
fn as_of_sync(input: &InsightInput) -> Vec<CustomerInsight> {
    compute(
        input,
        &fx(),
        &InsightSettings::default(),
        day("2026-11-22"),
        Utc::now(),
    )
    .unwrap()
}

fn by_id(out: &[CustomerInsight]) -> HashMap<&str, &CustomerInsight> {
    out.iter().map(|i| (i.master_id.as_str(), i)).collect()
}

#[test]
fn trailing_revenue_counts_twelve_months_converts_each_invoice_and_subtracts_credit_notes() {
    let mut i = input();
    let mut credit = invoice("C2", "2026-10-01", "CNY", dec!(50));
    credit.kind = InvoiceKind::CreditNote;
    let mut draft = invoice("C2", "2026-10-01", "CNY", dec!(1000));
    draft.posted = false;
    i.invoices = vec![
        ("erp".into(), invoice("C1", "2025-11-23", "CNY", dec!(100))), // first day in
        ("erp".into(), invoice("C1", "2025-11-22", "CNY", dec!(999))), // a day too early
        ("erp".into(), invoice("C1", "2026-11-23", "CNY", dec!(999))), // after the as-of date
        // 10.005 USD × 7.10 = 71.0355 → 71.04, rounded on its own before it is added.
        (
            "erp".into(),
            invoice("C1", "2026-11-22", "USD", dec!(10.005)),
        ),
        ("erp".into(), invoice("C2", "2026-03-01", "CNY", dec!(80))),
        ("erp".into(), credit),
        ("erp".into(), draft),
        ("erp".into(), invoice("C9", "2026-03-01", "CNY", dec!(5000))), // no master
        (
            "portal".into(),
            invoice("C2", "2026-03-01", "CNY", dec!(7000)),
        ), // another source's C2
    ];
    let out = as_of_sync(&i);
    let m = by_id(&out);
    assert_eq!(m["M1"].value.revenue, dec!(171.04));
    assert_eq!(m["M2"].value.revenue, dec!(30));
    assert_eq!(m["M3"].value.revenue, dec!(0));
    let order: Vec<(&str, u32, Tier)> = out
        .iter()
        .map(|c| (c.master_id.as_str(), c.value.rank, c.value.tier))
        .collect();
    // 171.04 of 201.04 is 85.08 %: M1 alone crosses 80 %.
    assert_eq!(
        order,
        [("M1", 1, Tier::A), ("M2", 2, Tier::B), ("M3", 3, Tier::C)]
    );
    assert_eq!(m["M1"].value.cumulative_share_pct, dec!(85.08));
    assert!(out.iter().all(|c| c.currency == cur("CNY")));
}

#[test]
fn a_currency_without_a_rate_is_an_error() {
    let mut i = input();
    i.invoices = vec![("erp".into(), invoice("C1", "2026-11-01", "EUR", dec!(1)))];
    let err = compute(
        &i,
        &fx(),
        &InsightSettings::default(),
        day("2026-11-22"),
        Utc::now(),
    )
    .unwrap_err();
    assert!(
        matches!(err, InsightError::Fx(ExposureError::MissingRate { .. })),
        "{err}"
    );
}

#[test]
fn lifecycle_counts_purchases_of_every_linked_source() {
    let mut i = input();
    i.orders = vec![
        (
            "erp".into(),
            order("C1", "2026-11-20", OrderStatus::Confirmed),
        ),
        ("erp".into(), order("C1", "2026-10-15", OrderStatus::Closed)),
        (
            "erp".into(),
            order("C1", "2026-09-10", OrderStatus::Invoiced),
        ),
        ("erp".into(), order("C2", "2026-11-01", OrderStatus::Draft)),
        (
            "erp".into(),
            order("C2", "2026-11-02", OrderStatus::Cancelled),
        ),
        ("erp".into(), order("C3", "2026-01-02", OrderStatus::Closed)),
    ];
    let as_of = day("2026-11-22");
    let at = Utc::now();
    let out = compute(&i, &fx(), &InsightSettings::default(), as_of, at).unwrap();
    let m = by_id(&out);
    assert_eq!(m["M1"].lifecycle.stage, Stage::Loyal);
    assert_eq!(m["M1"].lifecycle.orders, 3);
    assert_eq!(m["M1"].lifecycle.median_gap_days, Some(dec!(35.5)));
    assert_eq!(
        m["M2"].lifecycle.stage,
        Stage::Prospect,
        "drafts and cancellations"
    );
    assert_eq!(
        m["M3"].lifecycle.stage,
        Stage::Lapsed,
        "324 days after its only order"
    );
    assert!(out.iter().all(|c| c.as_of == as_of && c.computed_at == at));

    // The as-of date is injected: a year earlier, M3 had just ordered for the first time.
    let earlier = compute(
        &i,
        &fx(),
        &InsightSettings::default(),
        day("2026-01-10"),
        at,
    )
    .unwrap();
    assert_eq!(by_id(&earlier)["M3"].lifecycle.stage, Stage::FirstTime);
    assert_eq!(by_id(&earlier)["M1"].lifecycle.stage, Stage::Prospect);
}

#[test]
fn channel_inventory_goes_to_the_master_of_the_dealer_record() {
    let mut i = input();
    i.channel = vec![dealer_stock("portal", "D1"), dealer_stock("portal", "D7")];
    i.dealers.insert(("erp".into(), "C3".into()));
    let out = as_of_sync(&i);
    let m = by_id(&out);
    assert_eq!(m["M1"].channel, vec![dealer_stock("portal", "D1")]);
    assert!(m["M1"].dealer);
    assert!(
        m["M3"].dealer && m["M3"].channel.is_empty(),
        "a dealer without stock data"
    );
    assert!(!m["M2"].dealer && m["M2"].channel.is_empty());
}

#[test]
fn percent_rounds_midpoints_away_from_zero_and_keeps_two_places() {
    assert_eq!(percent(dec!(1), dec!(8)).unwrap().to_string(), "12.50");
    assert_eq!(percent(dec!(1), dec!(800)).unwrap().to_string(), "0.13");
    assert_eq!(percent(dec!(5), dec!(0)).unwrap(), dec!(0));
}
