//! Which script version is which: ids, and the asset paths they were loaded from.

use std::sync::Arc;

/// Identifies one loaded version of a script; a hot reload gives the new version a new id.
pub(crate) type ScriptId = u64;

/// A new id for a script version, unique in the process.
pub(crate) fn next_id() -> ScriptId {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
    NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
}

/// The asset path of every script version that ran, for errors raised later by its coroutines.
///
/// Lua app data: borrow it only between calls into Lua, never across one (see `crate::runtime`).
#[derive(Default)]
pub(crate) struct ScriptPaths(pub std::collections::HashMap<ScriptId, Arc<str>>);
