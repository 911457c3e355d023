//! Creating sandboxed Luau VMs: the standard library, limits, compiler options and the
//! per-script global tables.
//!
//! Every VM of the crate, the main one in [`ScriptEngine`](crate::ScriptEngine) and each worker,
//! comes from `new_vm`. It is in Luau sandbox mode: the built-in libraries and their metatables
//! are read-only, the shared global table is read-only, and each script runs in a global table
//! of its own (`script_env`) that reads through to the built-ins.
//!
//! # The instruction limit
//!
//! Luau calls an interrupt at every checkpoint: loop back-edges, calls and returns. The crate
//! installs a plain C-ABI interrupt that decrements a thread-local budget and raises an error
//! once it reaches zero, and keeps raising at every later checkpoint until the host call
//! returns, so `pcall` cannot swallow it. The budget is set by `Budget::run` around each call
//! from the host into Lua: each hook, event handler and script top level gets its own
//! [`ScriptConfig::instruction_limit`] checkpoints.
//!
//! A checkpoint can be slow: one `string.rep` or `table.concat` over megabytes takes
//! milliseconds, so a loop of them stays under the checkpoint limit for minutes. Every 64
//! checkpoints the interrupt also reads the clock (the first reading starts it, so short calls
//! never read it), and a call past
//! [`ScriptConfig::time_limit`] stops the same way, with a
//! [`TimeLimit`](crate::ScriptErrorKind::TimeLimit) error.

pub(crate) use crate::ffi::interrupt::{Budget, Limits};
use crate::value::install_entity_metatable;
use bevy_ecs::resource::Resource;
use mlua::chunk::Compiler;
use mlua::{Lua, LuaOptions, StdLib, Table};

/// Sandbox limits and compiler settings shared by the main VM and every worker VM.
#[derive(Resource, Debug, Clone, PartialEq)]
pub struct ScriptConfig {
    /// Most bytes one VM may allocate. An allocation past it fails with a
    /// [`MemoryLimit`](crate::ScriptErrorKind::MemoryLimit) error, and the VM stays usable.
    /// `0` means no limit. Default: 16 MiB.
    pub memory_limit: usize,
    /// Most interrupt checkpoints (loop iterations, calls and returns) one call from the host
    /// into Lua may pass: a hook, an event handler, a script's top level. A call that passes it
    /// stops with an [`InstructionLimit`](crate::ScriptErrorKind::InstructionLimit) error and the
    /// frame goes on. `0` means no limit. Default: 1,000,000.
    pub instruction_limit: u64,
    /// Most wall-clock time one call from the host into Lua may take, for the calls whose
    /// checkpoints are slow (a loop over `string.rep` of a megabyte passes few checkpoints a
    /// millisecond). A call that takes longer stops with a
    /// [`TimeLimit`](crate::ScriptErrorKind::TimeLimit) error and the frame goes on. The clock
    /// is read every 64 checkpoints, from the first reading on, so a call may overrun by about
    /// twice that many slow steps; a call that passes fewer checkpoints never reads it. `None`
    /// means no limit. Default: 1 second.
    pub time_limit: Option<std::time::Duration>,
    /// Compiles scripts to native code with Luau's code generator. It takes effect only with
    /// the cargo feature `luau-jit`; without it the setting is ignored with a warning.
    /// Default: `false`.
    pub native_codegen: bool,
    /// Per-script accounting in the main VM: every call into a script is timed, wrapped in a
    /// `tracing` span (target `bevy_luau::script`, at trace level) and run in its script's
    /// memory category, and [`ScriptProfiles`](crate::ScriptProfiles) keeps the figures.
    /// Default: `true`.
    pub profiling: bool,
    /// A time budget for the whole scripting step. A step that takes longer is reported, with
    /// the scripts that took the time, through the log and a
    /// [`ScriptBudgetExceeded`](crate::ScriptBudgetExceeded) message, at most once a second;
    /// scripts are never stopped because of it. Needs `profiling`. Default: `None` (off).
    pub frame_budget: Option<std::time::Duration>,
}

impl ScriptConfig {
    /// The defaults, as a constant: 16 MiB, 1,000,000 checkpoints, 1 second a call, no native
    /// code, accounting on, no frame budget.
    pub const DEFAULT: Self = Self {
        memory_limit: 16 * 1024 * 1024,
        instruction_limit: 1_000_000,
        time_limit: Some(std::time::Duration::from_secs(1)),
        native_codegen: false,
        profiling: true,
        frame_budget: None,
    };
}

impl ScriptConfig {
    /// What each call from the host into Lua may spend under this configuration.
    pub(crate) fn limits(&self) -> Limits {
        Limits {
            checkpoints: self.instruction_limit,
            time: self.time_limit,
        }
    }
}

impl Default for ScriptConfig {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// The real (read-only) global table of a VM, kept so script environments can read through
/// to it directly rather than through the shared sandbox proxy.
///
/// Lua app data: borrow it only between calls into Lua, never across one (see `crate::runtime`).
#[derive(Clone)]
pub(crate) struct BuiltinGlobals(pub Table);

/// Globals that each script gets its own version of. They must not exist in the shared global
/// table, or Luau's load-time import resolution would bind scripts to the shared ones.
pub(crate) const PER_SCRIPT_GLOBALS: &[&str] = &["print", "require", "loadstring"];

/// The compiler every chunk of the crate is compiled with: full optimizations, with line info
/// and function names kept for error messages and tracebacks. With the feature `debugger`,
/// debug level 2 also keeps the names of locals and upvalues, which costs nothing at run time.
pub(crate) fn compiler() -> Compiler {
    Compiler::new()
        .set_optimization_level(2)
        .set_debug_level(if cfg!(feature = "debugger") { 2 } else { 1 })
        .set_type_info_level(1)
}

/// Creates a sandboxed VM with the limits of `config`.
///
/// `install` runs before the sandbox is sealed and adds the shared libraries (those whose
/// functions do not depend on the calling script); after sealing nothing can add globals.
pub(crate) fn new_vm(
    config: &ScriptConfig,
    install: impl FnOnce(&Lua, &Table) -> mlua::Result<()>,
) -> mlua::Result<Lua> {
    let lua = Lua::new_with(StdLib::ALL_SAFE, LuaOptions::new())?;
    lua.set_compiler(compiler());
    configure_codegen(&lua, config.native_codegen);

    let globals = lua.globals();
    // mlua's default `require` reads the file system and its `loadstring` loads into the
    // shared environment; each script gets its own versions of both instead. `print` goes too:
    // Luau resolves a global that exists in the shared table as a constant at load time, so a
    // per-script `print` would never be seen while the built-in one exists.
    for per_script in PER_SCRIPT_GLOBALS {
        globals.raw_remove(*per_script)?;
    }
    install_entity_metatable(&lua)?;
    install(&lua, &globals)?;

    lua.sandbox(true)?;
    // The sandbox proxy shared by all threads must not carry values between scripts.
    lua.globals().set_readonly(true);
    lua.set_app_data(BuiltinGlobals(globals));

    if config.memory_limit > 0 {
        lua.set_memory_limit(config.memory_limit)?;
    }
    crate::ffi::interrupt::install(&lua)?;
    Ok(lua)
}

/// A fresh global table for one script: writes stay in it, reads fall through to the
/// built-ins. Marked `safeenv` like Luau's own sandboxed threads, so imports such as
/// `math.floor` stay on the fast path.
pub(crate) fn script_env(lua: &Lua) -> mlua::Result<Table> {
    let builtins = lua
        .app_data_ref::<BuiltinGlobals>()
        .map(|g| g.0.clone())
        .ok_or_else(|| mlua::Error::runtime("the VM was not created by bevy_luau"))?;
    let env = lua.create_table()?;
    let meta = lua.create_table_from([("__index", builtins)])?;
    meta.set_readonly(true);
    env.set_metatable(Some(meta))?;
    env.set_safeenv(true);
    Ok(env)
}

#[cfg(feature = "luau-jit")]
fn configure_codegen(lua: &Lua, enabled: bool) {
    lua.enable_jit(enabled);
}

#[cfg(not(feature = "luau-jit"))]
fn configure_codegen(_lua: &Lua, enabled: bool) {
    if enabled {
        tracing::warn!(
            "ScriptConfig::native_codegen is set, but bevy_luau was built without the \
             `luau-jit` feature; scripts are interpreted"
        );
    }
}

/// Runs `f`, a conversion between Rust and Lua values, with the VM's memory limit lifted, and
/// then holds the limit to what it made: a VM that ends up past its limit gets the memory error
/// an allocation of Lua code would have raised.
///
/// While a limit is set, mlua guards every table and string it creates from Rust with a
/// protected call that allocates a closure, which is most of the cost of converting a small
/// value. No Lua code runs during a conversion and what it allocates is bounded by the value
/// converted, so the limit is lifted for its length and restored after (also on panic), and the
/// VM's memory is checked once at the end instead.
pub(crate) fn converting<T>(lua: &Lua, f: impl FnOnce() -> mlua::Result<T>) -> mlua::Result<T> {
    struct Restore<'a>(&'a Lua, usize);
    impl Drop for Restore<'_> {
        fn drop(&mut self) {
            if self.1 > 0 {
                let _ = self.0.set_memory_limit(self.1);
            }
        }
    }
    let limit = lua.set_memory_limit(0).unwrap_or(0);
    let restore = Restore(lua, limit);
    let converted = f()?;
    drop(restore);
    if limit > 0 && lua.used_memory() > limit {
        return Err(mlua::Error::MemoryError("not enough memory".to_owned()));
    }
    Ok(converted)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vm() -> Lua {
        new_vm(&ScriptConfig::default(), |_, _| Ok(())).expect("vm")
    }

    #[test]
    fn infinite_loop_stops_at_the_budget_and_pcall_cannot_swallow_it() {
        let lua = vm();
        let env = script_env(&lua).unwrap();
        let f = lua
            .load("while true do pcall(function() while true do end end) end")
            .set_environment(env)
            .into_function()
            .unwrap();
        let limits = Limits {
            checkpoints: 10_000,
            time: None,
        };
        let (result, stopped) = Budget::run(limits, || f.call::<()>(()));
        assert!(result.is_err());
        assert_eq!(stopped, Some(crate::ffi::interrupt::Spent::Instructions));
        // The next call gets a fresh budget.
        let (result, stopped) = Budget::run(limits, || lua.load("return 1 + 1").eval::<i32>());
        assert_eq!(result.unwrap(), 2);
        assert_eq!(stopped, None);
    }

    #[test]
    fn memory_bomb_fails_and_the_vm_stays_usable() {
        let config = ScriptConfig {
            memory_limit: 4 * 1024 * 1024,
            ..Default::default()
        };
        let lua = new_vm(&config, |_, _| Ok(())).unwrap();
        let err = lua
            .load("local t = {} while true do t[#t + 1] = string.rep('x', 1024) end")
            .exec()
            .unwrap_err();
        assert!(matches!(err, mlua::Error::MemoryError(_)), "{err:?}");
        lua.gc_collect().unwrap();
        assert_eq!(lua.load("return 40 + 2").eval::<i32>().unwrap(), 42);
    }

    #[test]
    fn conversions_lift_the_memory_limit_only_while_they_run() {
        let config = ScriptConfig {
            memory_limit: 4 * 1024 * 1024,
            ..Default::default()
        };
        let lua = new_vm(&config, |_, _| Ok(())).unwrap();
        let inside = converting(&lua, || lua.set_memory_limit(0)).unwrap();
        assert_eq!(inside, 0, "no limit while converting");
        let bomb = converting(&lua, || {
            let t = lua.create_table()?;
            for i in 1..200_000 {
                t.raw_set(i, lua.create_table()?)?;
            }
            Ok(t)
        });
        assert!(
            matches!(bomb, Err(mlua::Error::MemoryError(_))),
            "a conversion past the limit is a memory error: {bomb:?}"
        );
        let err = lua
            .load("local t = {} while true do t[#t + 1] = string.rep('x', 1024) .. #t end")
            .exec()
            .unwrap_err();
        assert!(
            matches!(err, mlua::Error::MemoryError(_)),
            "the limit is back: {err:?}"
        );
    }

    #[test]
    fn script_envs_are_separate_and_builtins_read_only() {
        let lua = vm();
        let a = script_env(&lua).unwrap();
        let b = script_env(&lua).unwrap();
        lua.load("shared = 1")
            .set_environment(a.clone())
            .exec()
            .unwrap();
        let seen: Option<i32> = lua.load("return shared").set_environment(b).eval().unwrap();
        assert_eq!(seen, None);
        let err = lua
            .load("math.floor = nil")
            .set_environment(a.clone())
            .exec()
            .unwrap_err();
        assert!(err.to_string().contains("readonly"), "{err}");
        let err = lua
            .load("getfenv(0).leak = 1")
            .set_environment(a)
            .exec()
            .unwrap_err();
        assert!(err.to_string().contains("readonly"), "{err}");
    }

    #[test]
    fn host_access_is_closed() {
        let lua = vm();
        let env = script_env(&lua).unwrap();
        let missing: Vec<String> = lua
            .load(
                "local found = {}
                 for _, name in {'io', 'loadfile', 'dofile', 'load', 'require', 'loadstring'} do
                     if _G[name] ~= nil then table.insert(found, name) end
                 end
                 if os.execute or os.exit or os.getenv or os.remove then table.insert(found, 'os.*') end
                 return found",
            )
            .set_environment(env)
            .eval()
            .unwrap();
        assert!(missing.is_empty(), "available: {missing:?}");
    }
}
