//! What Lua functions of the main VM can reach while the scripting step runs: the world
//! (through a scoped handle, read-only in the parallel phase of actor VMs, see
//! `crate::bridge::lent`), the frame's time, and the identity of the calling script, whose
//! entity is the writer of the writes an actor queues (`crate::api::deferred`).

pub(crate) use super::identity::{ScriptId, ScriptPaths, next_id};
use super::profile::{Account, Site};
use crate::error::{ScriptError, ScriptErrorKind};
use crate::vm::Limits;
use bevy_ecs::entity::Entity;
use mlua::Lua;
use std::sync::Arc;

/// What the engine does for the layers below it, installed in the main VM's app data when the
/// engine starts: the runtime and the Lua libraries call up through it without importing the
/// engine.
///
/// Lua app data: borrow it only between calls into Lua, never across one (see `crate::runtime`).
#[derive(Clone, Copy)]
pub(crate) struct EngineHooks {
    /// Removes `entity`'s entity-script instance, running its `on_despawn` once, before a
    /// script despawns it (`ecs.despawn`, `commands.despawn`).
    pub despawned: fn(&Lua, Entity, Limits),
}

/// What the console (`crate::console`) does for `console.execute` and `console.register`,
/// installed in the main VM's app data by the plugin once both exist.
///
/// Lua app data: borrow it only between calls into Lua, never across one (see `crate::runtime`).
#[derive(Clone, Copy)]
pub(crate) struct ConsoleHooks {
    /// Runs a console line.
    pub execute: fn(&Lua, &str) -> Result<String, String>,
    /// Whether `name` is a built-in console command, which scripts cannot register.
    pub builtin: fn(&str) -> bool,
}

/// Runs the engine's [`EngineHooks::despawned`] for `entity`; nothing without an engine. The
/// hook is copied out first, so no app-data borrow is held while it runs Lua.
pub(crate) fn despawned(lua: &Lua, entity: Entity, limit: Limits) {
    let hooks = lua.app_data_ref::<EngineHooks>().map(|hooks| *hooks);
    if let Some(hooks) = hooks {
        (hooks.despawned)(lua, entity, limit);
    }
}

/// The console's hooks, copied out so no app-data borrow is held while they run.
fn console_hooks(lua: &Lua) -> Option<ConsoleHooks> {
    lua.app_data_ref::<ConsoleHooks>().map(|hooks| *hooks)
}

/// Runs a console line through the console.
pub(crate) fn console_execute(lua: &Lua, line: &str) -> Result<String, String> {
    match console_hooks(lua) {
        Some(hooks) => (hooks.execute)(lua, line),
        None => Err("the console needs LuauScriptingPlugin".to_owned()),
    }
}

/// Whether `name` is a built-in console command.
pub(crate) fn console_builtin(lua: &Lua, name: &str) -> bool {
    console_hooks(lua).is_some_and(|hooks| (hooks.builtin)(name))
}

/// The script a Lua function or callback belongs to.
#[derive(Debug, Clone)]
pub(crate) struct Owner {
    /// The loaded version the callback was registered by.
    pub id: ScriptId,
    /// The asset path of the script, for errors and logs.
    pub path: Arc<str>,
}

/// Who is running Lua right now: the script version and, for entity scripts, the entity.
/// Coroutines remember the caller that created them, so despawning an entity or reloading a
/// script can cancel them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Caller {
    /// The script version.
    pub script: ScriptId,
    /// The entity of an entity script.
    pub entity: Option<Entity>,
}

thread_local! {
    static CALLER: std::cell::Cell<Option<Caller>> = const { std::cell::Cell::new(None) };
}

impl Caller {
    /// Runs `f` with `self` as the current caller, restoring the previous one after, also
    /// when `f` unwinds.
    pub fn run<R>(self, f: impl FnOnce() -> R) -> R {
        /// Puts the previous caller back, on return and on unwind alike.
        struct Restore(Option<Caller>);
        impl Drop for Restore {
            fn drop(&mut self) {
                CALLER.set(self.0);
            }
        }
        let _restore = Restore(CALLER.replace(Some(self)));
        f()
    }

    /// The caller of the running Lua code, if any.
    pub fn current() -> Option<Caller> {
        CALLER.get()
    }
}

thread_local! {
    static FUNCTION: std::cell::Cell<Option<&'static str>> = const { std::cell::Cell::new(None) };
}

/// Runs `f`, the Rust side of the game function `name`, remembering the name for errors raised
/// inside it (`ScriptEngine::emit`, `Console::execute`), restoring the outer one after.
pub(crate) fn in_function<R>(name: &'static str, f: impl FnOnce() -> R) -> R {
    /// Puts the outer function back, on return and on unwind alike.
    struct Restore(Option<&'static str>);
    impl Drop for Restore {
        fn drop(&mut self) {
            FUNCTION.set(self.0);
        }
    }
    let _restore = Restore(FUNCTION.replace(Some(name)));
    f()
}

/// When `what` (a Rust call that runs Lua) was called from inside a game function, why it
/// cannot run: the VM is busy with the script that called the function.
pub(crate) fn reentered(what: &str) -> Option<String> {
    FUNCTION.get().map(|name| {
        format!(
            "{what} was called inside the script function `{name}`, which runs inside a \
             script: Lua cannot be entered again from there; write a ScriptEvent message \
             instead, which scripts handle later in the step"
        )
    })
}

/// Runs `f`, a call from the host into Lua, as `caller` (when known) with a fresh instruction
/// budget of `limits`; returns its result and the limit that stopped it, if one did.
///
/// `site` says what the call runs, for the accounting (see [`super::profile`]); `None` when
/// the caller accounts for a run of calls itself.
pub(crate) fn call_as<R>(
    lua: &Lua,
    caller: Option<Caller>,
    site: Option<Site<'_>>,
    limits: Limits,
    f: impl FnOnce() -> R,
) -> (R, Option<ScriptErrorKind>) {
    let _account = match (caller, site) {
        (Some(caller), Some(site)) => Account::begin(lua, caller.script, site),
        _ => None,
    };
    let run = || {
        let (result, spent) = crate::vm::Budget::run(limits, f);
        (result, spent.map(ScriptErrorKind::from))
    };
    match caller {
        Some(caller) => caller.run(run),
        None => run(),
    }
}

/// The error a host function raises after a call it made into Lua (a task, a console line,
/// an `on_despawn`) spent what its caller had left, so the caller stops there.
pub(crate) fn stop_if_spent() -> mlua::Result<()> {
    match crate::vm::Budget::spent() {
        Some(spent) => {
            let kind = ScriptErrorKind::from(spent);
            Err(crate::error::lua_error(kind, kind.to_string()))
        }
        None => Ok(()),
    }
}

/// Records an error a call into Lua raised, to be logged and sent when the step ends. After a
/// memory error the garbage is collected at once, so the next call does not fail too.
pub(crate) fn report(lua: &Lua, error: ScriptError) {
    if error.kind == ScriptErrorKind::MemoryLimit {
        let _ = lua.gc_collect();
    }
    if let Some(mut sink) = lua.app_data_mut::<ErrorSink>() {
        sink.0.push(error);
    }
}

/// The asset path of `caller`'s script, or `fallback` when unknown.
pub(crate) fn caller_path(lua: &Lua, caller: Option<Caller>, fallback: &str) -> Arc<str> {
    caller
        .and_then(|c| {
            lua.app_data_ref::<ScriptPaths>()
                .and_then(|p| p.0.get(&c.script).cloned())
        })
        .unwrap_or_else(|| Arc::from(fallback))
}

/// What the calls of one VM have copied out of Lua in one step into things that outlive the
/// call (events, commands), against [`MAX_BYTES`](crate::value::size::MAX_BYTES).
///
/// Lua app data: borrow it only between calls into Lua, never across one (see `crate::runtime`).
#[derive(Default)]
struct StepCopies {
    frame: u64,
    bytes: usize,
}

/// Charges `bytes` copied out of Lua by `function` to this step's allowance of `lua`'s VM: each
/// copy is bounded on its own, and this bounds a loop of them, which Rust would otherwise hold
/// (an event lives two frames) outside every VM's memory limit.
pub(crate) fn charge_step_copy(lua: &Lua, bytes: usize, function: &str) -> mlua::Result<()> {
    let frame = StepTime::of(lua).frame;
    if lua.app_data_ref::<StepCopies>().is_none() {
        lua.set_app_data(StepCopies::default());
    }
    let Some(mut copies) = lua.app_data_mut::<StepCopies>() else {
        return Ok(());
    };
    if copies.frame != frame {
        *copies = StepCopies { frame, bytes: 0 };
    }
    let total = copies.bytes.saturating_add(bytes);
    if total > crate::value::size::MAX_BYTES {
        return Err(crate::error::lua_error(
            ScriptErrorKind::MemoryLimit,
            format!(
                "{function}: this step's events and commands from this VM hold more than {} MiB \
                 already; send less, or spread it over more steps",
                crate::value::size::MAX_BYTES >> 20
            ),
        ));
    }
    copies.bytes = total;
    Ok(())
}

/// Marks an actor VM, which holds the instances of `ScriptActor` entity scripts.
///
/// Lua app data: borrow it only between calls into Lua, never across one (see `crate::runtime`).
#[derive(Clone, Copy, Debug)]
pub(crate) struct ActorVm;

/// Whether `lua` is an actor VM.
pub(crate) fn is_actor_vm(lua: &Lua) -> bool {
    lua.app_data_ref::<ActorVm>().is_some()
}

/// Errors raised where no caller can take them (a method called from inside `ecs.despawn`),
/// written as messages at the end of the step.
///
/// Lua app data: borrow it only between calls into Lua, never across one (see `crate::runtime`).
#[derive(Default)]
pub(crate) struct ErrorSink(pub Vec<ScriptError>);

/// The call limits of the VM, for calls into Lua made from inside library functions.
///
/// Lua app data: borrow it only between calls into Lua, never across one (see `crate::runtime`).
#[derive(Clone, Copy)]
pub(crate) struct CallLimits(pub Limits);

// The step's time is kept in the fast path's per-VM state, where `time.delta()` reads it.
pub(crate) use crate::bridge::lent::{StepTime, lend_world, with_world};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_caller_is_restored_when_its_call_unwinds() {
        let outer = Caller {
            script: 1,
            entity: None,
        };
        let inner = Caller {
            script: 2,
            entity: None,
        };
        outer.run(|| {
            let unwound =
                std::panic::catch_unwind(|| inner.run(|| panic!("the inner call unwinds")));
            assert!(unwound.is_err());
            assert_eq!(Caller::current(), Some(outer));
        });
        assert_eq!(Caller::current(), None);
    }
}
