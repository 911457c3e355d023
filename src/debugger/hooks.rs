//! The debugger's side of [`crate::debug`].

use super::ScriptDebugger;
use super::session::Session;
use super::stop;
use super::vm::{self, VmDebug};
use crate::vm::ScriptConfig;
use bevy_ecs::world::World;
use mlua::Lua;
use std::sync::atomic::Ordering;
use std::sync::{Arc, OnceLock};

/// Whether `lua` is under a debugger whose client stops at errors.
pub(crate) fn catches(lua: &Lua) -> bool {
    lua.app_data_ref::<VmDebug>()
        .is_some_and(|vm| vm.session.errors.load(Ordering::Relaxed))
}

/// Sends a line a script wrote to an attached client.
pub(crate) fn output(lua: &Lua, level: &str, text: &str) {
    let Some(session) = lua.app_data_ref::<VmDebug>().map(|vm| vm.session.clone()) else {
        return;
    };
    let category = match level {
        "warn" | "error" => "stderr",
        _ => "stdout",
    };
    session.output(category, format!("{text}\n"));
}

/// At the start of a scripting step: puts the main VM and the actor VMs under the debugger
/// (the first time), applies changed breakpoints, and arms a pause asked for.
pub(crate) fn before_step<'a>(
    world: &World,
    main: &Lua,
    actors: impl Iterator<Item = &'a Lua>,
    config: &ScriptConfig,
) {
    let Some(debugger) = world.get_resource::<ScriptDebugger>() else {
        return;
    };
    let session = &debugger.session;
    // The pool may be made after the debugger plugin finished (plugin order).
    if let Some(pool) = world.get_resource::<crate::StatePool>() {
        pool.link_debugger(session);
    }
    let pause = session.pause.load(Ordering::Acquire);
    let main = std::iter::once((main, None));
    for (lua, actor) in main.chain(actors.enumerate().map(|(i, lua)| (lua, Some(i)))) {
        let who = || match actor {
            None => (1, "main".to_owned()),
            Some(index) => actor_thread(index),
        };
        if !put_under(lua, session, who, config) {
            continue;
        }
        vm::refresh(lua);
        if pause {
            vm::arm_pause(lua);
        }
    }
}

/// The protocol thread id and name of actor VM `index`.
fn actor_thread(index: usize) -> (i64, String) {
    (100 + index as i64, format!("actor {}", index + 1))
}

/// Puts `lua` under the debugger of `session` unless it is already, as the thread `who`
/// names (asked only then); whether it is under it now. A failure is logged.
fn put_under(
    lua: &Lua,
    session: &Arc<Session>,
    who: impl FnOnce() -> (i64, String),
    config: &ScriptConfig,
) -> bool {
    if vm::installed(lua) {
        return true;
    }
    let (thread, name) = who();
    match vm::install(
        lua,
        session,
        (thread, name.clone()),
        config.limits(),
        stop::handler,
    ) {
        Ok(()) => true,
        Err(error) => {
            tracing::error!(target: "bevy_luau", "the debugger could not attach to {name}: {error}");
            false
        }
    }
}

/// An actor VM was made: puts it under the debugger at once, named as `before_step` names it.
pub(crate) fn actor_made(world: &World, lua: &Lua, index: usize, config: &ScriptConfig) {
    if let Some(debugger) = world.get_resource::<ScriptDebugger>() {
        put_under(lua, &debugger.session, || actor_thread(index), config);
    }
}

/// The worker pool's link to a debugger, set when the debugger plugin finishes.
#[derive(Debug, Default)]
pub(crate) struct PoolLink(OnceLock<Arc<Session>>);

impl PoolLink {
    /// Links the pool to `session`, the first time only.
    pub(crate) fn set(&self, session: &Arc<Session>) {
        if self.0.get().is_none() {
            let _ = self.0.set(session.clone());
        }
    }
}

/// A worker VM was built or leased: puts it under the debugger and applies the breakpoints.
pub(crate) fn on_worker(lua: &Lua, link: &PoolLink, config: &ScriptConfig) {
    let Some(session) = link.0.get() else {
        return;
    };
    let who = || {
        let thread = 1000 + session.next_id();
        (thread, format!("worker {}", thread - 1000))
    };
    if put_under(lua, session, who, config) {
        vm::refresh(lua);
    }
}
