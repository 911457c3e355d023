//! The Lua libraries, one file each.

use mlua::{Lua, Table};

pub mod commands;
pub(crate) mod console;
pub(crate) mod cvar;
pub(crate) mod ecs;
pub mod events;
pub(crate) mod function;
pub(crate) mod hooks;
#[cfg(feature = "input")]
pub(crate) mod input;
pub(crate) mod jobs;
pub mod log;
pub(crate) mod profiler;
pub(crate) mod require;
pub(crate) mod task;
pub(crate) mod time;
#[cfg(feature = "transform")]
pub(crate) mod transform;

/// Adds the libraries every script shares (their functions do not depend on the calling
/// script) to the global table of a main VM, before it is sealed.
pub(crate) fn install_shared(lua: &Lua, globals: &Table) -> mlua::Result<()> {
    crate::fast::Shared::install(lua)?;
    time::install(lua, globals)?;
    ecs::install(lua, globals)?;
    commands::install(lua, globals)?;
    task::install(lua, globals)?;
    jobs::install(lua, globals)?;
    cvar::install(lua, globals)?;
    console::install(lua, globals)?;
    profiler::install(lua, globals)?;
    #[cfg(feature = "transform")]
    transform::install(lua, globals)?;
    #[cfg(feature = "input")]
    input::install(lua, globals)?;
    Ok(())
}
