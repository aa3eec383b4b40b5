//! Generators and benchmarks behind `tributary bench` and the quality tests: generated
//! customers with known duplicates ([`synth`], [`multi_erp`]), the FEBRL datasets ([`febrl`]),
//! matching at scale in memory ([`scale`]), the multi-ERP report per evidence class
//! ([`erp_bench`]) and the master rebuilt through a real store ([`rebuild`]).
//!
//! Built with the `bench` cargo feature (on by default, so the binary has `tributary bench`);
//! an embedding that leaves the default features off ships none of it.

pub mod erp_bench;
pub mod febrl;
pub mod multi_erp;
pub mod rebuild;
pub mod scale;
pub mod synth;
