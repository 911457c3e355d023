//! The bridge: the safe layer between the unsafe floor (`crate::ffi`) and the Lua libraries.
//! It gives the floor's pieces their meaning, and holds no `unsafe` code:
//! - [`names`]: components by the Lua string of their name, lookups by name, and the query
//!   states (or, in the parallel phase, queries answered from the archetypes);
//! - [`keys`]: the pinned Lua strings of Rust field names;
//! - [`atoms`]: the numbers Luau gives field names, for direct field access;
//! - [`serde`]: serde values read from and written to the Lua stack;
//! - [`plan`]: how reflected types are read from the stack and written in place;
//! - [`lent`]: the lent world with the crate's errors, in its two modes (`&mut World` for the
//!   main VM's step, `&World` for the parallel phase of actor VMs), and the frame's time.
//!
//! Its caches live in each main VM's `ffi::Shared`, one extension per type ([`install`]), in
//! slots 0 to 5.
//!
//! The crate's modules import one another in layers, with no circle: `ffi` imports nothing of
//! the crate; the bridge imports `ffi` and the domain modules it serves (`registry`, `reflect`,
//! `error`), none of which imports the bridge's caches back.

pub(crate) mod atoms;
pub(crate) mod keys;
pub(crate) mod lent;
pub(crate) mod names;
pub(crate) mod plan;
pub(crate) mod serde;
/// Helpers of the tests that compare the fast path with the safe path.
#[cfg(test)]
pub(crate) mod test_support;

use crate::ffi::{Extensions, Shared};
use std::cell::{Cell, RefCell};

/// Creates the shared state of a main VM with the bridge's caches and `extensions`, those of
/// the layers above (in slots the bridge does not use). Call once, before creating its fast
/// functions.
pub(crate) fn install(lua: &mlua::Lua, extensions: Extensions) -> mlua::Result<()> {
    let extensions = extensions
        .with(RefCell::new(names::Names::default()))?
        .with(RefCell::new(keys::Keys::default()))?
        .with(RefCell::new(names::Queries::default()))?
        .with(RefCell::new(plan::Plans::default()))?
        .with(RefCell::new(Vec::<Option<plan::Staged>>::new()))?
        .with(Cell::new(lent::StepTime::default()))?;
    Shared::install(lua, extensions)
}
