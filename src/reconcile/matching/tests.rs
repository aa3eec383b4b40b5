use super::profile::{Profile, ProfileOptions};
use super::*;
use crate::model::Customer;

fn profile(fields: serde_json::Value) -> Profile {
    let c: Customer = serde_json::from_value(fields).unwrap();
    Profile::of(&c, &ProfileOptions::default())
}

/// With thresholds so high that nothing links by score, a pair of identical names (or of a
/// shared company domain and names one of which holds the other) is still queued unless
/// something says two customers; a branch is never linked to its parent by score.
#[test]
fn plausible_pairs_are_reviewed_and_branches_are_not_linked() {
    let profiles = [
        // 0, 1: the same name, one without anything else: plausible.
        serde_json::json!({"source_key": "a", "name": "杭州市长城建材有限公司", "city": "杭州", "phone": "+86 571 8765 4321"}),
        serde_json::json!({"source_key": "b", "name": "长城建材有限公司"}),
        // 2: the same name in another province: contradicted.
        serde_json::json!({"source_key": "c", "name": "北京长城建材有限公司", "region": "北京市", "tax_id": "91110105MA01X2Y3Z4"}),
        // 3, 4: a group and its subsidiary on one domain: plausible.
        serde_json::json!({"source_key": "d", "name": "华南泵业集团有限公司", "email": "group@hnpump.com", "postal_code": "510630", "country": "CN"}),
        serde_json::json!({"source_key": "e", "name": "华南泵业有限公司", "email": "sales@hnpump.com", "postal_code": "511400", "country": "CN"}),
        // 5: a branch of 3 on its domain.
        serde_json::json!({"source_key": "f", "name": "华南泵业集团有限公司北京分公司", "email": "bj@hnpump.com", "country": "CN"}),
        // 6: another country.
        serde_json::json!({"source_key": "g", "name": "Changcheng Jiancai Ltd", "country": "DE"}),
    ]
    .map(profile);
    let settings = MatchSettings {
        link_threshold: 0.999_999_999_9,
        review_threshold: 0.999_999_999_8,
        ..Default::default()
    };
    let mut matching = Matching::new(&settings).unwrap();
    let outcome = matching.run(&profiles, None);
    let decision = |a: u32, b: u32| {
        outcome
            .pairs
            .iter()
            .find(|p| (p.a, p.b) == (a, b))
            .map(|p| p.decision.clone())
    };
    assert_eq!(decision(0, 1), Some(Decision::Review));
    assert!(matches!(decision(0, 2), None | Some(Decision::Separate)));
    // 1 says nothing of where it is: the Beijing namesake may be it.
    assert_eq!(decision(1, 2), Some(Decision::Review));
    assert_eq!(decision(3, 4), Some(Decision::Review));
    assert_ne!(decision(3, 5), Some(Decision::Link));
    assert_ne!(decision(4, 5), Some(Decision::Link));
    assert!(outcome.clusters.iter().all(|c| c.len() == 1));

    // At ordinary thresholds, the branch shares a domain and most of a name with its parent
    // but is refused, never linked.
    let mut matching = Matching::new(&MatchSettings::default()).unwrap();
    let p = [
        serde_json::json!({"source_key": "x", "name": "深圳市飞跃科技有限公司", "email": "ap@feiyue.com.cn", "city": "深圳"}),
        serde_json::json!({"source_key": "y", "name": "深圳市飞跃科技有限公司北京分公司", "email": "bj@feiyue.com.cn", "city": "深圳"}),
    ]
    .map(profile);
    let outcome = matching.run(&p, None);
    assert!(outcome.clusters.iter().all(|c| c.len() == 1), "{outcome:?}");
    for pair in &outcome.pairs {
        assert_ne!(pair.decision, Decision::Link);
    }
}
