//! The fuzz seeds as a regression test: every seed checked in under `fuzz/seeds/<target>/`
//! (hand-written inputs and past findings) goes through the same harness the fuzz targets run
//! (`fuzz/harness/mod.rs`), so CI keeps the findings fixed without running the fuzzer.
//! `fuzz/run.sh` runs the fuzzer, which also keeps its own minimized corpus in `fuzz/corpus/`.
//!
//! The harness's invariants hold here too, but for frame time, which is only reported: this is
//! a debug build whose tests run in parallel, and the project has no timed assertions in tests.
//! The memory invariant counts every allocation of the process, so the replays take turns.

#[path = "../fuzz/harness/mod.rs"]
mod harness;

use std::path::Path;
use std::sync::Mutex;

/// Counts the bytes Rust allocates, for the harness's memory invariant.
#[global_allocator]
static ALLOCATOR: harness::memory::Counting = harness::memory::Counting;

/// Held by the replay running now: the allocation count is the whole process's.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

/// Runs `target`'s harness over each of its seeds; returns how many there were.
fn replay(target: &str, run: fn(&[u8])) -> usize {
    replay_folder("seeds", target, run)
}

/// Runs `target`'s harness over each input in `fuzz/<folder>/<target>`; returns how many there
/// were.
fn replay_folder(folder: &str, target: &str, run: fn(&[u8])) -> usize {
    let _turn = ONE_AT_A_TIME
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz")
        .join(folder)
        .join(target);
    let mut seeds: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.expect("a seed").path())
        .collect();
    seeds.sort();
    for seed in &seeds {
        let data = std::fs::read(seed).expect("a seed");
        let outcome = std::panic::catch_unwind(|| run(&data));
        assert!(
            outcome.is_ok(),
            "{} fails; reproduce with `fuzz/run.sh --repro {target} {}`",
            seed.display(),
            seed.display()
        );
    }
    seeds.len()
}

#[test]
fn lua_source_seeds() {
    assert!(replay("lua_source", harness::run_source) > 0);
}

#[test]
fn library_calls_seeds() {
    assert!(replay("library_calls", harness::run_calls) > 0);
}

#[test]
fn script_value_seeds() {
    assert!(replay("script_value", harness::script_value) > 0);
}

#[test]
fn files_seeds() {
    assert!(replay("files", harness::files) > 0);
}
