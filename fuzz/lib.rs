//! The fuzz targets' shared harness (`harness/mod.rs`, also replayed by the crate's
//! `tests/fuzz_corpus.rs`).

pub mod harness;
