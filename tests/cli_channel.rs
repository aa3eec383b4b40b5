//! `tributary channel` over a copy of the shipped project: inventory held in the channel per
//! dealer, with figures computed by hand from samples/dealer/.

use std::path::Path;
use std::process::{Command, Output};

use serde_json::{Value, json};

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

fn tributary(root: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tributary"))
        .args(args)
        .env("TRIBUTARY_ROOT", root)
        .env("TRIBUTARY_AS_OF", "2026-11-22")
        .env_remove("TRIBUTARY__STORE__URL")
        .output()
        .expect("the binary runs")
}

#[test]
fn channel_inventory_of_the_shipped_dealer_portal() {
    let dir = tempfile::tempdir().unwrap();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    for sub in ["config", "connectors", "mappings", "samples"] {
        copy_dir(&root.join(sub), &dir.path().join(sub));
    }
    let sync = tributary(dir.path(), &["sync", "--all"]);
    assert_eq!(sync.status.code(), Some(3), "{sync:?}");

    // D1007 holds 29 + 34 + 0 + 24 + 23 = 110 (27 in transit) and sold, from 2026-10-26 to
    // 2026-11-22, 5 + 5 + 6 + 2 + 1 + 1 + 1 + 4 = 25: 6.25 a week, 110 / 6.25 = 17.60 weeks.
    let out = tributary(dir.path(), &["channel", "--dealer", "D1007", "--json"]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let rows: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        rows,
        json!([{
            "source": "dealer-portal", "dealer_key": "D1007", "skus": 5,
            "on_hand": "110", "in_transit": "27", "stock_as_of": "2026-11-21T22:00:00+08:00",
            "window_days": 28, "sell_through": "25", "weekly_sell_through": "6.25",
            "weeks_of_cover": "17.60"
        }])
    );

    let table = tributary(dir.path(), &["channel"]);
    let text = String::from_utf8_lossy(&table.stdout);
    assert!(
        text.contains("weeks of cover") && text.contains("D1007"),
        "{text}"
    );

    let bad = tributary(dir.path(), &["channel", "--days", "0"]);
    assert_eq!(bad.status.code(), Some(2), "{bad:?}");
}
