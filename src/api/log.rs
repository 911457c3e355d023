//! The `log` library and `print`: Lua output goes to `tracing`, tagged with the script's path.
//!
//! ```lua
//! log.debug("spawned", count)   log.info(...)   log.warn(...)   log.error(...)
//! print(...)                    -- the same as log.info
//! ```
//! Arguments are turned into text with `tostring` and joined with tabs, as `print` does.

use mlua::{Lua, MultiValue, Table};
use std::sync::Arc;

/// The `tracing` target of everything scripts log.
pub const LOG_TARGET: &str = "bevy_luau::script";

#[derive(Clone, Copy)]
enum Level {
    Debug,
    Info,
    Warn,
    Error,
}

/// Adds `log` and `print` to a script's environment, reporting `path` as the source.
pub(crate) fn install(lua: &Lua, env: &Table, path: &Arc<str>) -> mlua::Result<()> {
    let log = lua.create_table()?;
    for (name, level) in [
        ("debug", Level::Debug),
        ("info", Level::Info),
        ("warn", Level::Warn),
        ("error", Level::Error),
    ] {
        let path = path.clone();
        let function = lua.create_function(move |_, args: MultiValue| {
            let text = join(&args)?;
            match level {
                Level::Debug => tracing::debug!(target: LOG_TARGET, script = %path, "{text}"),
                Level::Info => tracing::info!(target: LOG_TARGET, script = %path, "{text}"),
                Level::Warn => tracing::warn!(target: LOG_TARGET, script = %path, "{text}"),
                Level::Error => tracing::error!(target: LOG_TARGET, script = %path, "{text}"),
            }
            Ok(())
        })?;
        log.raw_set(name, function)?;
    }
    env.raw_set("print", log.raw_get::<mlua::Function>("info")?)?;
    log.set_readonly(true);
    env.raw_set("log", log)
}

/// Joins values the way `print` does: `tostring` of each, separated by tabs.
fn join(args: &MultiValue) -> mlua::Result<String> {
    let mut text = String::new();
    for (i, value) in args.iter().enumerate() {
        if i > 0 {
            text.push('\t');
        }
        text.push_str(&value.to_string()?);
    }
    Ok(text)
}
