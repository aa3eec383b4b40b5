//! `tributary bench`: the benchmarks that print their figures (built with the `bench` feature).

use anyhow::{Context, anyhow};
use comfy_table::{Table, presets};

use super::commands::{Failure, Outcome};
use super::output;
use super::{BenchCommand, EXIT_FAILED, EXIT_OK, EXIT_USAGE};
use crate::config::Project;

/// The matching engine of the project's `[reconcile.matching]`.
fn matching_of(project: &Project) -> Result<crate::reconcile::matching::Matching, Failure> {
    crate::reconcile::matching::Matching::new(&project.settings.reconcile.matching).map_err(|e| {
        Failure(
            EXIT_USAGE,
            anyhow!("config/tributary.toml [reconcile.matching]: {e}"),
        )
    })
}

/// Runs one `bench` subcommand.
pub(super) async fn run(project: &Project, command: BenchCommand) -> Outcome {
    match command {
        BenchCommand::Master {
            records,
            new,
            shape,
            show,
            write_priors,
            json,
        } => bench_master(project, records, new, (shape, show, write_priors), json),
        BenchCommand::Rebuild {
            records,
            changes,
            store,
            json,
        } => bench_rebuild(project, records, changes, store, json).await,
        BenchCommand::Febrl {
            files,
            with_ssn,
            split,
            show,
            json,
        } => bench_febrl(project, &files, (with_ssn, split, show), json),
    }
}

fn bench_febrl(
    project: &Project,
    files: &[std::path::PathBuf],
    (with_ssn, split, show): (bool, bool, usize),
    json: bool,
) -> Outcome {
    use crate::bench::febrl;
    let mut matching = matching_of(project)?;
    let mut sets = files
        .iter()
        .map(|f| febrl::read(f, with_ssn).map_err(|e| Failure(EXIT_USAGE, anyhow!(e))))
        .collect::<std::result::Result<Vec<_>, _>>()?;
    if split {
        if sets.len() != 1 {
            return Err(Failure(EXIT_USAGE, anyhow!("--split takes one file")));
        }
        sets = febrl::split_originals(sets.remove(0)).into();
    }
    let report = febrl::run(&sets, &mut matching, show);
    if json {
        output::json(&report)?;
    } else {
        let what = if sets.len() > 1 { "link" } else { "dedupe" };
        println!(
            "FEBRL {what}: {}{}",
            files
                .iter()
                .map(|f| f.display().to_string())
                .collect::<Vec<_>>()
                .join(" + "),
            if with_ssn { " (with soc_sec_id)" } else { "" }
        );
        for (k, v) in febrl::summary(&report) {
            println!("  {:<18} {v}", &k[2..]);
        }
        print_mistakes(&report.mistakes);
    }
    Ok(EXIT_OK)
}

fn print_mistakes(mistakes: &[crate::bench::febrl::Mistake]) {
    for m in mistakes {
        println!("\n{} {} / {}", m.kind, m.records[0], m.records[1]);
        match &m.explanation {
            None => println!("  never compared (no blocking rule put them together)"),
            Some(e) => output::explanation(e),
        }
    }
}

async fn bench_rebuild(
    project: &Project,
    records: usize,
    changes: usize,
    url: Option<String>,
    json: bool,
) -> Outcome {
    let scratch = std::env::temp_dir().join(format!("tributary-bench-{}", std::process::id()));
    let url = match url {
        Some(u) => u,
        None => {
            std::fs::create_dir_all(&scratch)?;
            format!("sqlite://{}", scratch.join("bench.db").display())
        }
    };
    let store = crate::store::Store::connect(&url).await?;
    let r = crate::bench::rebuild::run(project, &store, records, changes).await;
    store.close().await;
    let _ = std::fs::remove_dir_all(&scratch);
    let r = r?;
    if json {
        output::json(&r)?;
        return Ok(EXIT_OK);
    }
    println!(
        "master rebuilt through the store ({}): {} customers staged in {:.1} s",
        if url.starts_with("postgres") {
            "PostgreSQL"
        } else {
            "SQLite"
        },
        r.records,
        r.seconds_stage
    );
    for (what, t) in [
        ("first rebuild", &r.first),
        (
            &format!("after {} changes", r.changes) as &str,
            &r.incremental,
        ),
        ("full re-cluster", &r.recluster),
    ] {
        println!(
            "  {what:<22} {:>7.2} s  {:<13} {} changed, {} clustered again, {} masters",
            t.seconds, t.matched, t.changed, t.reclustered, t.masters
        );
    }
    println!(
        "  re-cluster agrees      {}",
        if r.agree { "yes" } else { "NO" }
    );
    if let Some(mib) = r.peak_rss_mib {
        println!("  peak memory            {mib} MiB");
    }
    Ok(if r.agree { EXIT_OK } else { EXIT_FAILED })
}

fn bench_master(
    project: &Project,
    records: usize,
    new: usize,
    (shape, show, write_priors): (super::Shape, usize, Option<std::path::PathBuf>),
    json: bool,
) -> Outcome {
    use crate::bench::{erp_bench, febrl, scale};
    let mut matching = matching_of(project)?;
    if shape == super::Shape::MultiErp {
        let (r, priors) = erp_bench::run(records, &mut matching, show);
        if let Some(path) = write_priors {
            let text = serde_json::to_string_pretty(&priors)? + "\n";
            std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
        }
        if json {
            output::json(&r)?;
        } else {
            erp_report(&r);
            print_mistakes(&r.mistakes);
        }
        return Ok(EXIT_OK);
    }
    let r = scale::run(records, new, &mut matching);
    if json {
        output::json(&r)?;
        return Ok(EXIT_OK);
    }
    let q = |q: &febrl::Quality| {
        format!(
            "precision {:.4}  recall {:.4}  F1 {:.4}",
            q.precision, q.recall, q.f1
        )
    };
    println!(
        "generated customers: {} records ({:.1} s to generate)",
        r.records, r.seconds_generate
    );
    println!("  true pairs         {}", r.true_pairs);
    println!("  candidate pairs    {}", r.candidate_pairs);
    for (rule, pairs, skipped) in &r.blocking_rules {
        println!("    {rule:<28} {pairs:>10} pairs, {skipped} blocks skipped");
    }
    println!("  clusters           {}", q(&r.quality));
    println!(
        "  review tasks       {} {:?}",
        r.reviews, r.reviews_by_reason
    );
    println!(
        "  seconds            {:.2} profiles + {:.2} match = {:.2}",
        r.seconds_profiles,
        r.seconds_match,
        r.seconds_profiles + r.seconds_match
    );
    println!(
        "  new records        {} matched and merged in {:.3} s ({} records clustered again); afterwards {}",
        r.new_records,
        r.seconds_new,
        r.reclustered_new,
        q(&r.quality_after_new)
    );
    if let Some(mib) = r.peak_rss_mib {
        println!("  peak memory        {mib} MiB");
    }
    Ok(EXIT_OK)
}

/// The multi-ERP benchmark: quality overall and per evidence class.
fn erp_report(r: &crate::bench::erp_bench::ErpReport) {
    let sources: Vec<String> = r
        .per_source
        .iter()
        .map(|(s, n)| format!("{s} {n}"))
        .collect();
    println!(
        "multi-ERP customers: {} records ({})",
        r.records,
        sources.join(", ")
    );
    println!("  true pairs         {}", r.true_pairs);
    println!("  candidate pairs    {}", r.candidate_pairs);
    println!(
        "  clusters           precision {:.4}  recall {:.4}  F1 {:.4}  ({} false positives, {} false negatives)",
        r.quality.precision,
        r.quality.recall,
        r.quality.f1,
        r.quality.false_positives,
        r.quality.false_negatives
    );
    let mut table = Table::new();
    table.load_preset(presets::NOTHING);
    table.set_header([
        "evidence",
        "true pairs",
        "linked",
        "in review",
        "invisible",
        "recall",
    ]);
    for (class, f) in &r.classes {
        let name = serde_json::to_value(class)
            .ok()
            .and_then(|v| v.as_str().map(String::from))
            .unwrap_or_default();
        table.add_row([
            name,
            f.pairs.to_string(),
            f.linked.to_string(),
            f.in_review.to_string(),
            f.invisible.to_string(),
            format!("{:.4}", f.recall),
        ]);
    }
    for line in table.to_string().lines() {
        println!("    {}", line.trim_end());
    }
    println!(
        "  same-name pairs    {} ({} neither linked nor in review)",
        r.same_name_pairs, r.same_name_invisible
    );
    println!(
        "  review tasks       {} ({} between records of one company) {:?}",
        r.reviews, r.reviews_true, r.reviews_by_reason
    );
    println!(
        "  seconds            {:.2} profiles + {:.2} match = {:.2}",
        r.seconds_profiles,
        r.seconds_match,
        r.seconds_profiles + r.seconds_match
    );
    if let Some(mib) = r.peak_rss_mib {
        println!("  peak memory        {mib} MiB");
    }
}
