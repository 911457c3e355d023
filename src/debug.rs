//! What the rest of the crate tells the script debugger: chunks loaded, calls made, output
//! written, steps begun. Without the feature `debugger` each is a plain call or nothing.

use mlua::{FromLuaMulti, Function, IntoLuaMulti, Lua, Thread};

#[cfg(feature = "debugger")]
pub(crate) use crate::debugger::hooks::{PoolLink, actor_made, before_step, on_worker};

/// Calls `function`, through the debugger's error handler when a client asked to stop at
/// errors, so the stop sees the failing frames.
#[inline]
pub(crate) fn call<R: FromLuaMulti>(
    lua: &Lua,
    function: &Function,
    args: impl IntoLuaMulti,
) -> mlua::Result<R> {
    #[cfg(feature = "debugger")]
    if crate::ffi::debug::catching() && crate::debugger::hooks::catches(lua) {
        return crate::ffi::debug::call_catching(lua, function, args);
    }
    let _ = lua;
    function.call(args)
}

/// Tells the debugger that `lua` loaded `function`, the chunk of the script file at asset path
/// `path` with text `source`, so its breakpoints apply.
#[inline]
pub(crate) fn chunk_loaded(lua: &Lua, path: &str, function: &Function, source: &str) {
    #[cfg(feature = "debugger")]
    crate::debugger::vm::chunk_loaded(lua, path, function, source);
    let _ = (lua, path, function, source);
}

/// Tells the debugger that `thread`, a coroutine of `lua`, failed with `error`: with the
/// exception filter on, it stops in the coroutine's frames.
#[inline]
pub(crate) fn resume_failed(lua: &Lua, thread: &Thread, error: &mlua::Error) {
    #[cfg(feature = "debugger")]
    if crate::ffi::debug::catching() {
        crate::debugger::stop::on_failed_thread(lua, thread, error);
    }
    let _ = (lua, thread, error);
}

/// Sends a line a script wrote (`print`, `log.*`) to an attached client.
#[inline]
pub(crate) fn output(lua: &Lua, level: &str, text: &str) {
    #[cfg(feature = "debugger")]
    crate::debugger::hooks::output(lua, level, text);
    let _ = (lua, level, text);
}

/// The link from the worker pool to a debugger (nothing without the feature).
#[cfg(not(feature = "debugger"))]
#[derive(Debug, Default)]
pub(crate) struct PoolLink;

/// At the start of a scripting step (nothing without the feature).
#[cfg(not(feature = "debugger"))]
#[inline]
pub(crate) fn before_step<'a>(
    _: &bevy_ecs::world::World,
    _: &Lua,
    _: impl Iterator<Item = &'a Lua>,
    _: &crate::vm::ScriptConfig,
) {
}

/// An actor VM was made (nothing without the feature).
#[cfg(not(feature = "debugger"))]
#[inline]
pub(crate) fn actor_made(
    _: &bevy_ecs::world::World,
    _: &Lua,
    _: usize,
    _: &crate::vm::ScriptConfig,
) {
}

/// A worker VM was built or leased (nothing without the feature).
#[cfg(not(feature = "debugger"))]
#[inline]
pub(crate) fn on_worker(_: &Lua, _: &PoolLink, _: &crate::vm::ScriptConfig) {}
