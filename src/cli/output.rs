//! Printing: tables for people, CSV and JSON for scripts, a progress bar on terminals.

use std::sync::Mutex;
use std::time::Duration;

use comfy_table::{CellAlignment, Table, presets};
use indicatif::{ProgressBar, ProgressStyle};
use rust_decimal::Decimal;
use serde::Serialize;

use crate::channel::DealerInventory;
use crate::exposure::{Exposure, GroupExposure};
use crate::insight::{ChurnStatus, CustomerInsight};
use crate::master::{InsightSummary, MasterSummary};
use crate::reconcile::groups::GroupIssue;
use crate::store::{Counts, QuarantineRow, RunRecord};
use crate::sync::{Progress, RunReport};
use crate::views::{Customer360, CustomerHit, GroupLink, GroupPosition};

/// A spinner per stream on stderr; drawn only when stderr is a terminal.
pub(crate) struct Bars {
    bar: Mutex<Option<ProgressBar>>,
}

impl Bars {
    pub(crate) fn new() -> Self {
        Bars {
            bar: Mutex::new(None),
        }
    }

    /// Removes the bar from the screen.
    pub(crate) fn clear(&self) {
        if let Some(b) = self.bar.lock().expect("progress lock").take() {
            b.finish_and_clear();
        }
    }

    fn show(&self, connector: &str, stream: &str, counts: Counts, done: bool) {
        let mut guard = self.bar.lock().expect("progress lock");
        let bar = guard.get_or_insert_with(|| {
            let b = ProgressBar::new_spinner();
            b.set_style(
                ProgressStyle::with_template("{spinner} {elapsed:>4} {msg}")
                    .unwrap_or_else(|_| ProgressStyle::default_spinner()),
            );
            b.enable_steady_tick(Duration::from_millis(120));
            b
        });
        bar.set_message(format!(
            "{connector}/{stream}: {} fetched, {} staged, {} unchanged, {} quarantined{}",
            counts.fetched,
            counts.staged,
            counts.unchanged,
            counts.quarantined,
            if done { " ✓" } else { "" }
        ));
    }
}

impl Progress for Bars {
    fn stream_started(&self, connector: &str, stream: &str) {
        self.show(connector, stream, Counts::default(), false);
    }
    fn page_committed(&self, connector: &str, stream: &str, counts: Counts) {
        self.show(connector, stream, counts, false);
    }
    fn stream_finished(&self, connector: &str, stream: &str, counts: Counts) {
        self.show(connector, stream, counts, true);
    }
}

fn table(header: &[&str]) -> Table {
    let mut t = Table::new();
    t.load_preset(presets::UTF8_BORDERS_ONLY)
        .set_header(header.to_vec());
    t
}

fn right(t: &mut Table, from: usize) {
    for i in from..t.column_count() {
        if let Some(c) = t.column_mut(i) {
            c.set_cell_alignment(CellAlignment::Right);
        }
    }
}

fn opt(d: Option<Decimal>) -> String {
    d.map(|d| d.to_string()).unwrap_or_else(|| "—".into())
}

/// Pretty JSON on stdout.
pub(crate) fn json<T: Serialize + ?Sized>(value: &T) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}

/// The per-connector summary of a sync.
pub(crate) fn sync_summary(
    reports: &[RunReport],
    master: &MasterSummary,
    insights: &InsightSummary,
) {
    let mut t = table(&[
        "connector",
        "run",
        "status",
        "fetched",
        "staged",
        "unchanged",
        "quarantined",
        "seconds",
    ]);
    for r in reports {
        t.add_row(vec![
            r.connector.clone(),
            r.run.to_string(),
            r.status.as_str().to_string(),
            r.counts.fetched.to_string(),
            r.counts.staged.to_string(),
            r.counts.unchanged.to_string(),
            r.counts.quarantined.to_string(),
            format!("{:.2}", r.elapsed.as_secs_f64()),
        ]);
    }
    right(&mut t, 3);
    println!("{t}");
    for r in reports {
        for s in r.streams.iter().filter(|s| !s.drift.is_empty()) {
            println!("schema drift in {}/{}: {}", r.connector, s.stream, s.drift);
        }
    }
    master_summary(master, insights);
}

/// The lines about the master, its groups and the insights after a rebuild.
pub(crate) fn master_summary(master: &MasterSummary, insights: &InsightSummary) {
    println!(
        "customer master: {} source customers → {} master customers ({} merged this run, {} pairs to review, {} new)",
        master.source_records, master.masters, master.merged, master.reviews, master.new_reviews
    );
    println!(
        "matching: {} ({} records changed, {} clustered again)",
        master.matched.as_str(),
        master.changed,
        master.reclustered
    );
    println!(
        "groups: {} masters with a parent; {} warnings ({} cycles, {} self-references, {} dangling parent keys); {} parents overruled by a more trusted record",
        master.group_links,
        master.group_warnings(),
        master.group_cycles,
        master.group_self_references,
        master.group_dangling,
        master.group_overruled
    );
    let counts = |m: &std::collections::BTreeMap<&str, usize>| {
        m.iter()
            .map(|(k, n)| format!("{n} {}", k.replace('_', "-")))
            .collect::<Vec<_>>()
            .join(", ")
    };
    if let Some(as_of) = insights.as_of {
        println!(
            "customer insights as of {as_of}: value tiers {}; lifecycle {}; {} churn warning{}",
            counts(&insights.tiers),
            counts(&insights.stages),
            insights.at_risk,
            if insights.at_risk == 1 { "" } else { "s" }
        );
    }
}

/// Exposure rows as a table.
pub(crate) fn exposure_table(rows: &[Exposure]) {
    exposure_grid(rows.iter().map(|e| (e, None)));
}

/// Group heads with their rolled-up exposure, as a table.
pub(crate) fn group_table(rows: &[GroupExposure]) {
    exposure_grid(rows.iter().map(|g| (&g.total, Some(g.members.len()))));
}

/// Column titles of [`figures`].
const FIGURES: [&str; 7] = [
    "limit",
    "receivables",
    "open orders",
    "unapplied",
    "exposure",
    "available",
    "util %",
];

/// Limit, receivables, open orders, unapplied, exposure, available and utilisation of `e`.
fn figures(e: &Exposure) -> [String; 7] {
    [
        opt(e.credit_limit),
        e.open_receivables.to_string(),
        e.open_orders.to_string(),
        e.unapplied_payments.to_string(),
        e.exposure.to_string(),
        opt(e.available),
        opt(e.utilization_pct),
    ]
}

/// Names of the stale sources of `e`.
fn stale_sources(e: &Exposure) -> Vec<&str> {
    e.sources
        .iter()
        .filter(|s| s.stale)
        .map(|s| s.source.as_str())
        .collect()
}

/// The exposure table; a `members` column when the rows carry a member count.
fn exposure_grid<'a>(rows: impl Iterator<Item = (&'a Exposure, Option<usize>)>) {
    let rows: Vec<_> = rows.collect();
    let groups = rows.iter().any(|(_, n)| n.is_some());
    let mut header = vec!["master", "name"];
    if groups {
        header.push("members");
    }
    header.extend(FIGURES);
    header.extend([">90 days", "stale"]);
    let mut t = table(&header);
    for (e, members) in rows {
        let mut row = vec![e.master_id.clone(), e.name.clone()];
        row.extend(members.map(|n| n.to_string()));
        row.extend(figures(e));
        row.extend([e.aging.over_90.to_string(), stale_sources(e).join(",")]);
        t.add_row(row);
    }
    right(&mut t, 2);
    println!("{t}");
}

/// Exposure rows as CSV on stdout.
pub(crate) fn exposure_csv(rows: &[Exposure]) -> anyhow::Result<()> {
    exposure_csv_of(rows.iter().map(|e| (e, None)))
}

/// Group heads with their rolled-up exposure as CSV on stdout (with a `members` column).
pub(crate) fn group_csv(rows: &[GroupExposure]) -> anyhow::Result<()> {
    exposure_csv_of(rows.iter().map(|g| (&g.total, Some(g.members.len()))))
}

fn exposure_csv_of<'a>(
    rows: impl Iterator<Item = (&'a Exposure, Option<usize>)>,
) -> anyhow::Result<()> {
    Ok(crate::views::report::write_csv(std::io::stdout(), rows)?)
}

/// One customer's exposure, as a list.
pub(crate) fn exposure_detail(e: &Exposure) {
    println!("{}  {}  (amounts in {})", e.master_id, e.name, e.currency);
    let mut t = table(&["", "amount"]);
    let a = &e.aging;
    for (label, value) in [
        ("credit limit", opt(e.credit_limit)),
        ("open receivables", e.open_receivables.to_string()),
        ("  not due", a.not_due.to_string()),
        ("  1–30 days overdue", a.d1_30.to_string()),
        ("  31–60 days overdue", a.d31_60.to_string()),
        ("  61–90 days overdue", a.d61_90.to_string()),
        ("  over 90 days overdue", a.over_90.to_string()),
        ("open orders", e.open_orders.to_string()),
        ("unapplied payments", format!("−{}", e.unapplied_payments)),
        ("exposure", e.exposure.to_string()),
        ("available", opt(e.available)),
        ("utilisation %", opt(e.utilization_pct)),
    ] {
        t.add_row(vec![label.to_string(), value]);
    }
    right(&mut t, 1);
    println!("{t}");
    sources(e);
}

/// A group's exposure: the rolled-up figures against the head's limit, then every member with
/// its own figures.
pub(crate) fn group_detail(g: &GroupExposure) {
    println!(
        "group of {} members; the group line uses the limit of {}",
        g.members.len(),
        g.total.master_id
    );
    exposure_detail(&g.total);
    println!();
    let mut header = vec!["member", "name", "parent"];
    header.extend(FIGURES);
    header.push("stale");
    let mut t = table(&header);
    for m in &g.members {
        let e = &m.exposure;
        let mut row = vec![
            format!("{}{}", "  ".repeat(m.depth), e.master_id),
            e.name.clone(),
            m.parent_id.clone().unwrap_or_default(),
        ];
        row.extend(figures(e));
        row.push(stale_sources(e).join(","));
        t.add_row(row);
    }
    right(&mut t, 3);
    println!("{t}");
}

/// The parent references a rebuild could not use, one line each (at most `limit`).
pub(crate) fn group_issues(issues: &[GroupIssue], limit: usize) {
    for i in issues.iter().take(limit) {
        println!("warning: group {}: {}", i.kind.as_str(), i.detail);
    }
    if issues.len() > limit {
        println!("… and {} more group warnings", issues.len() - limit);
    }
}

fn sources(e: &Exposure) {
    for s in &e.sources {
        let when = s
            .last_synced_at
            .map(|t| t.to_rfc3339())
            .unwrap_or_else(|| "never".into());
        println!(
            "source {:<16} last synced {when}{}",
            s.source,
            if s.stale { "  ⚠ STALE" } else { "" }
        );
    }
}

/// Customer search hits.
pub(crate) fn customers(hits: &[CustomerHit]) {
    let mut t = table(&[
        "master",
        "name",
        "tax id",
        "city",
        "country",
        "source records",
    ]);
    for h in hits {
        t.add_row(vec![
            h.master_id.clone(),
            h.name.clone(),
            h.tax_id.clone().unwrap_or_default(),
            h.city.clone().unwrap_or_default(),
            h.country.clone().unwrap_or_default(),
            h.sources.join(" "),
        ]);
    }
    println!("{t}");
    println!(
        "{} customer{}",
        hits.len(),
        if hits.len() == 1 { "" } else { "s" }
    );
}

/// The customer 360.
pub(crate) fn customer(c: &Customer360) {
    if let Some(alias) = &c.alias_of {
        println!("{alias} was merged into {}", c.master_id);
    }
    println!("master {}", c.master_id);
    let mut t = table(&["field", "value", "from source", "key", "run"]);
    if let Some(fields) = c.golden.as_object() {
        for (field, value) in fields {
            let lin = &c.lineage[field];
            let text = |v: &serde_json::Value| match v {
                serde_json::Value::String(s) => s.clone(),
                serde_json::Value::Null => String::new(),
                other => other.to_string(),
            };
            t.add_row(vec![
                field.clone(),
                text(value),
                text(&lin["source"]),
                text(&lin["key"]),
                text(&lin["run"]),
            ]);
        }
    }
    println!("{t}");
    println!("linked source records:");
    for r in &c.records {
        let name = r
            .record
            .as_ref()
            .and_then(|v| v["name"].as_str())
            .unwrap_or("");
        println!("  {}:{}  {name}  (linked by {})", r.source, r.key, r.rule);
    }
    group_position(&c.group, &c.master_id);
    if let Some(e) = &c.exposure {
        println!();
        exposure_detail(e);
    }
    println!();
    match &c.insight {
        Some(i) => insight(i),
        None => println!("no customer insights yet: run `tributary sync` to derive them"),
    }
}

/// Parent, children and head of a customer's group, and parent references that gave no edge.
fn group_position(g: &GroupPosition, id: &str) {
    let line = |l: &GroupLink| {
        format!(
            "{}  {}  ({}:{} names parent {})",
            l.master_id, l.name, l.source, l.key, l.parent_key
        )
    };
    match &g.parent {
        Some(p) => println!("parent: {}", line(p)),
        None => println!("parent: none"),
    }
    if let Some(head) = g.head.as_deref().filter(|h| *h != id) {
        println!("group head: {head}");
    }
    if g.children.is_empty() {
        println!("children: none");
    } else {
        println!("children ({}):", g.children.len());
        for c in &g.children {
            println!("  {}", line(c));
        }
    }
    group_issues(&g.issues, usize::MAX);
}

/// Value tier, lifecycle, churn warning and channel inventory of one customer.
fn insight(i: &CustomerInsight) {
    let v = &i.value;
    let top = if v.top_20_pct {
        "★ TOP 20 % of customers"
    } else {
        "not in the top 20 % of customers"
    };
    println!(
        "value tier {} — {top}  (trailing 12 months to {}, {})",
        v.tier.as_str(),
        i.as_of,
        i.currency
    );
    println!(
        "  rank {} of {} · revenue {} · {} % of all revenue · cumulative {} %",
        v.rank, v.customers, v.revenue, v.revenue_share_pct, v.cumulative_share_pct
    );
    let l = &i.lifecycle;
    let mut line = format!("lifecycle {}", l.stage.as_str().replace('_', "-"));
    if let (Some(first), Some(last), Some(days)) =
        (l.first_order, l.last_order, l.days_since_last_order)
    {
        line.push_str(&format!(
            " — {} orders on {} days, first {first}, last {last} ({days} days ago)",
            l.orders, l.order_days
        ));
    } else {
        line.push_str(" — no order yet");
    }
    if let Some(gap) = l.median_gap_days {
        line.push_str(&format!("; median gap {} days", gap.normalize()));
    }
    println!(
        "{line}; ordered in {} of the recent loyalty periods",
        l.active_periods
    );
    let flag = match l.churn.status {
        ChurnStatus::AtRisk => "⚠ CHURN WARNING",
        ChurnStatus::Ok => "churn: ok",
        ChurnStatus::NoHistory => "churn: not enough history",
    };
    println!("{flag} — {}", l.churn.reason);
    if i.dealer {
        if i.channel.is_empty() {
            println!("channel inventory: no stock or sell-through reported by its dealer records");
        } else {
            println!("channel inventory (as of {}):", i.as_of);
            channel_rows(&i.channel);
        }
    }
}

/// Run history.
pub(crate) fn runs(runs: &[RunRecord]) {
    let mut t = table(&[
        "run",
        "connector",
        "started",
        "status",
        "fetched",
        "staged",
        "unchanged",
        "quarantined",
        "error",
    ]);
    for r in runs {
        t.add_row(vec![
            r.id.to_string(),
            r.connector.clone(),
            r.started_at.format("%Y-%m-%d %H:%M:%S").to_string(),
            r.status.as_str().to_string(),
            r.counts.fetched.to_string(),
            r.counts.staged.to_string(),
            r.counts.unchanged.to_string(),
            r.counts.quarantined.to_string(),
            r.error.clone().unwrap_or_default(),
        ]);
    }
    println!("{t}");
}

/// Channel inventory per dealer.
pub(crate) fn channel(rows: &[DealerInventory], today: chrono::NaiveDate) {
    channel_rows(rows);
    println!("{} dealers; sell-through up to {today}", rows.len());
}

fn channel_rows(rows: &[DealerInventory]) {
    let days = rows.first().map_or(0, |d| d.window_days);
    let sold = format!("sold {days}d");
    let mut t = table(&[
        "source",
        "dealer",
        "skus",
        "on hand",
        "in transit",
        &sold,
        "per week",
        "weeks of cover",
    ]);
    for d in rows {
        t.add_row(vec![
            d.source.clone(),
            d.dealer_key.clone(),
            d.skus.to_string(),
            d.on_hand.normalize().to_string(),
            d.in_transit.normalize().to_string(),
            d.sell_through.normalize().to_string(),
            d.weekly_sell_through.to_string(),
            d.weeks_of_cover.map_or("—".to_string(), |w| w.to_string()),
        ]);
    }
    right(&mut t, 2);
    println!("{t}");
}

/// Quarantined records.
pub(crate) fn quarantine(rows: &[QuarantineRow]) {
    let mut t = table(&["id", "run", "connector", "stream", "key", "where", "reason"]);
    for q in rows {
        t.add_row(vec![
            q.id.to_string(),
            q.run.to_string(),
            q.connector.clone(),
            q.stream.clone(),
            q.key.clone(),
            q.locator.clone(),
            q.reason.clone(),
        ]);
    }
    println!("{t}");
    println!("{} quarantined records", rows.len());
}

/// Webhook inbox events as a table (bodies only in `--json`).
pub(crate) fn inbox(rows: &[crate::store::InboxEvent]) {
    let mut t = table(&[
        "id",
        "connector",
        "stream",
        "event",
        "received",
        "status",
        "attempts",
        "run",
        "error",
    ]);
    for e in rows {
        t.add_row(vec![
            e.id.to_string(),
            e.connector.clone(),
            e.stream.clone(),
            e.idempotency_key.clone(),
            e.received_at.format("%Y-%m-%d %H:%M:%S").to_string(),
            e.status.as_str().to_string(),
            e.attempts.to_string(),
            e.run.map(|r| r.to_string()).unwrap_or_default(),
            e.error.clone().unwrap_or_default(),
        ]);
    }
    println!("{t}");
    println!("{} events", rows.len());
}

/// A match explanation as a waterfall: prior, each comparison, total.
pub(crate) fn explanation(e: &crate::reconcile::matching::Explanation) {
    println!("  {:<14} {:>+8.2}", "prior", e.prior);
    for s in &e.steps {
        println!(
            "  {:<14} {:>+8.2}  {:<28} {} | {}",
            s.comparison,
            s.weight,
            s.level,
            s.left.as_deref().unwrap_or("∅"),
            s.right.as_deref().unwrap_or("∅")
        );
    }
    println!(
        "  {:<14} {:>+8.2}  probability {:.4}",
        "total", e.weight, e.probability
    );
}

/// The review queue, with the exposure each task puts at stake.
pub(crate) fn reviews(tasks: &[crate::views::ReviewTask]) {
    if tasks.is_empty() {
        println!("no reviews");
        return;
    }
    let mut t = table(&[
        "review",
        "at stake",
        "probability",
        "reason",
        "left",
        "right",
        "status",
    ]);
    for task in tasks {
        let r = &task.review;
        t.add_row(vec![
            r.id.to_string(),
            crate::model::Money::new(task.at_stake, task.currency).to_string(),
            r.probability.to_string(),
            r.reason.clone(),
            format!("{}:{}", r.left.0, r.left.1),
            format!("{}:{}", r.right.0, r.right.1),
            r.status.as_str().to_string(),
        ]);
    }
    for i in 1..=2 {
        if let Some(c) = t.column_mut(i) {
            c.set_cell_alignment(CellAlignment::Right);
        }
    }
    println!("{t}");
}

/// One review with its explanation.
pub(crate) fn review(r: &crate::store::steward::Review) {
    println!(
        "review {} ({}): {}:{} ~ {}:{}",
        r.id,
        r.status.as_str(),
        r.left.0,
        r.left.1,
        r.right.0,
        r.right.1
    );
    println!(
        "probability {}, {}",
        r.probability,
        r.reason.replace('_', " ")
    );
    match serde_json::from_value::<crate::reconcile::matching::Explanation>(r.explanation.clone()) {
        Ok(e) => explanation(&e),
        Err(_) => println!("{}", r.explanation),
    }
}

/// What a steward action did.
pub(crate) fn steward_done(what: &str, done: &crate::master::steward::Done) {
    println!("{what} (action {})", done.decision);
    for (source, key, master) in &done.records {
        println!("  {source}:{key} → {master}");
    }
    println!(
        "customer master: {} master customers, {} pairs to review",
        done.master.masters, done.master.reviews
    );
}

/// A master's steward history.
pub(crate) fn history(decisions: &[crate::store::steward::Decision]) {
    if decisions.is_empty() {
        println!("no steward actions");
        return;
    }
    for d in decisions {
        let (id, created_at, d2) = (d.id, d.created_at, d);
        let d = &d2.what;
        let pairs: Vec<String> = d
            .pairs
            .iter()
            .map(|(a, b)| {
                format!(
                    "{}:{} {} {}:{}",
                    a.0,
                    a.1,
                    if d.same { "=" } else { "≠" },
                    b.0,
                    b.1
                )
            })
            .collect();
        println!(
            "#{} {} {} by {} — {} [{}]",
            id,
            created_at.format("%Y-%m-%d %H:%M:%S UTC"),
            d.action,
            d.actor,
            d.reason,
            pairs.join("; ")
        );
        if let Some(at) = d2.undone_at {
            println!(
                "    undone {} by {} — {}",
                at.format("%Y-%m-%d %H:%M:%S UTC"),
                d2.undone_by.as_deref().unwrap_or("?"),
                d2.undo_reason.as_deref().unwrap_or("")
            );
        }
    }
}
