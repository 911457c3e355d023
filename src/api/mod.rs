//! The Lua libraries, one file each.

use mlua::{Lua, Table};

pub mod commands;
pub(crate) mod console;
pub(crate) mod cvar;
pub(crate) mod deferred;
pub(crate) mod ecs;
pub mod events;
pub(crate) mod function;
pub(crate) mod hooks;
#[cfg(feature = "input")]
pub(crate) mod input;
pub(crate) mod jobs;
pub mod log;
pub(crate) mod profiler;
pub(crate) mod random;
pub(crate) mod require;
pub(crate) mod task;
pub(crate) mod time;
#[cfg(feature = "transform")]
pub(crate) mod transform;

/// Luau's own globals, which game libraries cannot be named after either.
const LUAU_GLOBALS: &[&str] = &[
    "_G",
    "_VERSION",
    "assert",
    "bit32",
    "buffer",
    "collectgarbage",
    "coroutine",
    "debug",
    "error",
    "gcinfo",
    "getfenv",
    "getmetatable",
    "ipairs",
    "math",
    "newproxy",
    "next",
    "os",
    "pairs",
    "pcall",
    "rawequal",
    "rawget",
    "rawlen",
    "rawset",
    "select",
    "setfenv",
    "setmetatable",
    "string",
    "table",
    "tonumber",
    "tostring",
    "type",
    "typeof",
    "unpack",
    "utf8",
    "vector",
    "xpcall",
];

/// Whether `name` is a global a script sees: Luau's, the crate's libraries, or a per-script
/// global (`print`, `require`, `loadstring`). The game's own functions
/// (`app.add_script_function`) cannot name one as their library.
pub(crate) fn is_reserved(name: &str) -> bool {
    crate::suggest::LIBRARIES.contains(&name)
        || crate::vm::PER_SCRIPT_GLOBALS.contains(&name)
        || LUAU_GLOBALS.contains(&name)
}

/// Adds the libraries every script shares (their functions do not depend on the calling
/// script) to the global table of a main VM, before it is sealed.
pub(crate) fn install_shared(lua: &Lua, globals: &Table) -> mlua::Result<()> {
    crate::bridge::install(lua, deferred::extensions()?)?;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_global_of_a_script_is_reserved() {
        let config = crate::ScriptConfig::default();
        let lua = crate::vm::new_vm(&config, install_shared).unwrap();
        let mut names: Vec<String> = lua
            .globals()
            .pairs::<String, mlua::Value>()
            .map(|pair| pair.unwrap().0)
            .collect();
        names.extend(crate::vm::PER_SCRIPT_GLOBALS.iter().map(|s| s.to_string()));
        names.extend(["log", "hooks", "events", "cvar", "console"].map(String::from));
        for name in names {
            assert!(is_reserved(&name), "`{name}` is not reserved");
        }
    }
}
