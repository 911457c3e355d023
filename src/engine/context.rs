//! What Lua functions of the main VM can reach while the scripting step runs: the world
//! (through a scoped handle), the frame's time, and the identity of the calling script.

use crate::error::{ScriptError, ScriptErrorKind};
use crate::fast::Shared;
use bevy_ecs::entity::Entity;
use mlua::Lua;
use std::sync::Arc;

/// Identifies one loaded version of a script; a hot reload gives the new version a new id.
pub(crate) type ScriptId = u64;

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

/// Runs `f`, a call from the host into Lua, as `caller` (when known) with a fresh instruction
/// budget of `limit`; returns its result and whether the budget ran out.
pub(crate) fn call_as<R>(caller: Option<Caller>, limit: u64, f: impl FnOnce() -> R) -> (R, bool) {
    let run = || crate::vm::Budget::run(limit, f);
    match caller {
        Some(caller) => caller.run(run),
        None => run(),
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

/// The asset path of every script version that ran, for errors raised later by its coroutines.
#[derive(Default)]
pub(crate) struct ScriptPaths(pub std::collections::HashMap<ScriptId, Arc<str>>);

/// Errors raised where no caller can take them (a method called from inside `ecs.despawn`),
/// written as messages at the end of the step.
#[derive(Default)]
pub(crate) struct ErrorSink(pub Vec<ScriptError>);

/// The instruction limit of the VM, for calls into Lua made from inside library functions.
#[derive(Default, Clone, Copy)]
pub(crate) struct InstructionLimit(pub u64);

/// The frame's time as the `time` library reports it.
#[derive(Default, Debug, Clone, Copy)]
pub(crate) struct StepTime {
    /// Seconds since the previous frame.
    pub delta: f64,
    /// Seconds since the app started.
    pub elapsed: f64,
    /// Scripting steps run so far, this one included.
    pub frame: u64,
}

impl StepTime {
    /// The time of the running (or last) step of `lua`'s VM.
    pub fn of(lua: &Lua) -> StepTime {
        Shared::of(lua).map(|s| s.time.get()).unwrap_or_default()
    }

    /// Makes `self` the time of `lua`'s VM.
    pub fn set(self, lua: &Lua) {
        if let Some(shared) = Shared::of(lua) {
            shared.time.set(self);
        }
    }
}

pub(crate) use crate::fast::{lend_world, with_world};

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
