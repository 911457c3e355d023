//! The registry of Lua callbacks, `hooks.on_update` and `events.on`, and their dispatch.
//!
//! The registry lives in the main VM's app data, so Lua functions add to it directly. A dispatch
//! takes the list it walks out of the registry first (a move, no allocation) and puts it back
//! after, so callbacks may register or disconnect callbacks while it runs: new ones join after
//! the walk, disconnected ones are skipped at once and swept when the list goes back.

use crate::runtime::context::{Owner, ScriptId};
use mlua::{Function, Lua, UserData, UserDataFields, UserDataMethods};
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// One registered Lua callback.
pub(crate) struct Callback {
    /// The script version that registered it.
    pub owner: Owner,
    /// The Lua function to call.
    pub function: Function,
    /// Cleared by `connection:disconnect()` or when the owning script unloads.
    pub alive: Arc<AtomicBool>,
}

impl Callback {
    /// Whether the callback is still connected.
    pub fn is_alive(&self) -> bool {
        self.alive.load(Ordering::Relaxed)
    }
}

/// All callbacks registered in one VM.
///
/// Lua app data: borrow it only between calls into Lua, never across one (see `crate::runtime`).
#[derive(Default)]
pub(crate) struct Callbacks {
    /// `hooks.on_update` callbacks, in registration order.
    pub on_update: Vec<Callback>,
    /// `events.on` handlers by event name, in registration order.
    pub events: HashMap<String, Vec<Callback>>,
    /// `cvar.on_change` handlers by CVar name, in registration order.
    pub cvars: HashMap<String, Vec<Callback>>,
    /// Console commands registered by scripts, by name, with their help.
    pub commands: BTreeMap<String, (Callback, String)>,
}

impl Callbacks {
    /// Disconnects every callback registered by script version `id`.
    pub fn disconnect_script(&mut self, id: ScriptId) {
        self.commands.retain(|_, (c, _)| c.owner.id != id);
        let lists = std::iter::once(&mut self.on_update)
            .chain(self.events.values_mut())
            .chain(self.cvars.values_mut());
        for list in lists {
            for callback in list.iter().filter(|c| c.owner.id == id) {
                callback.alive.store(false, Ordering::Relaxed);
            }
            list.retain(Callback::is_alive);
        }
    }

    /// Whether any callback is registered at all.
    pub fn is_empty(&self) -> bool {
        self.on_update.is_empty()
            && self.events.values().all(Vec::is_empty)
            && self.cvars.values().all(Vec::is_empty)
            && self.commands.is_empty()
    }

    /// The list `list` names; `create` makes a missing keyed list.
    fn list_mut(&mut self, list: List<'_>, create: bool) -> Option<&mut Vec<Callback>> {
        let (map, name) = match list {
            List::Update => return Some(&mut self.on_update),
            List::Event(name) => (&mut self.events, name),
            List::CVar(name) => (&mut self.cvars, name),
        };
        if create {
            Some(map.entry(name.to_owned()).or_default())
        } else {
            map.get_mut(name)
        }
    }
}

/// Which list of [`Callbacks`] a dispatch walks.
#[derive(Clone, Copy)]
pub(crate) enum List<'a> {
    /// `hooks.on_update`.
    Update,
    /// `events.on(name, ...)`.
    Event(&'a str),
    /// `cvar.on_change(name, ...)`.
    CVar(&'a str),
}

/// Adds a callback to `list`, returning its connection for Lua.
pub(crate) fn register(
    lua: &Lua,
    list: List<'_>,
    owner: Owner,
    function: Function,
) -> mlua::Result<Connection> {
    if crate::runtime::context::is_actor_vm(lua) {
        let (name, instead) = match list {
            List::Update => ("hooks.on_update", "the script's on_update method"),
            List::Event(_) => ("events.on", "the script's on_event method"),
            List::CVar(_) => ("cvar.on_change", "a global script"),
        };
        return Err(crate::error::lua_error(
            crate::error::ScriptErrorKind::Runtime,
            format!(
                "`{name}` is not available in actor scripts (their VM runs no global callbacks); use {instead}"
            ),
        ));
    }
    let alive = Arc::new(AtomicBool::new(true));
    let callback = Callback {
        owner,
        function,
        alive: alive.clone(),
    };
    let mut callbacks = lua
        .app_data_mut::<Callbacks>()
        .ok_or_else(|| mlua::Error::runtime("callbacks can only be registered in the main VM"))?;
    if let Some(slot) = callbacks.list_mut(list, true) {
        slot.push(callback);
    }
    Ok(Connection(alive))
}

/// Takes the callbacks of `list` out of the registry for a dispatch. Returns an empty list
/// (without allocating) when there are none.
pub(crate) fn take(lua: &Lua, list: List<'_>) -> Vec<Callback> {
    let Some(mut callbacks) = lua.app_data_mut::<Callbacks>() else {
        return Vec::new();
    };
    callbacks
        .list_mut(list, false)
        .map(std::mem::take)
        .unwrap_or_default()
}

/// Puts the callbacks of a finished dispatch back, before any registered during it, dropping
/// the disconnected ones.
pub(crate) fn restore(lua: &Lua, list: List<'_>, mut taken: Vec<Callback>) {
    let Some(mut callbacks) = lua.app_data_mut::<Callbacks>() else {
        return;
    };
    let create = !taken.is_empty();
    let Some(slot) = callbacks.list_mut(list, create) else {
        return;
    };
    let added = std::mem::take(slot);
    taken.extend(added);
    taken.retain(Callback::is_alive);
    *slot = taken;
}

/// What `hooks.on_update` and `events.on` return: `connection:disconnect()` stops the callback,
/// `connection.connected` tells whether it still runs.
pub(crate) struct Connection(Arc<AtomicBool>);

impl UserData for Connection {
    fn add_fields<F: UserDataFields<Self>>(fields: &mut F) {
        fields.add_field_method_get("connected", |_, this| Ok(this.0.load(Ordering::Relaxed)));
    }

    fn add_methods<M: UserDataMethods<Self>>(methods: &mut M) {
        methods.add_method("disconnect", |_, this, ()| {
            this.0.store(false, Ordering::Relaxed);
            Ok(())
        });
    }
}
