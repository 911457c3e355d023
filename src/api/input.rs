//! The `input` library (being written).

use mlua::{Lua, Table};

/// Adds the `input` library to the shared globals.
pub(crate) fn install(_lua: &Lua, _globals: &Table) -> mlua::Result<()> {
    Ok(())
}
