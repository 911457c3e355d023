//! Building the global table of one script or module: the sandboxed environment plus the
//! libraries whose functions know which script calls them.

use crate::api::{console, cvar, events, hooks, log, require};
use crate::runtime::context::Owner;
use crate::vm;
use mlua::{Function, Lua, Table};
use std::sync::Arc;

/// Functions shared by every environment of a VM, created once.
///
/// Lua app data: borrow it only between calls into Lua, never across one (see `crate::runtime`).
#[derive(Clone)]
pub(crate) struct SharedFunctions {
    /// `events.emit`.
    pub emit: Function,
    /// `(state, request) -> module`.
    pub require: Function,
    /// `(env, source, name) -> function`.
    pub loadstring: Function,
    /// `(f, state) -> function(...) return f(state, ...) end`: binds Lua state to a shared
    /// function in a Lua closure, which the garbage collector can see through (a Rust closure
    /// holding a table would keep it alive forever).
    pub bind: Function,
}

impl SharedFunctions {
    /// Creates the shared functions of a VM.
    pub fn new(lua: &Lua) -> mlua::Result<Self> {
        let bind = create_bind(lua)?;
        cvar::create_on_change(lua, &bind)?;
        Ok(Self {
            emit: events::create_emit(lua)?,
            require: require::create_require(lua)?,
            loadstring: require::create_loadstring(lua)?,
            bind,
        })
    }
}

/// Creates `bind`: `(f, state) -> function(...) return f(state, ...) end`.
pub(crate) fn create_bind(lua: &Lua) -> mlua::Result<Function> {
    lua.load("return function(f, state) return function(...) return f(state, ...) end end")
        .set_name("=bevy_luau")
        .call(())
}

/// Builds the environment of `file`, run on behalf of `owner`, sharing the module cache `modules`.
pub(crate) fn build(lua: &Lua, owner: &Owner, file: &str, modules: &Table) -> mlua::Result<Table> {
    let shared = lua
        .app_data_ref::<SharedFunctions>()
        .map(|s| s.clone())
        .ok_or_else(|| mlua::Error::runtime("script environments need the main VM"))?;
    let env = vm::script_env(lua)?;
    let file: Arc<str> = Arc::from(file);
    log::install(lua, &env, &file)?;
    hooks::install(lua, &env, owner)?;
    events::install(lua, &env, owner, &shared.emit)?;
    cvar::install_for_script(lua, &env, owner, &shared.bind)?;
    console::install_for_script(lua, &env, owner)?;
    let state = require::state(lua, owner, &file, modules)?;
    env.raw_set(
        "require",
        shared.bind.call::<Function>((&shared.require, state))?,
    )?;
    env.raw_set(
        "loadstring",
        shared.bind.call::<Function>((&shared.loadstring, &env))?,
    )?;
    Ok(env)
}
