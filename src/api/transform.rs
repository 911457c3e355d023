//! The `transform` library (being written).

use mlua::{Lua, Table};

/// Adds the `transform` library to the shared globals.
pub(crate) fn install(_lua: &Lua, _globals: &Table) -> mlua::Result<()> {
    Ok(())
}
