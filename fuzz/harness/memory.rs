//! A counting global allocator: the bytes Rust has allocated and not freed, and the most there
//! were, for the memory invariant of [`super::run_source`] and [`super::run_calls`].
//!
//! The fuzz binaries install it (`fuzz/lib.rs`), and so does the replay test
//! (`tests/fuzz_corpus.rs`); a binary that does not install it reads zero everywhere, and the
//! invariant is then skipped ([`installed`]).
//!
//! What the count includes: everything allocated through Rust's global allocator, in every
//! thread: the app, Bevy's world and task pools, the crate's own data, and each Luau VM's heap,
//! because mlua 0.12 gives Luau an allocator (`mlua/src/memory.rs`, `allocator`) that calls
//! `std::alloc::{alloc, realloc, dealloc}`, and so comes here. The same function enforces
//! `ScriptConfig::memory_limit`, so a VM's heap in this count is at most its limit (while
//! no conversion has lifted it, see `bevy_luau::vm::converting`). What it leaves out: C and
//! C++ allocations that do not go through Rust, which are Luau's compiler and its code
//! generator (`malloc`/`new` inside `luau0-src`), and the stacks of threads.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

/// Bytes allocated and not freed.
static LIVE: AtomicUsize = AtomicUsize::new(0);
/// The most `LIVE` has been since [`start_window`].
static PEAK: AtomicUsize = AtomicUsize::new(0);

/// `std::alloc::System`, counting the live bytes and their peak with two atomics.
#[derive(Debug)]
pub struct Counting;

fn grew(bytes: usize) {
    let live = LIVE.fetch_add(bytes, Ordering::Relaxed) + bytes;
    PEAK.fetch_max(live, Ordering::Relaxed);
}

fn shrank(bytes: usize) {
    LIVE.fetch_sub(bytes, Ordering::Relaxed);
}

#[expect(
    unsafe_code,
    reason = "a global allocator is an unsafe trait; each method passes its arguments to System"
)]
// SAFETY: every method forwards to `System` with the caller's arguments unchanged, so `Counting`
// keeps `System`'s contract; the counting only touches two atomics and never allocates.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller upholds `GlobalAlloc::alloc`'s contract, which `System` shares.
        let ptr = unsafe { System.alloc(layout) };
        if !ptr.is_null() {
            grew(layout.size());
        }
        ptr
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: as for `alloc`.
        let ptr = unsafe { System.alloc_zeroed(layout) };
        if !ptr.is_null() {
            grew(layout.size());
        }
        ptr
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from this allocator, that is from `System`, with `layout`.
        unsafe { System.dealloc(ptr, layout) };
        shrank(layout.size());
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: `ptr` came from `System` with `layout`, and the caller upholds the rest of
        // `GlobalAlloc::realloc`'s contract.
        let new = unsafe { System.realloc(ptr, layout, new_size) };
        if !new.is_null() {
            if new_size >= layout.size() {
                grew(new_size - layout.size());
            } else {
                shrank(layout.size() - new_size);
            }
        }
        new
    }
}

/// Whether [`Counting`] is this binary's global allocator: it has counted something.
pub fn installed() -> bool {
    PEAK.load(Ordering::Relaxed) > 0
}

/// Bytes allocated and not freed, now.
pub fn live() -> usize {
    LIVE.load(Ordering::Relaxed)
}

/// Starts a window: the peak from now on starts at the live bytes of now, which it returns.
pub fn start_window() -> usize {
    let live = live();
    PEAK.store(live, Ordering::Relaxed);
    live
}

/// The most bytes that were live at once since [`start_window`].
pub fn peak() -> usize {
    PEAK.load(Ordering::Relaxed)
}
