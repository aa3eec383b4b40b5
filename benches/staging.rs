//! Staging throughput: 20,000 customer records in pages of 500, committed three times: all new,
//! all unchanged, all changed. On SQLite (a temporary file) and on PostgreSQL when a server is
//! reachable (`TRIBUTARY_TEST_PG_URL`, default the local one). Prints records per second.
//!
//! `cargo bench --bench staging` (set `STAGING_RECORDS` / `STAGING_PAGE` to change the sizes).

use std::time::Instant;

use serde_json::json;
use sha2::{Digest, Sha256};
use tributary::model::Entity;
use tributary::store::testing::each_available_backend;
use tributary::store::{Batch, StagedRecord, Store};

fn size(var: &str, default: usize) -> usize {
    std::env::var(var)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn record(i: usize, version: u32) -> StagedRecord {
    let canonical = json!({
        "source_key": format!("C{i:07}"),
        "name": format!("Customer {i} Trading Co., Ltd. v{version}"),
        "tax_id": format!("9135010{i:07}Y4{}", i % 10),
        "country": "CN",
        "postal_code": format!("{:06}", 100_000 + i % 900_000),
        "city": "Shenzhen",
        "email": format!("buyer{i}@example.com"),
        "phone": format!("+86755{i:08}"),
        "credit_limit": format!("{}.00", 10_000 + i % 500_000),
        "currency": "CNY",
    });
    let hash = hex::encode(Sha256::digest(canonical.to_string().as_bytes()));
    StagedRecord {
        key: format!("C{i:07}"),
        entity: Entity::Customer,
        customer_key: None,
        payload: json!({ "no": format!("C{i:07}"), "row": canonical.clone() }),
        canonical,
        hash,
    }
}

async fn pass(store: &Store, run: i64, total: usize, page: usize, version: u32) -> (f64, u64) {
    let records: Vec<StagedRecord> = (0..total).map(|i| record(i, version)).collect();
    let start = Instant::now();
    let mut staged = 0;
    for (n, chunk) in records.chunks(page).enumerate() {
        let counts = store
            .commit_batch(Batch {
                run,
                connector: "bench",
                stream: "customers",
                records: chunk.to_vec(),
                quarantined: vec![],
                cursor: Some(json!({ "page": n })),
            })
            .await
            .expect("commit_batch");
        staged += counts.staged;
    }
    (start.elapsed().as_secs_f64(), staged)
}

#[tokio::main]
async fn main() {
    let total = size("STAGING_RECORDS", 20_000);
    let page = size("STAGING_PAGE", 500);
    println!("staging {total} records in pages of {page}");
    each_available_backend(|backend, store| async move {
        let run = store.start_run("bench").await.expect("start_run");
        for (label, version, expect_staged) in [
            ("new", 1, total as u64),
            ("unchanged", 1, 0),
            ("changed", 2, total as u64),
        ] {
            let (secs, staged) = pass(&store, run, total, page, version).await;
            assert_eq!(staged, expect_staged, "{backend} {label}");
            println!(
                "{backend:>8} {label:>9}: {:>9.0} records/s ({secs:.2} s)",
                total as f64 / secs
            );
        }
    })
    .await;
}
