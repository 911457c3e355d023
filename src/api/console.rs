//! The `console` library: the game console from Lua.
//!
//! ```lua
//! local output, ok = console.execute("set r_fov 90")
//! console.register("heal", function(args) return "healed " .. (args[1] or "everyone") end, "heal [name]")
//! console.log("warn", "low on health")
//! ```
//! Commands a script registers belong to it: a hot reload replaces them.

use crate::api::function;
use crate::error::{ErrorOrigin, ScriptError, ScriptErrorKind, lua_error};
use crate::runtime::callbacks::{Callback, Callbacks};
use crate::runtime::context::{CallLimits, Caller, Owner, call_as};
use crate::runtime::profile::Site;
use crate::suggest::{MAX_NAME, MAX_TEXT};
use crate::vm::{Budget, Limits};
use mlua::chunk::ChunkMode;
use mlua::{Function, Lua, MultiValue, Table, Value};
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

/// Adds the shared part of `console` (`execute`, `log`) to the main VM's globals.
pub(crate) fn install(lua: &Lua, globals: &Table) -> mlua::Result<()> {
    let console = lua.create_table()?;
    console.raw_set(
        "execute",
        function::create(lua, "console.execute", |lua, (line,): (String,)| {
            // A console line may do anything to the world.
            crate::bridge::lent::serial_only(lua, "console.execute")?;
            let outcome = crate::runtime::context::console_execute(lua, &line);
            crate::runtime::context::stop_if_spent()?;
            Ok(match outcome {
                Ok(output) => (output, true),
                Err(error) => (format!("error: {error}"), false),
            })
        })?,
    )?;
    console.raw_set(
        "log",
        function::create(lua, "console.log", |_, (level, message): (String, String)| {
            match level.to_ascii_lowercase().as_str() {
                "debug" => tracing::debug!(target: "bevy_luau::console", "{message}"),
                "info" => tracing::info!(target: "bevy_luau::console", "{message}"),
                "warn" => tracing::warn!(target: "bevy_luau::console", "{message}"),
                "error" => tracing::error!(target: "bevy_luau::console", "{message}"),
                other => {
                    return Err(lua_error(
                        ScriptErrorKind::TypeMismatch,
                        format!("bad argument #1 to `console.log`: `{other}` is not a level (debug, info, warn, error)"),
                    ));
                }
            }
            Ok(())
        })?,
    )?;
    console.set_readonly(true);
    // Not in the globals, for the same reason as `cvar`: each script has its own.
    let _ = globals;
    lua.set_app_data(SharedConsole(console));
    lua.set_app_data(ConsoleEnv(None));
    Ok(())
}

/// The shared functions of `console`, copied into each script's table.
///
/// Lua app data: borrow it only between calls into Lua, never across one (see `crate::runtime`).
struct SharedConsole(Table);

/// The most commands scripts may register in one VM.
const MAX_COMMANDS: usize = 1024;

/// Gives a script's environment its own `console` table, whose `register` makes commands that
/// belong to `owner`.
pub(crate) fn install_for_script(lua: &Lua, env: &Table, owner: &Owner) -> mlua::Result<()> {
    let shared = lua
        .app_data_ref::<SharedConsole>()
        .map(|s| s.0.clone())
        .ok_or_else(|| mlua::Error::runtime("console needs the main VM"))?;
    let console = lua.create_table()?;
    for name in ["execute", "log"] {
        console.raw_set(name, shared.raw_get::<Value>(name)?)?;
    }
    let owner = owner.clone();
    let register = function::create(
        lua,
        "console.register",
        move |lua, (name, f, help): (String, Function, Option<String>)| {
            let valid =
                !name.is_empty() && name.len() <= MAX_NAME && !name.contains(char::is_whitespace);
            if !valid || crate::runtime::context::console_builtin(lua, &name) {
                let shown: String = name.chars().take(MAX_NAME).collect();
                return Err(lua_error(
                    ScriptErrorKind::TypeMismatch,
                    format!(
                        "console.register: `{shown}` cannot be a command name (empty, spaces, \
                         longer than {MAX_NAME} bytes, or built in)"
                    ),
                ));
            }
            if crate::runtime::context::is_actor_vm(lua) {
                return Err(lua_error(
                    ScriptErrorKind::Runtime,
                    "`console.register` is not available in actor scripts (their VM runs no console commands); register commands from a global script",
                ));
            }
            let help = help.unwrap_or_default();
            if help.len() > MAX_TEXT {
                return Err(lua_error(
                    ScriptErrorKind::TypeMismatch,
                    format!("console.register: the help is longer than {MAX_TEXT} bytes"),
                ));
            }
            let full = lua.app_data_ref::<Callbacks>().is_some_and(|c| {
                c.commands.len() >= MAX_COMMANDS && !c.commands.contains_key(&name)
            });
            if full {
                return Err(lua_error(
                    ScriptErrorKind::Runtime,
                    format!("console.register: scripts have {MAX_COMMANDS} commands already"),
                ));
            }
            let callback = Callback {
                owner: owner.clone(),
                function: f,
                alive: Arc::new(AtomicBool::new(true)),
            };
            if let Some(mut callbacks) = lua.app_data_mut::<Callbacks>() {
                callbacks.commands.insert(name, (callback, help));
            }
            Ok(())
        },
    )?;
    console.raw_set("register", register)?;
    console.set_readonly(true);
    env.raw_set("console", console)
}

/// The commands scripts registered, with their help.
pub(crate) fn lua_commands(lua: &Lua) -> Vec<(String, String)> {
    lua.app_data_ref::<Callbacks>()
        .map(|c| {
            c.commands
                .iter()
                .map(|(n, (_, h))| (n.clone(), h.clone()))
                .collect()
        })
        .unwrap_or_default()
}

/// Calls the Lua command `name` with `args`; `None` when there is no such command.
pub(crate) fn call_lua_command(
    lua: &Lua,
    name: &str,
    args: &[String],
) -> Option<Result<String, ScriptError>> {
    let (function, owner) = lua.app_data_ref::<Callbacks>().and_then(|c| {
        c.commands
            .get(name)
            .map(|(cb, _)| (cb.function.clone(), cb.owner.clone()))
    })?;
    let limit = lua
        .app_data_ref::<CallLimits>()
        .map_or(Limits::NONE, |l| l.0);
    let caller = Caller {
        script: owner.id,
        entity: None,
    };
    // The result becomes text inside the call, so a `__tostring` runs under its limits too.
    let call = || {
        let args = lua.create_sequence_from(args.iter().map(String::as_str))?;
        text(&function.call::<MultiValue>(args)?)
    };
    let site = Some(Site::Command(name));
    let (result, exhausted) = call_as(lua, Some(caller), site, limit, call);
    Some(result.map_err(|error| ScriptError::from_lua(&owner.path, &error, exhausted)))
}

/// Runs `lua <code>`: as an expression when it is one (showing its value), else as statements,
/// in a global table kept for the console. Only source text is accepted: Luau's bytecode loader
/// trusts its input, and a line starting with a control byte would otherwise reach it.
pub(crate) fn run_lua(lua: &Lua, code: &str) -> Result<String, ScriptError> {
    let failed = |error: mlua::Error, exhausted: Option<ScriptErrorKind>| {
        ScriptError::from_lua("console", &error, exhausted).with_origin(ErrorOrigin::Console)
    };
    let env = console_env(lua).map_err(|e| failed(e, None))?;
    let expression = format!("return {code}");
    let chunk = lua
        .load(expression.as_str())
        .set_name("=console")
        .set_mode(ChunkMode::Text)
        .set_environment(env.clone())
        .into_function()
        .or_else(|_| {
            lua.load(code)
                .set_name("=console")
                .set_mode(ChunkMode::Text)
                .set_environment(env)
                .into_function()
        })
        .map_err(|e| failed(e, None))?;
    let limit = lua
        .app_data_ref::<CallLimits>()
        .map_or(Limits::NONE, |l| l.0);
    // As for commands, the value becomes text inside the budget.
    let (result, exhausted) = Budget::run(limit, || text(&chunk.call::<MultiValue>(())?));
    result.map_err(|e| failed(e, exhausted.map(Into::into)))
}

/// The global table of `lua <code>`, made on first use and kept.
///
/// Lua app data: borrow it only between calls into Lua, never across one (see `crate::runtime`).
struct ConsoleEnv(Option<Table>);

fn console_env(lua: &Lua) -> mlua::Result<Table> {
    if let Some(env) = lua.app_data_ref::<ConsoleEnv>().and_then(|e| e.0.clone()) {
        return Ok(env);
    }
    let owner = Owner {
        id: crate::runtime::context::next_id(),
        path: Arc::from("console"),
    };
    // The environment a module of the main VM gets, which the engine installed.
    let build = lua
        .app_data_ref::<crate::api::require::ModuleEnv>()
        .map(|build| build.0)
        .ok_or_else(|| mlua::Error::runtime("the console's Lua needs the main VM"))?;
    let env = build(lua, &owner, "console", &lua.create_table()?)?;
    if let Some(mut slot) = lua.app_data_mut::<ConsoleEnv>() {
        slot.0 = Some(env.clone());
    }
    Ok(env)
}

fn text(values: &MultiValue) -> mlua::Result<String> {
    let mut parts = Vec::new();
    for value in values {
        parts.push(value.to_string()?);
    }
    Ok(parts.join("\t"))
}
