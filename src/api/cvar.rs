//! The `cvar` library: console variables from Lua.
//!
//! ```lua
//! cvar.register("r_fov", 75, {description = "field of view", flags = {"archive"}, min = 30, max = 120})
//! cvar.get("r_fov")                      -- 75
//! cvar.set("r_fov", 90)                  -- type and range checked; errors keep the old value
//! cvar.on_change("r_fov", function(name, old, new) end)
//! cvar.on_change("r_fov", "OnFovChanged") -- a global of this script, looked up at each change
//! cvar.register("speed", 2, {type = "float"}) -- Luau has one number type: say which one
//! ```
//! A whole-number default registers an int CVar unless `type = "float"` says otherwise;
//! registering a name again with a number of the other kind keeps the first kind.
//! Changes from anywhere (Rust, Lua, the console, the CVar file) reach `on_change` handlers at
//! stage 2 of the next scripting step; a hot-reloaded script's handlers are replaced, not
//! added to. Worker VMs have `cvar.get` only, reading a snapshot the main thread keeps current.
//! In the parallel phase of actor VMs `cvar.set` is checked at the call and queued, applied
//! after the phase; `cvar.register` is refused there.

use crate::api::deferred::{self, Edit, Refusal};
use crate::api::function;
use crate::bridge::lent::{serial_only, with_world_ref};
use crate::cvar::{CVar, CVarFlags, CVarRegistry, CVarSnapshot, CVarValue};
use crate::error::{ScriptError, ScriptErrorKind, lua_error};
use crate::ffi::{self, Stack, fast_fn};
use crate::runtime::callbacks::{self, List};
use crate::runtime::context::{Owner, with_world};
use mlua::{Function, IntoLua, Lua, Table, Value};
use std::ffi::c_int;
use std::sync::Arc;

fast_fn!(Get, c"cvar.get", fast_get);

/// `cvar.get(name)` for a registered name; anything else goes to the safe implementation.
fn fast_get(stack: Stack<'_>) -> Option<c_int> {
    let name = stack.string(1)?;
    let name = std::str::from_utf8(name.bytes()).ok()?;
    let world = stack.shared()?.lent.borrow_ref()?;
    match world.get_resource::<CVarRegistry>()?.get(name)? {
        CVarValue::Bool(b) => stack.push_bool(*b),
        CVarValue::Int(i) => stack.push_number(*i as f64),
        CVarValue::Float(f) => stack.push_number(*f),
        CVarValue::String(s) => stack.push_str(s.as_bytes()),
    }
    Some(1)
}

/// Adds the shared part of `cvar` (`get`, `set`, `register`) to the main VM's globals. The
/// per-script `on_change` is added by [`install_for_script`].
pub(crate) fn install(lua: &Lua, globals: &Table) -> mlua::Result<()> {
    let cvar = lua.create_table()?;
    let slow = function::create(lua, "cvar.get", |lua, (name,): (mlua::LuaString,)| {
        let name = name.to_str()?;
        with_world_ref(lua, |world| {
            let value = world
                .get_resource::<CVarRegistry>()
                .and_then(|r| r.get(&name));
            value.map(|v| to_lua(lua, v)).transpose()
        })?
    })?;
    // Scripts read CVars every frame, often once per entity: the fast path answers a known
    // name from the Lua stack (see `crate::ffi`).
    cvar.raw_set("get", ffi::function::<Get>(lua, slow)?)?;
    cvar.raw_set(
        "set",
        function::create(lua, "cvar.set", |lua, (name, value): (String, Value)| {
            let value = from_lua(&value, 2, "cvar.set")?;
            deferred::edit(lua, "cvar.set", Set { name, value })
        })?,
    )?;
    cvar.raw_set(
        "register",
        function::create(
            lua,
            "cvar.register",
            |lua, (name, default, options): (String, Value, Option<Table>)| {
                // Registering belongs to a script's setup, which never runs in the phase.
                serial_only(lua, "cvar.register")?;
                let mut default = from_lua(&default, 2, "cvar.register")?;
                if let Some(options) = &options {
                    default = numeric_type(default, options.get("type")?)?;
                }
                let mut cvar = CVar::new(default, "", CVarFlags::empty());
                if let Some(options) = options {
                    cvar.description = options
                        .get::<Option<String>>("description")?
                        .unwrap_or_default();
                    cvar.flags = flags(options.get("flags")?)?;
                    cvar.min = options.get("min")?;
                    cvar.max = options.get("max")?;
                }
                with_world(lua, |world| {
                    registry(world, "cvar.register")?
                        .register(&name, cvar)
                        .map_err(|e| as_lua("cvar.register", e))
                })?
            },
        )?,
    )?;
    cvar.set_readonly(true);
    // Not in the globals: each script gets its own `cvar` with an `on_change` of its own, and a
    // shared one would shadow it through Luau's load-time import resolution.
    let _ = globals;
    lua.set_app_data(SharedCVar(cvar));
    Ok(())
}

/// The shared functions of `cvar`, copied into each script's table.
///
/// Lua app data: borrow it only between calls into Lua, never across one (see `crate::runtime`).
struct SharedCVar(Table);

/// Adds `cvar` to a worker VM: `get` only, from the snapshot.
pub(crate) fn install_for_worker(
    lua: &Lua,
    globals: &Table,
    snapshot: CVarSnapshot,
) -> mlua::Result<()> {
    let cvar = lua.create_table()?;
    cvar.raw_set(
        "get",
        function::create(lua, "cvar.get", move |lua, (name,): (String,)| {
            let value = snapshot.read().ok().and_then(|s| s.get(&name).cloned());
            value.map(|v| to_lua(lua, &v)).transpose()
        })?,
    )?;
    cvar.set_readonly(true);
    globals.raw_set("cvar", cvar)
}

/// Gives a script's environment its own `cvar` table: the shared functions plus an `on_change`
/// whose handlers belong to `owner`.
pub(crate) fn install_for_script(
    lua: &Lua,
    env: &Table,
    owner: &Owner,
    bind: &Function,
) -> mlua::Result<()> {
    let shared = lua
        .app_data_ref::<SharedCVar>()
        .map(|s| s.0.clone())
        .ok_or_else(|| mlua::Error::runtime("cvar needs the main VM"))?;
    let cvar = lua.create_table()?;
    for name in ["get", "set", "register"] {
        cvar.raw_set(name, shared.raw_get::<Value>(name)?)?;
    }
    let state = lua.create_table()?;
    state.raw_set("env", env)?;
    state.raw_set("owner_id", owner.id)?;
    state.raw_set("owner_path", &*owner.path)?;
    let on_change = lua
        .app_data_ref::<OnChange>()
        .map(|o| o.0.clone())
        .ok_or_else(|| mlua::Error::runtime("cvar needs the main VM"))?;
    cvar.raw_set("on_change", bind.call::<Function>((on_change, state))?)?;
    cvar.set_readonly(true);
    env.raw_set("cvar", cvar)
}

/// The shared implementations behind each script's `cvar.on_change`.
///
/// Lua app data: borrow it only between calls into Lua, never across one (see `crate::runtime`).
pub(crate) struct OnChange(pub Function);

/// Creates the shared `on_change`: `(state, name, handler)`, where a string handler names a
/// global of the script (`state.env`), looked up at each change.
pub(crate) fn create_on_change(lua: &Lua, bind: &Function) -> mlua::Result<()> {
    let lookup: Function = lua
        .load(
            r#"
            return function(target, name, old, new)
                local handler = target.env[target.global]
                if type(handler) ~= "function" then
                    error("cvar.on_change: the global `" .. target.global .. "` is not a function", 2)
                end
                return handler(name, old, new)
            end
            "#,
        )
        .set_name("=cvar")
        .call(())?;
    let bind = bind.clone();
    let on_change = function::create(
        lua,
        "cvar.on_change",
        move |lua, (state, name, handler): (Table, String, Value)| {
            let owner = Owner {
                id: state.raw_get("owner_id")?,
                path: Arc::from(state.raw_get::<String>("owner_path")?),
            };
            let function = match handler {
                Value::Function(f) => f,
                Value::String(global) => {
                    let target = lua.create_table()?;
                    target.raw_set("env", state.raw_get::<Table>("env")?)?;
                    target.raw_set("global", global)?;
                    bind.call::<Function>((&lookup, target))?
                }
                other => {
                    return Err(lua_error(
                        ScriptErrorKind::TypeMismatch,
                        format!(
                            "bad argument #2 to `cvar.on_change`: expected a function or the name of a global function, got {}",
                            function::describe(&other)
                        ),
                    ));
                }
            };
            callbacks::register(lua, List::CVar(&name), owner, function)
        },
    )?;
    lua.set_app_data(OnChange(on_change));
    Ok(())
}

/// `cvar.set`, its value read: what the main VM applies at once and the parallel phase checks
/// at the call and queues (see `crate::api::deferred`).
#[derive(Debug)]
struct Set {
    name: String,
    value: CVarValue,
}

impl Edit for Set {
    fn target(&self) -> Option<bevy_ecs::entity::Entity> {
        None
    }

    fn check(&self, world: &bevy_ecs::world::World) -> mlua::Result<()> {
        world
            .get_resource::<CVarRegistry>()
            .ok_or_else(|| no_cvars("cvar.set"))?
            .check(&self.name, self.value.clone())
            .map(|_| ())
            .map_err(|e| as_lua("cvar.set", e))
    }

    fn apply(self, world: &mut bevy_ecs::world::World) -> Result<(), Refusal> {
        registry(world, "cvar.set")?
            .set(&self.name, self.value)
            .map_err(|e| Refusal::Failed(as_lua("cvar.set", e)))
    }
}

fn no_cvars(name: &str) -> mlua::Error {
    lua_error(
        ScriptErrorKind::MissingPlugin,
        format!("{name}: there are no CVars"),
    )
}

fn registry<'w>(
    world: &'w mut bevy_ecs::world::World,
    name: &str,
) -> mlua::Result<bevy_ecs::world::Mut<'w, CVarRegistry>> {
    world
        .get_resource_mut::<CVarRegistry>()
        .ok_or_else(|| no_cvars(name))
}

fn as_lua(function: &str, error: ScriptError) -> mlua::Error {
    lua_error(error.kind, format!("{function}: {}", error.message))
}

/// A CVar value for Lua.
pub(crate) fn to_lua(lua: &Lua, value: &CVarValue) -> mlua::Result<Value> {
    match value {
        CVarValue::Bool(b) => Ok(Value::Boolean(*b)),
        CVarValue::Int(i) => Ok(Value::Number(*i as f64)),
        CVarValue::Float(f) => Ok(Value::Number(*f)),
        CVarValue::String(s) => s.as_str().into_lua(lua),
    }
}

fn from_lua(value: &Value, pos: usize, name: &'static str) -> mlua::Result<CVarValue> {
    match value {
        Value::Boolean(b) => Ok(CVarValue::Bool(*b)),
        Value::Integer(i) => Ok(CVarValue::Int(*i)),
        Value::Number(n) => Ok(CVarValue::Float(*n)),
        Value::String(s) => Ok(CVarValue::String(s.to_string_lossy())),
        other => Err(lua_error(
            ScriptErrorKind::TypeMismatch,
            format!(
                "bad argument #{pos} to `{name}`: a CVar holds a bool, number or string, not {}",
                function::describe(other)
            ),
        )),
    }
}

/// Applies the `type` option of `cvar.register` (`"int"` or `"float"`), which tells the two
/// apart where a Luau number cannot: `cvar.register("speed", 2, {type = "float"})`.
fn numeric_type(default: CVarValue, kind: Option<String>) -> mlua::Result<CVarValue> {
    let bad = |message: String| {
        lua_error(
            ScriptErrorKind::TypeMismatch,
            format!("bad argument #3 to `cvar.register`: {message}"),
        )
    };
    let like = match kind.as_deref() {
        None => return Ok(default),
        Some("int") => CVarValue::Int(0),
        Some("float") => CVarValue::Float(0.0),
        Some(other) => {
            return Err(bad(format!(
                "type must be \"int\" or \"float\", not \"{other}\""
            )));
        }
    };
    like.coerce_like(default)
        .map_err(|e| bad(format!("type \"{}\": {e}", like.type_name())))
}

fn flags(value: Value) -> mlua::Result<CVarFlags> {
    let names: Vec<String> = match value {
        Value::Nil => Vec::new(),
        Value::String(s) => s
            .to_string_lossy()
            .split(['|', ',', ' '])
            .filter(|n| !n.is_empty())
            .map(str::to_owned)
            .collect(),
        Value::Table(t) => t.sequence_values::<String>().collect::<mlua::Result<_>>()?,
        other => {
            return Err(lua_error(
                ScriptErrorKind::TypeMismatch,
                format!(
                    "cvar.register: flags are a list of names, got {}",
                    function::describe(&other)
                ),
            ));
        }
    };
    names.iter().try_fold(CVarFlags::empty(), |flags, name| {
        CVarFlags::parse_name(name)
            .map(|f| flags | f)
            .ok_or_else(|| {
                lua_error(
                    ScriptErrorKind::TypeMismatch,
                    format!("cvar.register: unknown flag `{name}` (archive, read_only, cheat)"),
                )
            })
    })
}
