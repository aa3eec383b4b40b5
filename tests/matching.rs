//! Probabilistic matching end to end: FEBRL dataset 1 deduplicated and linked with the default
//! settings (accuracy, not speed: the speed figures come from `tributary bench febrl`), and the
//! master built by the probabilistic matcher from customers that disagree.

use std::path::Path;

use serde_json::json;
use tributary::bench::febrl;
use tributary::model::Customer;
use tributary::model::MasterState;
use tributary::reconcile::matching::{MatchSettings, Matching};
use tributary::reconcile::reconcile;
use tributary::reconcile::{ProbabilisticMatcher, SourceCustomer, StewardDecision, Survivorship};

fn dataset1() -> Vec<febrl::FebrlRecord> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/febrl/dataset1.csv");
    febrl::read(&path, false).unwrap()
}

#[test]
fn febrl_dataset1_is_deduplicated_with_f1_above_0_99() {
    let mut matching = Matching::new(&MatchSettings::default()).unwrap();
    let report = febrl::run(&[dataset1()], &mut matching, 0);
    assert_eq!((report.records, report.true_pairs), (1000, 500));
    assert!(
        report.candidate_pairs < 5_000,
        "blocking: {}",
        report.candidate_pairs
    );
    assert!(report.blocking_recall > 0.99, "{report:?}");
    assert!(report.clusters.f1 >= 0.99, "{:?}", report.clusters);
    assert!(report.clusters.precision >= 0.99, "{:?}", report.clusters);
    assert!(report.em_converged);
}

#[test]
fn febrl_originals_link_to_their_duplicates() {
    let mut matching = Matching::new(&MatchSettings::default()).unwrap();
    let [org, dup] = febrl::split_originals(dataset1());
    let report = febrl::run(&[org, dup], &mut matching, 3);
    assert_eq!(report.true_pairs, 500);
    assert!(report.clusters.f1 >= 0.99, "{:?}", report.clusters);
    // Mistakes are shown with their explanation when blocking compared them.
    for m in &report.mistakes {
        if let Some(e) = &m.explanation {
            let total: f64 = e.prior + e.steps.iter().map(|s| s.weight).sum::<f64>();
            assert!((total - e.weight).abs() < 1e-9);
        }
    }
}

fn customer(v: serde_json::Value) -> Customer {
    serde_json::from_value(v).unwrap()
}

/// Forty ordinary companies (so that the model has data to learn from), plus the cases.
fn companies() -> Vec<SourceCustomer> {
    let mut out = vec![];
    for i in 0..40 {
        for (source, suffix) in [("erp", " Co., Ltd."), ("crm", " Company Limited")] {
            out.push(SourceCustomer {
                source: source.into(),
                run: 1,
                customer: customer(json!({
                    "source_key": format!("{source}-{i}"),
                    "name": format!("Company{i} Trading{suffix}"),
                    "city": format!("City{}", i % 7),
                    "postal_code": format!("{}", 100000 + i * 37),
                    "address": format!("{} Industrial Road", i * 3 + 1),
                    "country": "CN",
                    "phone": format!("+86 755 8{:03} {:04}", i, 1000 + i),
                })),
            });
        }
    }
    out
}

/// The master rebuilt from `records` with the probabilistic matcher and `decisions`.
fn rebuild(
    existing: &MasterState,
    records: &[SourceCustomer],
    decisions: Vec<StewardDecision>,
) -> (MasterState, ProbabilisticMatcher) {
    let matcher = ProbabilisticMatcher::new(&MatchSettings::default(), decisions).unwrap();
    let state = reconcile(
        existing,
        records,
        &matcher,
        &Survivorship::default(),
        chrono::Utc::now(),
    );
    (state, matcher)
}

/// (master ID, rule) of a source record.
fn xref(state: &MasterState, source: &str, key: &str) -> (String, String) {
    state
        .xrefs
        .iter()
        .find(|x| x.source == source && x.key == key)
        .map(|x| (x.master_id.clone(), x.rule.clone()))
        .unwrap()
}

#[test]
fn the_probabilistic_master_links_variants_and_never_joins_two_valid_tax_ids() {
    let mut records = companies();
    let add = |records: &mut Vec<SourceCustomer>, source: &str, v: serde_json::Value| {
        records.push(SourceCustomer {
            source: source.into(),
            run: 1,
            customer: customer(v),
        })
    };
    // The same legal entity under two names, one with a bracketed city: same valid USCC.
    add(
        &mut records,
        "erp",
        json!({"source_key": "FY1", "name": "深圳市飞跃科技有限公司", "tax_id": "91440300MA5FXXXX1Q".replace("XXXX", "5D8G")}),
    );
    add(
        &mut records,
        "dealer",
        json!({"source_key": "FY2", "name": "飞跃科技(深圳)有限公司", "city": "深圳"}),
    );
    // Same name and address, different valid VAT numbers: two legal entities.
    add(
        &mut records,
        "erp",
        json!({"source_key": "DE1", "name": "Nordlicht GmbH", "tax_id": "DE136695976", "postal_code": "20457", "address": "Hafenstrasse 12", "country": "DE", "phone": "+49 40 555 0100"}),
    );
    add(
        &mut records,
        "crm",
        json!({"source_key": "DE2", "name": "Nordlicht GmbH", "tax_id": "DE811907980", "postal_code": "20457", "address": "Hafenstrasse 12", "country": "DE", "phone": "+49 40 555 0100"}),
    );
    let (state, matcher) = rebuild(&MasterState::default(), &records, vec![]);
    let master_of = |source: &str, key: &str| xref(&state, source, key).0;
    // Each ERP/CRM variant pair is one master.
    for i in [0, 17, 39] {
        assert_eq!(
            master_of("erp", &format!("erp-{i}")),
            master_of("crm", &format!("crm-{i}")),
            "company {i}"
        );
    }
    assert_ne!(master_of("erp", "erp-1"), master_of("erp", "erp-2"));
    assert_ne!(master_of("erp", "DE1"), master_of("crm", "DE2"));
    let reviews = matcher.reviews();
    let de = reviews
        .iter()
        .find(|r| r.left.1.starts_with("DE") && r.right.1.starts_with("DE"));
    let de = de.unwrap_or_else(|| panic!("no review for the VAT conflict: {reviews:?}"));
    let tax = de
        .explanation
        .steps
        .iter()
        .find(|s| s.comparison == "tax_id")
        .unwrap();
    assert_eq!(tax.level, "different valid IDs");
    assert!(tax.weight < -5.0, "{tax:?}");

    // A steward's decisions win: split a linked pair, link two separate records.
    let decisions = vec![
        StewardDecision {
            left: ("erp".into(), "erp-5".into()),
            right: ("crm".into(), "crm-5".into()),
            same: false,
        },
        StewardDecision {
            left: ("erp".into(), "erp-6".into()),
            right: ("erp".into(), "erp-7".into()),
            same: true,
        },
    ];
    let (state, _) = rebuild(&state, &records, decisions);
    let master_of = |source: &str, key: &str| xref(&state, source, key);
    assert_ne!(master_of("erp", "erp-5").0, master_of("crm", "crm-5").0);
    assert_eq!(master_of("erp", "erp-6").0, master_of("erp", "erp-7").0);
    assert_eq!(master_of("erp", "erp-6").1, "steward");
}

#[test]
fn new_records_merged_incrementally_cluster_as_a_full_rebuild_does() {
    use tributary::bench::synth;
    use tributary::reconcile::matching::Constraints;
    use tributary::reconcile::matching::profile::profiles_of;

    let mut matching = Matching::new(&MatchSettings::default()).unwrap();
    let old = synth::generate(3_000, 11, 0);
    let entities = old.iter().map(|r| r.entity).max().unwrap() + 1;
    // New entities, and records of old entities from another source.
    let mut new = synth::generate(200, 12, entities);
    new.extend(synth::generate(200, 11, 0).into_iter().map(|mut r| {
        r.customer.source_key = format!("w-{}", r.customer.source_key);
        r.source = "webshop";
        r
    }));
    let all: Vec<&synth::SynthRecord> = old.iter().chain(new.iter()).collect();
    let profiles = profiles_of(&all, |r| &r.customer, &matching.profile);
    let none = Constraints::default();

    let (outcome, mut inc) = matching.run_keeping(&profiles[..old.len()], &none);
    assert!(outcome.clusters.len() < old.len(), "some records link");
    let (affected, subset) = matching.add(&mut inc, &profiles, old.len(), &none);
    assert!(!subset.pairs.is_empty());
    assert!(
        affected.len() < profiles.len() / 3,
        "{} of {} records clustered again",
        affected.len(),
        profiles.len()
    );
    let incremental = inc.state.clusters();
    let full = matching.recluster(&profiles, &none);
    assert_eq!(incremental.len(), full.len());
    assert_eq!(
        incremental, full,
        "the incremental path and a full re-cluster agree"
    );
    // The webshop copies joined their entities' clusters.
    let cluster_of = |i: usize| incremental.iter().position(|c| c.contains(&i)).unwrap();
    let joined = (old.len() + 200..all.len())
        .filter(|&i| {
            let same_entity = (0..old.len()).find(|&j| all[j].entity == all[i].entity);
            same_entity.is_some_and(|j| cluster_of(j) == cluster_of(i))
        })
        .count();
    assert!(
        joined >= 190,
        "{joined} of 200 webshop records joined their entity"
    );
}
