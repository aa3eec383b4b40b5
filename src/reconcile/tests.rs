use chrono::{DateTime, TimeZone, Utc};
use serde_json::json;

use super::normalize::{normalize_country, normalize_name, normalize_postcode, to_half_width};
use super::taxid::{self, TaxIdError, TaxIdKind, uscc_check_char};
use super::*;
use crate::model::{MasterRow, MasterState, XrefRow};

const FEIYUE: &str = "91350100M000100Y43";

fn rec(source: &str, key: &str, fields: serde_json::Value) -> SourceCustomer {
    let mut v = json!({"source_key": key, "name": format!("Customer {key}")});
    for (k, x) in fields.as_object().unwrap() {
        v[k] = x.clone();
    }
    SourceCustomer {
        source: source.to_string(),
        run: 1,
        customer: serde_json::from_value(v).unwrap(),
    }
}

fn t(day: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, day, 12, 0, 0).unwrap()
}

fn run(existing: &MasterState, recs: &[SourceCustomer], day: u32) -> MasterState {
    let rules = Survivorship {
        source_priority: vec!["erp".into()],
    };
    reconcile(existing, recs, &DeterministicMatcher, &rules, t(day))
}

fn master_of<'a>(s: &'a MasterState, source: &str, key: &str) -> &'a str {
    &s.xrefs
        .iter()
        .find(|x| x.source == source && x.key == key)
        .unwrap()
        .master_id
}

fn xref_rule<'a>(s: &'a MasterState, source: &str, key: &str) -> &'a str {
    &s.xrefs
        .iter()
        .find(|x| x.source == source && x.key == key)
        .unwrap()
        .rule
}

// ---- tax IDs ----

#[test]
fn uscc_check_characters_are_computed() {
    assert_eq!(uscc_check_char("91350100M000100Y4"), Some('3'));
    assert_eq!(uscc_check_char("91110000600037341"), Some('L'));
    assert_eq!(uscc_check_char("91440300MA5DC4XX1"), Some('H'));
    assert_eq!(uscc_check_char("91320000130000024"), Some('0'));
    assert_eq!(uscc_check_char("9132000013000002"), None, "16 characters");
    assert_eq!(
        uscc_check_char("9132000013000002I"),
        None,
        "I is not in the alphabet"
    );
}

#[test]
fn valid_usccs_are_accepted_in_any_spelling() {
    for raw in [
        FEIYUE,
        "91350100m000100y43",
        "9135 0100 M000 100Y 43",
        "91350100-M000100Y43",
        "９１３５０１００Ｍ０００１００Ｙ４３",
    ] {
        let id = taxid::parse(raw).unwrap();
        assert_eq!(id.kind, TaxIdKind::Uscc, "{raw}");
        assert_eq!(id.value, FEIYUE, "{raw}");
    }
    assert!(taxid::parse("91110000600037341L").is_ok());
    assert!(taxid::parse("91440300MA5DC4XX1H").is_ok());
    assert!(taxid::parse("913200001300000240").is_ok());
}

#[test]
fn usccs_with_a_wrong_check_character_are_rejected() {
    assert_eq!(
        taxid::parse("91110000600037341M"),
        Err(TaxIdError::UsccCheck {
            value: "91110000600037341M".into(),
            expected: 'L'
        })
    );
    // One transposed character in the body changes the check.
    assert!(taxid::parse("91350100M000010Y43").is_err());
    // Letters outside the alphabet make it no USCC at all.
    assert!(matches!(
        taxid::parse("91350100M000100Y4O"),
        Err(TaxIdError::Unrecognised(_))
    ));
}

#[test]
fn eu_vat_numbers_are_checked_by_country_format() {
    let ok = |raw: &str, value: &str| {
        let id = taxid::parse(raw).unwrap();
        assert_eq!(
            (id.kind, id.value.as_str()),
            (TaxIdKind::EuVat, value),
            "{raw}"
        );
    };
    ok("DE 123 456 789", "DE123456789");
    ok("fr40303265045", "FR40303265045");
    ok("NL123456789B01", "NL123456789B01");
    ok("ATU12345678", "ATU12345678");
    ok("ESX1234567X", "ESX1234567X");
    ok("GR123456789", "EL123456789");
    assert!(taxid::parse("DE12345678").is_err(), "DE needs nine digits");
    assert!(taxid::parse("AT12345678").is_err(), "AT needs the U");
    assert!(taxid::parse("NL123456789A01").is_err());
    assert!(taxid::parse("ZZ123456789").is_err(), "no such prefix");
}

#[test]
fn eins_are_checked_by_format_and_prefix() {
    let id = taxid::parse("12-3456789").unwrap();
    assert_eq!(
        (id.kind, id.value.as_str()),
        (TaxIdKind::UsEin, "12-3456789")
    );
    assert_eq!(taxid::parse("123456789").unwrap().value, "12-3456789");
    assert_eq!(
        taxid::parse("07-1234567"),
        Err(TaxIdError::EinPrefix("071234567".into()))
    );
    assert!(taxid::parse("00-1234567").is_err());
    assert!(taxid::parse("12-345678").is_err(), "eight digits");
    assert_eq!(taxid::parse("  - "), Err(TaxIdError::Empty));
}

// ---- normalisation ----

#[test]
fn names_lose_case_punctuation_and_legal_suffixes() {
    let n = normalize_name("Feiyue Technology Co.,  Ltd.");
    assert_eq!(n, "feiyuetechnology");
    assert_eq!(normalize_name("FEIYUE TECHNOLOGY LIMITED"), n);
    assert_eq!(normalize_name("Feiyue Technology Company"), n);
    assert_eq!(normalize_name("Acme GmbH"), "acme");
    assert_eq!(normalize_name("ACME, Inc."), "acme");
    assert_eq!(normalize_name("Acme Corp"), "acme");
    assert_eq!(normalize_name("Acme LLC"), "acme");
    assert_eq!(normalize_name("Dupont S.A."), "dupont");
    assert_eq!(normalize_name("Dupont SARL"), "dupont");
    assert_eq!(normalize_name("Van Dijk B.V."), "vandijk");
    assert_eq!(normalize_name("Müller AG"), "müller");
    assert_eq!(
        normalize_name("Company Ltd"),
        "company",
        "a name is never emptied"
    );
}

#[test]
fn full_width_and_chinese_names_are_normalised() {
    assert_eq!(to_half_width("ＡＢＣ（１２３）　x"), "ABC(123) x");
    assert_eq!(normalize_name("ＡＣＭＥ　ＧＭＢＨ"), "acme");
    // Bracketed segments (a place, as here) are dropped, half- or full-width.
    assert_eq!(normalize_name("飞跃科技(深圳)有限公司"), "飞跃科技");
    assert_eq!(normalize_name("飞跃科技（深圳）有限公司"), "飞跃科技");
    assert_eq!(normalize_name("飞跃科技股份有限公司"), "飞跃科技");
    assert_eq!(normalize_name("飞跃科技有限责任公司"), "飞跃科技");
    assert_eq!(normalize_name("海尔集团公司"), "海尔集团", "集团 is kept");
    assert_ne!(normalize_name("海尔集团"), normalize_name("海尔"));
    assert_eq!(normalize_name("有限公司"), "有限公司");
}

#[test]
fn postcodes_and_countries_are_normalised() {
    assert_eq!(normalize_postcode(" sw1a 1aa "), Some("SW1A1AA".into()));
    assert_eq!(normalize_postcode("５１８０００"), Some("518000".into()));
    assert_eq!(normalize_postcode("  "), None);
    assert_eq!(normalize_country("cn"), Some("CN".into()));
    assert_eq!(normalize_country("China"), Some("CN".into()));
    assert_eq!(normalize_country("中国"), Some("CN".into()));
    assert_eq!(
        normalize_country("People's Republic of China"),
        Some("CN".into())
    );
    assert_eq!(normalize_country("United  States"), Some("US".into()));
    assert_eq!(normalize_country("Atlantis"), None);
    assert_eq!(normalize_country(""), None);
}

// ---- matching and clustering ----

#[test]
fn same_valid_tax_id_links_across_spellings() {
    let recs = [
        rec("erp", "C1", json!({"tax_id": FEIYUE})),
        rec("dealers", "D9", json!({"tax_id": FEIYUE.to_lowercase()})),
        rec("crm", "X", json!({"tax_id": "91110000600037341L"})),
    ];
    let links = DeterministicMatcher.links(&recs);
    assert_eq!(links.len(), 1);
    assert_eq!(links[0].rule, "tax_id");
    assert_eq!((links[0].a, links[0].b), (0, 1));
}

#[test]
fn invalid_tax_ids_do_not_link() {
    let recs = [
        rec("erp", "A", json!({"tax_id": "91110000600037341M"})),
        rec("crm", "B", json!({"tax_id": "91110000600037341M"})),
    ];
    assert!(DeterministicMatcher.links(&recs).is_empty());
}

#[test]
fn name_postcode_country_links_only_when_all_present() {
    let recs = [
        rec(
            "erp",
            "A",
            json!({"name": "Acme GmbH", "postal_code": "10115", "country": "DE"}),
        ),
        rec(
            "crm",
            "B",
            json!({"name": "ACME", "postal_code": " 10115", "country": "Germany"}),
        ),
        rec(
            "crm",
            "C",
            json!({"name": "Acme GmbH", "postal_code": "10115"}),
        ),
        rec(
            "crm",
            "D",
            json!({"name": "Acme GmbH", "postal_code": "10117", "country": "DE"}),
        ),
    ];
    let links = DeterministicMatcher.links(&recs);
    assert_eq!(
        links,
        vec![Link {
            a: 0,
            b: 1,
            rule: "name_postcode"
        }]
    );
}

#[test]
fn same_name_with_different_valid_tax_ids_does_not_link() {
    let base = json!({"name": "Feiyue Ltd", "postal_code": "518000", "country": "CN"});
    let with = |id: &str| {
        let mut v = base.clone();
        v["tax_id"] = json!(id);
        v
    };
    let recs = [
        rec("erp", "A", with(FEIYUE)),
        rec("erp", "B", with("91110000600037341L")),
        rec("crm", "C", base.clone()),
        rec("crm", "D", base.clone()),
    ];
    let links = DeterministicMatcher.links(&recs);
    assert_eq!(
        links,
        vec![Link {
            a: 2,
            b: 3,
            rule: "name_postcode"
        }]
    );
}

#[test]
fn clustering_is_transitive() {
    let c = cluster::clusters(6, [(0, 3), (3, 5), (4, 1)]);
    assert_eq!(c, vec![vec![0, 3, 5], vec![1, 4], vec![2]]);
    // a–b by tax ID, b–c by name: one master.
    let recs = [
        rec("erp", "A", json!({"tax_id": FEIYUE})),
        rec(
            "crm",
            "B",
            json!({"tax_id": FEIYUE, "name": "Feiyue", "postal_code": "518000", "country": "CN"}),
        ),
        rec(
            "shop",
            "C",
            json!({"name": "FEIYUE CO LTD", "postal_code": "518000", "country": "China"}),
        ),
    ];
    let s = run(&MasterState::default(), &recs, 1);
    assert_eq!(s.masters.len(), 1);
    assert_eq!(xref_rule(&s, "erp", "A"), "tax_id");
    assert_eq!(xref_rule(&s, "crm", "B"), "tax_id");
    assert_eq!(xref_rule(&s, "shop", "C"), "name_postcode");
}

// ---- master IDs ----

#[test]
fn new_master_ids_are_stable_and_derived_from_the_smallest_member() {
    let recs = vec![
        rec("erp", "C1", json!({"tax_id": FEIYUE})),
        rec("dealers", "D9", json!({"tax_id": FEIYUE})),
        rec("erp", "C2", json!({})),
    ];
    let first = run(&MasterState::default(), &recs, 1);
    assert_eq!(first.masters.len(), 2);
    let id = master_of(&first, "erp", "C1");
    assert_eq!(id, master_id_for("dealers", "D9", 0));
    assert_eq!(id.len(), 14);
    assert!(id.starts_with("M-"));
    assert_eq!(xref_rule(&first, "erp", "C2"), RULE_SINGLETON);

    // From scratch, in another order: the same IDs.
    let mut reversed = recs.clone();
    reversed.reverse();
    let again = run(&MasterState::default(), &reversed, 2);
    assert_eq!(
        again
            .masters
            .iter()
            .map(|m| &m.master_id)
            .collect::<Vec<_>>(),
        first
            .masters
            .iter()
            .map(|m| &m.master_id)
            .collect::<Vec<_>>()
    );
}

#[test]
fn second_reconcile_changes_nothing() {
    let recs = vec![
        rec("erp", "C1", json!({"tax_id": FEIYUE})),
        rec("dealers", "D9", json!({"tax_id": FEIYUE})),
    ];
    let first = run(&MasterState::default(), &recs, 1);
    let second = run(&first, &recs, 5);
    assert_eq!(first, second, "same IDs, created_at and updated_at");
}

#[test]
fn a_new_record_joins_the_existing_master_and_updates_it() {
    let c1 = rec("erp", "C1", json!({"tax_id": FEIYUE, "name": "Feiyue"}));
    let first = run(&MasterState::default(), std::slice::from_ref(&c1), 1);
    let id = first.masters[0].master_id.clone();
    // "aaa" sorts before "erp": a fresh hash would differ, the existing ID must stay.
    let recs = vec![
        c1,
        rec("aaa", "Z", json!({"tax_id": FEIYUE, "city": "Shenzhen"})),
    ];
    let second = run(&first, &recs, 3);
    assert_eq!(second.masters.len(), 1);
    let m = &second.masters[0];
    assert_eq!(m.master_id, id);
    assert_eq!(m.created_at, t(1));
    assert_eq!(m.updated_at, t(3));
    assert_eq!(m.golden["city"], "Shenzhen");
}

#[test]
fn merging_two_existing_masters_aliases_the_younger_to_the_older() {
    let a = rec("erp", "A", json!({"name": "Feiyue"}));
    let b = rec("crm", "B", json!({"name": "Feiyue Tech"}));
    let s1 = run(&MasterState::default(), std::slice::from_ref(&a), 1);
    let s2 = run(&s1, &[a.clone(), b.clone()], 2);
    let old = master_of(&s2, "erp", "A").to_string();
    let young = master_of(&s2, "crm", "B").to_string();
    assert_ne!(old, young);
    // Both get the same tax ID: one customer.
    let a2 = rec("erp", "A", json!({"name": "Feiyue", "tax_id": FEIYUE}));
    let b2 = rec("crm", "B", json!({"name": "Feiyue Tech", "tax_id": FEIYUE}));
    let s3 = run(&s2, &[a2, b2], 3);
    assert_eq!(s3.masters.len(), 1);
    assert_eq!(s3.masters[0].master_id, old);
    assert_eq!(s3.masters[0].created_at, t(1));
    assert_eq!(s3.aliases, vec![(young.clone(), old.clone())]);
    assert!(s3.xrefs.iter().all(|x| x.master_id == old));
}

#[test]
fn existing_aliases_are_repointed_without_chains() {
    let prior = MasterState {
        masters: vec![
            MasterRow {
                master_id: "M-old".into(),
                golden: json!({}),
                lineage: json!({}),
                created_at: t(1),
                updated_at: t(1),
            },
            MasterRow {
                master_id: "M-mid".into(),
                golden: json!({}),
                lineage: json!({}),
                created_at: t(2),
                updated_at: t(2),
            },
        ],
        xrefs: vec![
            XrefRow {
                source: "erp".into(),
                key: "A".into(),
                master_id: "M-old".into(),
                rule: "singleton".into(),
            },
            XrefRow {
                source: "crm".into(),
                key: "B".into(),
                master_id: "M-mid".into(),
                rule: "singleton".into(),
            },
        ],
        aliases: vec![("M-ancient".into(), "M-mid".into())],
    };
    let recs = [
        rec("erp", "A", json!({"tax_id": FEIYUE})),
        rec("crm", "B", json!({"tax_id": FEIYUE})),
    ];
    let s = run(&prior, &recs, 3);
    assert_eq!(s.masters.len(), 1);
    assert_eq!(s.masters[0].master_id, "M-old");
    assert_eq!(
        s.aliases,
        vec![
            ("M-ancient".to_string(), "M-old".to_string()),
            ("M-mid".to_string(), "M-old".to_string())
        ]
    );
}

#[test]
fn a_split_keeps_the_id_for_one_part_and_never_reuses_it() {
    let a = rec("erp", "A", json!({"tax_id": FEIYUE}));
    let b = rec("erp", "B", json!({"tax_id": FEIYUE}));
    let s1 = run(&MasterState::default(), &[a.clone(), b], 1);
    let id = s1.masters[0].master_id.clone();
    let b2 = rec("erp", "B", json!({"tax_id": "91110000600037341L"}));
    let s2 = run(&s1, &[a, b2], 2);
    assert_eq!(s2.masters.len(), 2);
    assert_eq!(master_of(&s2, "erp", "A"), id);
    let other = master_of(&s2, "erp", "B");
    assert_ne!(other, id);
    assert_eq!(other, master_id_for("erp", "B", 0));
}

#[test]
fn masters_whose_records_vanished_are_kept() {
    let s1 = run(&MasterState::default(), &[rec("erp", "A", json!({}))], 1);
    let s2 = run(&s1, &[rec("erp", "B", json!({}))], 2);
    assert_eq!(s2.masters.len(), 2);
    assert!(s2.masters.contains(&s1.masters[0]));
    assert_eq!(master_of(&s2, "erp", "A"), s1.masters[0].master_id);
}

// ---- survivorship ----

#[test]
fn survivorship_prefers_priority_then_recency_then_non_empty() {
    let recs = [
        rec(
            "crm",
            "X",
            json!({"tax_id": FEIYUE, "name": "CRM name", "city": "Xiamen",
            "phone": "+86 1", "updated_at": "2026-11-20T00:00:00+08:00"}),
        ),
        rec(
            "shop",
            "Y",
            json!({"tax_id": FEIYUE, "name": "Shop name", "city": "Fuzhou",
            "phone": "+86 2", "email": "a@b.cn", "updated_at": "2026-11-21T00:00:00+08:00"}),
        ),
        rec(
            "erp",
            "Z",
            json!({"tax_id": FEIYUE, "name": "ERP name", "city": " ",
            "updated_at": "2026-01-01T00:00:00+08:00"}),
        ),
    ];
    let mut recs = recs.to_vec();
    recs[0].run = 7;
    let s = run(&MasterState::default(), &recs, 1);
    let m = &s.masters[0];
    assert_eq!(m.golden["name"], "ERP name", "priority source wins");
    assert_eq!(m.golden["city"], "Fuzhou", "blank loses; then the newest");
    assert_eq!(m.golden["phone"], "+86 2");
    assert_eq!(m.golden["email"], "a@b.cn");
    assert_eq!(m.golden["region"], serde_json::Value::Null);
    assert_eq!(
        m.lineage["name"],
        json!({"source": "erp", "key": "Z", "run": 1})
    );
    assert_eq!(
        m.lineage["city"],
        json!({"source": "shop", "key": "Y", "run": 1})
    );
    assert!(m.lineage.get("region").is_none());
}

#[test]
fn credit_limit_and_currency_come_from_one_record() {
    let recs = [
        rec("erp", "A", json!({"tax_id": FEIYUE, "currency": "USD"})),
        rec(
            "crm",
            "B",
            json!({"tax_id": FEIYUE, "credit_limit": "500000", "currency": "CNY"}),
        ),
    ];
    let s = run(&MasterState::default(), &recs, 1);
    let m = &s.masters[0];
    assert_eq!(m.golden["credit_limit"], "500000");
    assert_eq!(m.golden["currency"], "CNY");
    assert_eq!(m.lineage["currency"]["source"], "crm");
}

#[test]
fn unknown_update_times_rank_last() {
    let recs = [
        rec("crm", "A", json!({"tax_id": FEIYUE, "city": "Old"})),
        rec(
            "shop",
            "B",
            json!({"tax_id": FEIYUE, "city": "New",
            "updated_at": "2026-11-21T00:00:00Z"}),
        ),
    ];
    let s = run(&MasterState::default(), &recs, 1);
    assert_eq!(s.masters[0].golden["city"], "New");
}

#[test]
fn a_taken_hash_id_is_not_reused() {
    let taken = master_id_for("erp", "A", 0);
    let prior = MasterState {
        masters: vec![MasterRow {
            master_id: taken.clone(),
            golden: json!({}),
            lineage: json!({}),
            created_at: t(1),
            updated_at: t(1),
        }],
        xrefs: vec![XrefRow {
            source: "erp".into(),
            key: "B".into(),
            master_id: taken.clone(),
            rule: "tax_id".into(),
        }],
        aliases: vec![],
    };
    let s = run(
        &prior,
        &[rec("erp", "A", json!({})), rec("erp", "B", json!({}))],
        2,
    );
    assert_eq!(master_of(&s, "erp", "B"), taken);
    assert_eq!(master_of(&s, "erp", "A"), master_id_for("erp", "A", 1));
    assert_ne!(master_id_for("erp", "A", 1), taken);
}

#[test]
fn the_later_run_of_a_duplicated_record_wins() {
    let mut old = rec("erp", "A", json!({"name": "Old"}));
    old.run = 1;
    let mut new = rec("erp", "A", json!({"name": "New"}));
    new.run = 2;
    let s = run(&MasterState::default(), &[new, old], 1);
    assert_eq!(s.xrefs.len(), 1);
    assert_eq!(s.masters[0].golden["name"], "New");
}

#[test]
fn any_matcher_plugs_in() {
    struct All;
    impl Matcher for All {
        fn links(&self, records: &[SourceCustomer]) -> Vec<Link> {
            (1..records.len())
                .map(|b| Link {
                    a: 0,
                    b,
                    rule: "test",
                })
                .collect()
        }
    }
    let recs = [rec("erp", "A", json!({})), rec("crm", "B", json!({}))];
    let s = reconcile(
        &MasterState::default(),
        &recs,
        &All,
        &Survivorship::default(),
        t(1),
    );
    assert_eq!(s.masters.len(), 1);
    assert!(s.xrefs.iter().all(|x| x.rule == "test"));
}
