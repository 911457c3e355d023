//! The lent world as the rest of the crate reaches it: with the crate's errors, and with the
//! frame's time that the `time` library reports.

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
    crate::ffi::lend_world(lua, world, f).ok_or_else(|| {
        ScriptError::in_crate(
            ScriptErrorKind::Runtime,
            "world access is not available in this VM",
        )
    })
}

/// Runs `f` with the world of the running step.
///
/// Fails with a clear error when called outside a step, which only a worker VM or code kept
/// past its step could do, or while the world is borrowed already.
pub(crate) fn with_world<R>(lua: &Lua, f: impl FnOnce(&mut World) -> R) -> mlua::Result<R> {
    with_shared_world(lua, |_, world| f(world))
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
    .unwrap_or_else(|| {
        Err(mlua::Error::runtime(
            "world access is not available in this VM",
        ))
    })
}

/// The error for a world that cannot be borrowed now.
pub(crate) fn unavailable(lent: &Lent) -> mlua::Error {
    if lent.is_lent() {
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

/// Whether `lua` runs in the parallel phase. The phase still lends actor VMs the world as
/// usual, one VM after another, so no VM is in it yet.
pub(crate) fn in_parallel_phase(_lua: &Lua) -> bool {
    false
}
