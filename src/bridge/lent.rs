//! The lent world as the rest of the crate reaches it: with the crate's errors, and with the
//! frame's time that the `time` library reports.
//!
//! The world is lent in one of two modes: `&mut World` ([`lend_world`], the main VM's step),
//! where [`with_world`] changes it and [`with_world_ref`] reads it, one borrow at a time; or
//! `&World` ([`lend_world_ref`], the parallel phase of actor VMs, see [`in_parallel_phase`]),
//! where only [`with_world_ref`] works and the libraries queue their writes instead
//! (`crate::api::deferred`).

use crate::error::{ScriptError, ScriptErrorKind, lua_error};
use crate::ffi::world::Lent;
use crate::ffi::{Extension, Shared};
use bevy_ecs::world::World;
use mlua::Lua;
use std::cell::Cell;

/// Gives Lua the world for the length of `f`; restores what was lent before (nothing, or the
/// world of an outer call) before it returns, whatever `f` does.
pub(crate) fn lend_world<R>(
    lua: &Lua,
    world: &mut World,
    f: impl FnOnce() -> R,
) -> Result<R, ScriptError> {
    crate::ffi::lend_world(lua, world, f).ok_or_else(not_a_main_vm)
}

/// Gives Lua the world read-only for the length of `f` (the parallel phase of actor VMs);
/// restores what was lent before before it returns, whatever `f` does. Other threads may lend
/// the same world to other VMs meanwhile (see `crate::ffi::lend_world_ref`).
pub(crate) fn lend_world_ref<R>(
    lua: &Lua,
    world: &World,
    f: impl FnOnce() -> R,
) -> Result<R, ScriptError> {
    crate::ffi::lend_world_ref(lua, world, f).ok_or_else(not_a_main_vm)
}

/// The error of lending the world to a VM that cannot reach it (a worker VM).
fn not_a_main_vm() -> ScriptError {
    ScriptError::in_crate(ScriptErrorKind::Runtime, NO_WORLD_ACCESS)
}

/// Why a VM without the fast path's shared state (a worker VM) cannot reach the world.
const NO_WORLD_ACCESS: &str = "world access is not available in this VM";

/// Whether `lua`'s VM runs in the parallel phase: the world it is lent is read-only, and its
/// writes are queued.
pub(crate) fn in_parallel_phase(lua: &Lua) -> bool {
    Shared::with(lua, |shared| shared.lent.is_read_only()).unwrap_or(false)
}

/// Fails with the error of `function`, which cannot run in the parallel phase, when `lua` runs
/// in it.
pub(crate) fn serial_only(lua: &Lua, function: &str) -> mlua::Result<()> {
    if in_parallel_phase(lua) {
        Err(not_in_parallel_phase(function))
    } else {
        Ok(())
    }
}

/// The error of `function`, which cannot run in the parallel phase.
pub(crate) fn not_in_parallel_phase(function: &str) -> mlua::Error {
    lua_error(
        ScriptErrorKind::Denied,
        format!(
            "`{function}` is not allowed in the parallel phase (actor scripts can call it after \
             task.synchronize())"
        ),
    )
}

/// Runs `f` with the world of the running step, for changing it.
///
/// Fails with a clear error when called outside a step, which only a worker VM or code kept
/// past its step could do, while the world is borrowed already, or in the parallel phase,
/// where the world is read-only.
pub(crate) fn with_world<R>(lua: &Lua, f: impl FnOnce(&mut World) -> R) -> mlua::Result<R> {
    with_shared_world(lua, |_, world| f(world))
}

/// Runs `f` with the world of the running step, for reading it: in both modes.
///
/// Fails as [`with_world`] does, except in the parallel phase.
pub(crate) fn with_world_ref<R>(lua: &Lua, f: impl FnOnce(&World) -> R) -> mlua::Result<R> {
    with_shared_world_ref(lua, |_, world| f(world))
}

/// [`with_world_ref`], with the VM's shared state too.
pub(crate) fn with_shared_world_ref<R>(
    lua: &Lua,
    f: impl FnOnce(&Shared, &World) -> R,
) -> mlua::Result<R> {
    Shared::with(lua, |shared| {
        let world = shared
            .lent
            .borrow_ref()
            .ok_or_else(|| unavailable(&shared.lent))?;
        Ok(f(shared, &world))
    })
    .unwrap_or_else(|| Err(mlua::Error::runtime(NO_WORLD_ACCESS)))
}

/// [`with_world`], with the VM's shared state too.
pub(crate) fn with_shared_world<R>(
    lua: &Lua,
    f: impl FnOnce(&Shared, &mut World) -> R,
) -> mlua::Result<R> {
    Shared::with(lua, |shared| {
        let mut world = shared
            .lent
            .borrow()
            .ok_or_else(|| unavailable(&shared.lent))?;
        Ok(f(shared, &mut world))
    })
    .unwrap_or_else(|| Err(mlua::Error::runtime(NO_WORLD_ACCESS)))
}

/// The error for a world that cannot be borrowed now.
pub(crate) fn unavailable(lent: &Lent) -> mlua::Error {
    if lent.is_read_only() {
        lua_error(
            ScriptErrorKind::Denied,
            "this call changes the world, which is read-only in the parallel phase (actor \
             scripts can call it after task.synchronize())",
        )
    } else if lent.is_lent() {
        lua_error(
            ScriptErrorKind::Runtime,
            "the world is in use by the calling Rust code",
        )
    } else {
        lua_error(
            ScriptErrorKind::Runtime,
            "the world can only be reached while the scripting step runs",
        )
    }
}

/// The frame's time as the `time` library reports it.
#[derive(Default, Debug, Clone, Copy)]
pub(crate) struct StepTime {
    /// Seconds since the previous frame.
    pub delta: f64,
    /// Seconds since the app started.
    pub elapsed: f64,
    /// Scripting steps run so far, this one included.
    pub frame: u64,
}

impl StepTime {
    /// The time of the running (or last) step of `lua`'s VM.
    pub fn of(lua: &Lua) -> StepTime {
        Shared::with(lua, |shared| shared.time().map(Cell::get))
            .flatten()
            .unwrap_or_default()
    }

    /// Makes `self` the time of `lua`'s VM.
    pub fn set(self, lua: &Lua) {
        Shared::with(lua, |shared| shared.time().map(|time| time.set(self)));
    }
}

/// Slot 5 of the VM's extensions.
impl Extension for Cell<StepTime> {
    const SLOT: usize = 5;
}

impl Shared {
    /// The time of the running (or last) step.
    pub fn time(&self) -> Option<&Cell<StepTime>> {
        self.extension()
    }
}
