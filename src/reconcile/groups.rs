//! Group structure of the customer master: which master is the parent of which.
//!
//! Source records name their parent by `parent_key`, a key of the SAME source. After a master
//! rebuild [`resolve`] lifts those references to masters:
//!
//! - a record's parent is the master its parent record is linked to (through the xref of the
//!   same source, resolved through aliases of merged masters). A parent key that names no staged
//!   record of that source, or one without an xref, is a `dangling` issue and gives no edge;
//! - a record whose parent is in its own master is a `self_reference` issue and gives no edge;
//! - each master gets at most one parent. When its records name different parents, the record
//!   from the most trusted source wins (`[reconcile] source_priority`; unlisted sources after
//!   listed ones), then the most recently updated (unknown last), then the smallest
//!   (source, key). Every overruled record is an `overruled` issue;
//! - a master that would be its own ancestor is a `cycle`: of the edges on the cycle, the one
//!   whose record ranks last by the order above is dropped and reported; the others stay. The
//!   graph has one parent per master, so a component holds at most one cycle and the walk ends.
//!
//! Pure: the caller brings the staged records and the rebuilt master state.

use std::cmp::Reverse;
use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::{DateTime, FixedOffset};
use serde::{Deserialize, Serialize};

use super::SourceCustomer;
use crate::model::MasterState;

/// One parent link between two masters, with the source record that gave it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupEdge {
    /// The child master.
    pub master_id: String,
    /// Its parent master.
    pub parent_id: String,
    /// Source of the record that names the parent.
    pub source: String,
    /// That record's key.
    pub key: String,
    /// The parent key it names.
    pub parent_key: String,
}

/// Why a parent reference gave no edge.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IssueKind {
    /// The parent key names no staged, linked record of the same source.
    Dangling,
    /// The parent record is in the record's own master.
    SelfReference,
    /// The edge would make a master its own ancestor; dropped.
    Cycle,
    /// Another record of the same master names a parent that wins.
    Overruled,
}

impl IssueKind {
    /// Name stored in the table and shown by the CLI.
    pub fn as_str(self) -> &'static str {
        match self {
            IssueKind::Dangling => "dangling",
            IssueKind::SelfReference => "self_reference",
            IssueKind::Cycle => "cycle",
            IssueKind::Overruled => "overruled",
        }
    }
}

impl std::str::FromStr for IssueKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        [
            IssueKind::Dangling,
            IssueKind::SelfReference,
            IssueKind::Cycle,
            IssueKind::Overruled,
        ]
        .into_iter()
        .find(|k| k.as_str() == s)
        .ok_or_else(|| format!("unknown group issue `{s}`"))
    }
}

/// A parent reference that gave no edge, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupIssue {
    /// What went wrong.
    pub kind: IssueKind,
    /// The master of the record.
    pub master_id: String,
    /// Source of the record.
    pub source: String,
    /// Its key.
    pub key: String,
    /// The parent key it names.
    pub parent_key: String,
    /// The parent master, when the key resolved to one.
    pub parent_id: Option<String>,
    /// One line for people.
    pub detail: String,
}

/// The group structure after a rebuild.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Groups {
    /// One edge per master that has a parent, ordered by child master ID.
    pub edges: Vec<GroupEdge>,
    /// Every parent reference that gave no edge, ordered by master, source and key.
    pub issues: Vec<GroupIssue>,
}

impl Groups {
    /// How many issues of `kind`.
    pub fn count(&self, kind: IssueKind) -> usize {
        self.issues.iter().filter(|i| i.kind == kind).count()
    }

    /// Parent of each child master.
    pub fn parents(&self) -> HashMap<&str, &str> {
        self.edges
            .iter()
            .map(|e| (e.master_id.as_str(), e.parent_id.as_str()))
            .collect()
    }

    /// Children of each parent master, ordered by ID.
    pub fn children(&self) -> BTreeMap<&str, Vec<&str>> {
        let mut out: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
        for e in &self.edges {
            out.entry(e.parent_id.as_str())
                .or_default()
                .push(e.master_id.as_str());
        }
        for kids in out.values_mut() {
            kids.sort_unstable();
        }
        out
    }

    /// `id` and all its descendants, depth first (children by ID), each with its depth below
    /// `id`. Safe on any input: a master is visited once.
    pub fn subtree<'a>(&'a self, id: &'a str) -> Vec<(&'a str, usize)> {
        let children = self.children();
        let mut out = Vec::new();
        let mut seen = HashSet::new();
        let mut stack = vec![(id, 0usize)];
        while let Some((m, depth)) = stack.pop() {
            if !seen.insert(m) {
                continue;
            }
            out.push((m, depth));
            if let Some(kids) = children.get(m) {
                stack.extend(kids.iter().rev().map(|k| (*k, depth + 1)));
            }
        }
        out
    }

    /// Masters that have children but no parent, ordered by ID.
    pub fn heads(&self) -> Vec<&str> {
        let parents = self.parents();
        self.children()
            .into_keys()
            .filter(|m| !parents.contains_key(m))
            .collect()
    }
}

/// How strongly a record's parent reference counts: smaller is stronger.
type Strength<'a> = (
    usize,
    Reverse<Option<DateTime<FixedOffset>>>,
    &'a str,
    &'a str,
);

/// Resolves every staged record's `parent_key` to a parent master (see the module docs).
pub fn resolve(
    records: &[SourceCustomer],
    state: &MasterState,
    source_priority: &[String],
) -> Groups {
    let aliases: HashMap<&str, &str> = state
        .aliases
        .iter()
        .map(|(a, m)| (a.as_str(), m.as_str()))
        .collect();
    let live = |id: &str| -> String {
        let mut current = id;
        for _ in 0..=aliases.len() {
            match aliases.get(current) {
                Some(next) => current = next,
                None => break,
            }
        }
        current.to_string()
    };
    let xref: HashMap<(&str, &str), String> = state
        .xrefs
        .iter()
        .map(|x| ((x.source.as_str(), x.key.as_str()), live(&x.master_id)))
        .collect();
    let staged: HashSet<(&str, &str)> = records
        .iter()
        .map(|r| (r.source.as_str(), r.customer.source_key.as_str()))
        .collect();
    let strength = |r: &'_ SourceCustomer| -> (usize, Reverse<Option<DateTime<FixedOffset>>>) {
        let rank = source_priority
            .iter()
            .position(|s| *s == r.source)
            .unwrap_or(source_priority.len());
        (rank, Reverse(r.customer.updated_at))
    };

    let mut groups = Groups::default();
    // Candidates per child master: (strength, parent master, record).
    let mut candidates: BTreeMap<String, Vec<(Strength<'_>, String, &SourceCustomer)>> =
        BTreeMap::new();
    for r in records {
        let Some(parent_key) = r
            .customer
            .parent_key
            .as_deref()
            .map(str::trim)
            .filter(|k| !k.is_empty())
        else {
            continue;
        };
        let key = r.customer.source_key.as_str();
        let Some(own) = xref.get(&(r.source.as_str(), key)) else {
            continue; // not in the master (cannot happen after a rebuild)
        };
        let issue = |kind, parent_id: Option<String>, detail: String| GroupIssue {
            kind,
            master_id: own.clone(),
            source: r.source.clone(),
            key: key.to_string(),
            parent_key: parent_key.to_string(),
            parent_id,
            detail,
        };
        let parent = xref
            .get(&(r.source.as_str(), parent_key))
            .filter(|_| staged.contains(&(r.source.as_str(), parent_key)));
        match parent {
            None => groups.issues.push(issue(
                IssueKind::Dangling,
                None,
                format!(
                    "{}:{key} names parent {parent_key}, which {} has not staged",
                    r.source, r.source
                ),
            )),
            Some(p) if p == own => groups.issues.push(issue(
                IssueKind::SelfReference,
                Some(p.clone()),
                format!(
                    "{}:{key} names parent {parent_key}, which is in the same master {own}",
                    r.source
                ),
            )),
            Some(p) => {
                let (rank, recent) = strength(r);
                candidates.entry(own.clone()).or_default().push((
                    (rank, recent, r.source.as_str(), key),
                    p.clone(),
                    r,
                ));
            }
        }
    }

    // One parent per master: the strongest record wins.
    let mut chosen: BTreeMap<String, (Strength<'_>, GroupEdge)> = BTreeMap::new();
    for (child, mut list) in candidates {
        list.sort_by(|a, b| a.0.cmp(&b.0));
        let mut list = list.into_iter();
        let Some((strength, parent_id, r)) = list.next() else {
            continue;
        };
        let edge = GroupEdge {
            master_id: child.clone(),
            parent_id,
            source: r.source.clone(),
            key: r.customer.source_key.clone(),
            parent_key: r.customer.parent_key.clone().unwrap_or_default(),
        };
        for (_, other, lost) in list.filter(|(_, p, _)| *p != edge.parent_id) {
            groups.issues.push(GroupIssue {
                kind: IssueKind::Overruled,
                master_id: child.clone(),
                source: lost.source.clone(),
                key: lost.customer.source_key.clone(),
                parent_key: lost.customer.parent_key.clone().unwrap_or_default(),
                parent_id: Some(other.clone()),
                detail: format!(
                    "{}:{} names parent master {other}; {}:{} wins with {}",
                    lost.source, lost.customer.source_key, edge.source, edge.key, edge.parent_id
                ),
            });
        }
        chosen.insert(child, (strength, edge));
    }

    // Break cycles: walk up from every master; a walk that meets its own path found a cycle.
    let mut done: HashSet<String> = HashSet::new();
    let starts: Vec<String> = chosen.keys().cloned().collect();
    for start in starts {
        let mut path: Vec<String> = Vec::new();
        let mut current = start;
        loop {
            if done.contains(&current) {
                break;
            }
            if let Some(at) = path.iter().position(|m| *m == current) {
                let cycle = &path[at..];
                let weakest = cycle
                    .iter()
                    .max_by(|a, b| chosen[*a].0.cmp(&chosen[*b].0))
                    .cloned()
                    .unwrap_or_else(|| current.clone());
                let mut ring: Vec<&str> = cycle.iter().map(String::as_str).collect();
                ring.push(cycle[0].as_str());
                if let Some((_, e)) = chosen.remove(&weakest) {
                    groups.issues.push(GroupIssue {
                        kind: IssueKind::Cycle,
                        master_id: e.master_id.clone(),
                        source: e.source.clone(),
                        key: e.key.clone(),
                        parent_key: e.parent_key.clone(),
                        parent_id: Some(e.parent_id.clone()),
                        detail: format!(
                            "{}:{} → {} closes the cycle {}; that edge is dropped",
                            e.source,
                            e.key,
                            e.parent_key,
                            ring.join(" → ")
                        ),
                    });
                }
                break;
            }
            path.push(current.clone());
            match chosen.get(&current) {
                Some((_, e)) => current = e.parent_id.clone(),
                None => break,
            }
        }
        done.extend(path);
    }

    groups.edges = chosen.into_values().map(|(_, e)| e).collect();
    groups.issues.sort_by(|a, b| {
        (&a.master_id, &a.source, &a.key, a.kind).cmp(&(&b.master_id, &b.source, &b.key, b.kind))
    });
    groups
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::model::XrefRow;

    /// A record `source:key` naming `parent`, updated on day `day` of November 2026.
    fn rec(source: &str, key: &str, parent: Option<&str>, day: u32) -> SourceCustomer {
        SourceCustomer {
            source: source.into(),
            run: 1,
            customer: serde_json::from_value(json!({
                "source_key": key,
                "name": key,
                "parent_key": parent,
                "updated_at": format!("2026-11-{day:02}T08:00:00+08:00"),
            }))
            .unwrap(),
        }
    }

    /// A state linking each (source, key) to its master.
    fn state(links: &[(&str, &str, &str)], aliases: &[(&str, &str)]) -> MasterState {
        MasterState {
            masters: vec![],
            xrefs: links
                .iter()
                .map(|(s, k, m)| XrefRow {
                    source: s.to_string(),
                    key: k.to_string(),
                    master_id: m.to_string(),
                    rule: "singleton".into(),
                })
                .collect(),
            aliases: aliases
                .iter()
                .map(|(a, m)| (a.to_string(), m.to_string()))
                .collect(),
        }
    }

    fn edges(g: &Groups) -> Vec<(&str, &str)> {
        g.edges
            .iter()
            .map(|e| (e.master_id.as_str(), e.parent_id.as_str()))
            .collect()
    }

    fn priority() -> Vec<String> {
        vec!["erp".into(), "dealer".into()]
    }

    #[test]
    fn a_chain_and_several_roots_give_one_parent_each() {
        let recs = [
            rec("erp", "A", None, 1),
            rec("erp", "B", Some("A"), 1),
            rec("erp", "C", Some("B"), 1),
            rec("erp", "X", None, 1),
            rec("erp", "Y", Some("X"), 1),
            rec("erp", "Z", Some(" X "), 1),
        ];
        let st = state(
            &[
                ("erp", "A", "MA"),
                ("erp", "B", "MB"),
                ("erp", "C", "MC"),
                ("erp", "X", "MX"),
                ("erp", "Y", "MY"),
                ("erp", "Z", "MZ"),
            ],
            &[],
        );
        let g = resolve(&recs, &st, &priority());
        assert_eq!(
            edges(&g),
            [("MB", "MA"), ("MC", "MB"), ("MY", "MX"), ("MZ", "MX")]
        );
        assert!(g.issues.is_empty(), "{:?}", g.issues);
        assert_eq!(g.heads(), ["MA", "MX"]);
        assert_eq!(g.subtree("MA"), [("MA", 0), ("MB", 1), ("MC", 2)]);
        assert_eq!(g.subtree("MX"), [("MX", 0), ("MY", 1), ("MZ", 1)]);
        assert_eq!(g.subtree("MC"), [("MC", 0)]);
    }

    #[test]
    fn disagreeing_sources_follow_priority_then_recency() {
        // M1 is known to the ERP and the dealer portal, which name different parents.
        let recs = [
            rec("erp", "E1", Some("EP"), 1),
            rec("dealer", "D1", Some("DP"), 20),
            rec("erp", "EP", None, 1),
            rec("dealer", "DP", None, 1),
            // M2: two ERP records disagree; the most recently updated wins.
            rec("erp", "E2a", Some("EP"), 3),
            rec("erp", "E2b", Some("DP2"), 9),
            rec("dealer", "DP2", None, 1),
            rec("erp", "DP2", None, 1),
        ];
        let st = state(
            &[
                ("erp", "E1", "M1"),
                ("dealer", "D1", "M1"),
                ("erp", "EP", "MP"),
                ("dealer", "DP", "MQ"),
                ("erp", "E2a", "M2"),
                ("erp", "E2b", "M2"),
                ("erp", "DP2", "MR"),
                ("dealer", "DP2", "MR"),
            ],
            &[],
        );
        let g = resolve(&recs, &st, &priority());
        assert_eq!(edges(&g), [("M1", "MP"), ("M2", "MR")]);
        let over: Vec<(&str, &str)> = g
            .issues
            .iter()
            .filter(|i| i.kind == IssueKind::Overruled)
            .map(|i| (i.source.as_str(), i.key.as_str()))
            .collect();
        assert_eq!(over, [("dealer", "D1"), ("erp", "E2a")]);
    }

    #[test]
    fn records_agreeing_on_one_parent_are_not_overruled() {
        let recs = [
            rec("erp", "E1", Some("EP"), 1),
            rec("dealer", "D1", Some("DP"), 2),
            rec("erp", "EP", None, 1),
            rec("dealer", "DP", None, 1),
        ];
        // The parent's two records are one master.
        let st = state(
            &[
                ("erp", "E1", "M1"),
                ("dealer", "D1", "M1"),
                ("erp", "EP", "MP"),
                ("dealer", "DP", "MP"),
            ],
            &[],
        );
        let g = resolve(&recs, &st, &priority());
        assert_eq!(edges(&g), [("M1", "MP")]);
        assert!(g.issues.is_empty());
    }

    #[test]
    fn a_cycle_drops_its_weakest_edge_and_is_reported() {
        // MA → MB → MC → MA; MC's record is the oldest, so its edge goes.
        let recs = [
            rec("erp", "A", Some("B"), 5),
            rec("erp", "B", Some("C"), 6),
            rec("erp", "C", Some("A"), 2),
            rec("erp", "D", Some("A"), 1),
        ];
        let st = state(
            &[
                ("erp", "A", "MA"),
                ("erp", "B", "MB"),
                ("erp", "C", "MC"),
                ("erp", "D", "MD"),
            ],
            &[],
        );
        let g = resolve(&recs, &st, &priority());
        assert_eq!(edges(&g), [("MA", "MB"), ("MB", "MC"), ("MD", "MA")]);
        assert_eq!(g.count(IssueKind::Cycle), 1);
        let i = &g.issues[0];
        assert_eq!((i.master_id.as_str(), i.key.as_str()), ("MC", "C"));
        assert!(i.detail.contains("MA → MB → MC → MA"), "{}", i.detail);
        assert_eq!(g.heads(), ["MC"]);
        assert_eq!(g.subtree("MC").len(), 4);
    }

    #[test]
    fn a_two_cycle_across_sources_is_broken_too() {
        // Each master has an ERP and a dealer record; the ERP says A under B, the dealer
        // portal B under A.
        let recs = [
            rec("erp", "A", Some("B"), 5),
            rec("erp", "B", None, 5),
            rec("dealer", "A", None, 9),
            rec("dealer", "B", Some("A"), 9),
        ];
        let st = state(
            &[
                ("erp", "A", "MA"),
                ("erp", "B", "MB"),
                ("dealer", "A", "MA"),
                ("dealer", "B", "MB"),
            ],
            &[],
        );
        let g = resolve(&recs, &st, &priority());
        // The dealer record is less trusted than the ERP one: its edge is dropped.
        assert_eq!(edges(&g), [("MA", "MB")]);
        assert_eq!(g.count(IssueKind::Cycle), 1);
        assert_eq!(g.issues[0].source, "dealer");
    }

    #[test]
    fn self_references_and_dangling_keys_give_no_edge() {
        let recs = [
            rec("erp", "A", Some("A"), 1),
            rec("erp", "A2", Some("A"), 1),
            rec("erp", "B", Some("NOPE"), 1),
            // The parent exists in another source only: keys are per source.
            rec("erp", "C", Some("P"), 1),
            rec("dealer", "P", None, 1),
        ];
        let st = state(
            &[
                ("erp", "A", "MA"),
                ("erp", "A2", "MA"),
                ("erp", "B", "MB"),
                ("erp", "C", "MC"),
                ("dealer", "P", "MP"),
            ],
            &[],
        );
        let g = resolve(&recs, &st, &priority());
        assert!(g.edges.is_empty(), "{:?}", g.edges);
        assert_eq!(g.count(IssueKind::SelfReference), 2);
        assert_eq!(g.count(IssueKind::Dangling), 2);
    }

    #[test]
    fn a_parent_is_found_through_the_alias_of_a_merged_master() {
        let recs = [rec("erp", "P", None, 1), rec("erp", "C", Some("P"), 1)];
        // The parent's xref still names the retired ID M-OLD, merged into M-NEW via M-MID.
        let st = state(
            &[("erp", "P", "M-OLD"), ("erp", "C", "MC")],
            &[("M-OLD", "M-MID"), ("M-MID", "M-NEW")],
        );
        let g = resolve(&recs, &st, &priority());
        assert_eq!(edges(&g), [("MC", "M-NEW")]);
    }

    #[test]
    fn issue_kinds_round_trip_through_their_names() {
        for k in [
            IssueKind::Dangling,
            IssueKind::SelfReference,
            IssueKind::Cycle,
            IssueKind::Overruled,
        ] {
            assert_eq!(k.as_str().parse::<IssueKind>(), Ok(k));
        }
        assert!("loop".parse::<IssueKind>().is_err());
    }
}
