//! Tributary: CRM–ERP–DRP integration middleware.
//!
//! Records flow one way: [`connector`] → [`mapping`] → [`store`] (staging) → [`reconcile`]
//! (customer master) → [`exposure`]. [`sync`] drives one run of one connector; [`config`]
//! loads the files a user edits; [`model`] is the shared vocabulary; [`channel`] tells the
//! inventory held in the distribution channel per dealer; [`insight`] derives value tiers,
//! lifecycle stages and churn warnings per master customer; [`webhook`] takes events that
//! sources push, into a durable inbox and on through the same staging.

#[cfg(feature = "bench")]
pub mod bench;
pub mod channel;
pub mod cli;
pub mod config;
pub mod connector;
pub mod exposure;
pub mod insight;
pub mod mapping;
pub mod master;
pub mod model;
pub mod reconcile;
pub mod server;
pub mod store;
pub mod support;
pub mod sync;
pub mod views;
pub mod webhook;
