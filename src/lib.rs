//! Tributary: CRM–ERP–DRP integration middleware.
//!
//! Records flow one way: [`connector`] → [`mapping`] → [`store`] (staging) → [`master`] (the
//! unified customer master, through [`reconcile`]) → [`views`] (credit exposure through
//! [`exposure`], the customer 360, the review queue).
//!
//! The modules stand on floors; each imports only floors below it (`tests/layering.rs` keeps
//! it so):
//! - [`support`] (cron, secrets) and [`model`] (canonical entities, the master's rows);
//! - [`connector`] (one folder per source kind) and [`mapping`] (declarative field mappings);
//! - the pure engines: [`reconcile`] (matching, clustering, survivorship, groups), [`channel`]
//!   (inventory held in the channel per dealer), [`exposure`], [`insight`] (value tier,
//!   lifecycle, churn);
//! - [`config`] (loading the files a user edits), then [`store`] (SQLite or PostgreSQL);
//! - the use cases: [`views`] (read side), [`sync`] (one run of one connector), [`master`]
//!   (rebuild, insights, steward), [`intake`] (webhook events into the same staging), [`bench`]
//!   (generators and benchmarks, the `bench` feature);
//! - the front ends: [`server`] (daemon, API, web page) and [`cli`].

// Kept here rather than in a `[lints]` table, which would hold the tests and benches to them too.
#![warn(missing_docs, unreachable_pub)]

#[cfg(feature = "bench")]
pub mod bench;
pub mod channel;
pub mod cli;
pub mod config;
pub mod connector;
pub mod exposure;
pub mod insight;
pub mod intake;
pub mod mapping;
pub mod master;
pub mod model;
pub mod reconcile;
pub mod server;
pub mod store;
pub mod support;
pub mod sync;
pub mod views;
