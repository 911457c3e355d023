//! The fuzz targets' shared harness (`harness/mod.rs`, also replayed by the crate's
//! `tests/fuzz_corpus.rs`).

pub mod harness;

/// Every fuzz target counts the bytes Rust allocates, for the memory invariant of the harness
/// (`harness/memory.rs` says what the count includes).
#[global_allocator]
static ALLOCATOR: harness::memory::Counting = harness::memory::Counting;
