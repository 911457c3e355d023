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
/// (once), applies changed breakpoints, and arms a pause asked for.
pub(crate) fn before_step<'a>(
    world: &World,
    main: &Lua,
    actors: impl Iterator<Item = &'a Lua>,
    config: &ScriptConfig,
) {
    let Some(debugger) = world.get_resource::<ScriptDebugger>() else {
        return;
    };
    let session = debugger.session.clone();
    // The pool may be made after the debugger plugin finished (plugin order).
    if let Some(pool) = world.get_resource::<crate::StatePool>() {
        pool.link_debugger(session.clone());
    }
    let pause = session.pause.load(Ordering::Acquire);
    let limits = config.limits();
    let vms = std::iter::once((1, "main".to_owned(), main)).chain(
        actors
            .enumerate()
            .map(|(i, lua)| (100 + i as i64, format!("actor {}", i + 1), lua)),
    );
    for (thread, name, lua) in vms {
        if let Err(error) = vm::install(lua, &session, (thread, name), limits, stop::handler) {
            tracing::error!(target: "bevy_luau", "the debugger could not attach to a VM: {error}");
            continue;
        }
        vm::refresh(lua);
        if pause {
            vm::arm_pause(lua);
        }
    }
}

/// An actor VM was made: puts it under the debugger at once, as `before_step` names it.
pub(crate) fn actor_made(world: &World, lua: &Lua, index: usize, config: &ScriptConfig) {
    let Some(debugger) = world.get_resource::<ScriptDebugger>() else {
        return;
    };
    let (thread, name) = (100 + index as i64, format!("actor {}", index + 1));
    if let Err(error) = vm::install(
        lua,
        &debugger.session,
        (thread, name),
        config.limits(),
        stop::handler,
    ) {
        tracing::error!(target: "bevy_luau", "the debugger could not attach to an actor VM: {error}");
    }
}

/// The worker pool's link to a debugger, set when the debugger plugin finishes.
#[derive(Debug, Default)]
pub(crate) struct PoolLink(OnceLock<Arc<Session>>);

impl PoolLink {
    /// Links the pool to `session`.
    pub(crate) fn set(&self, session: Arc<Session>) {
        let _ = self.0.set(session);
    }
}

/// A worker VM was built or leased: puts it under the debugger and applies the breakpoints.
pub(crate) fn on_worker(lua: &Lua, link: &PoolLink, config: &ScriptConfig) {
    let Some(session) = link.0.get() else {
        return;
    };
    let thread = 1000 + session.next_id();
    let name = format!("worker {}", thread - 1000);
    if let Err(error) = vm::install(lua, session, (thread, name), config.limits(), stop::handler) {
        tracing::error!(target: "bevy_luau", "the debugger could not attach to a worker VM: {error}");
        return;
    }
    vm::refresh(lua);
}
