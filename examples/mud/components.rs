//! The MUD's data: the components and messages its scripts work with, and its Rust-side CVars.
//! Rust defines their shapes; every rule about them is Luau in `assets/games/mud/scripts/`.
//! The `typedefs` example describes them to luau-lsp.

use bevy_app::{App, Plugin};
use bevy_ecs::prelude::*;
use bevy_luau::prelude::*;
use bevy_reflect::Reflect;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// A connected client. Inserted by Rust when it connects; the entity is despawned when it
/// leaves.
#[derive(Component, Reflect, Debug)]
#[reflect(Component)]
pub struct Session {
    /// The connection's id, which [`Tell`] and [`Hangup`] address.
    pub id: u64,
}

/// A player's progress, added by the login script.
#[derive(Component, Reflect, Debug)]
#[reflect(Component)]
pub struct Player {
    /// NPCs this player has killed.
    pub kills: u32,
    /// Times this player has died.
    pub deaths: u32,
}

/// A place. `key` is the stable name scripts use for it.
#[derive(Component, Reflect, Debug)]
#[reflect(Component)]
pub struct Room {
    /// The room's stable key (`square`).
    pub key: String,
    /// The room's title (`Village Square`).
    pub title: String,
    /// What `look` shows.
    pub description: String,
}

/// The ways out of a room, by direction.
#[derive(Component, Reflect, Debug)]
#[reflect(Component)]
pub struct Exits {
    /// Direction (`north`) to room entity.
    pub to: HashMap<String, Entity>,
}

/// The room something is in.
#[derive(Component, Reflect, Debug)]
#[reflect(Component)]
pub struct Location {
    /// The room entity.
    pub room: Entity,
}

/// Hit points.
#[derive(Component, Reflect, Debug)]
#[reflect(Component)]
pub struct Health {
    /// Current hit points; at 0 the owner dies.
    pub current: i32,
    /// The most it heals to.
    pub max: i32,
}

/// A non-player character.
#[derive(Component, Reflect, Debug)]
#[reflect(Component)]
pub struct Npc {
    /// Its kind, a key of the scripts' NPC table (`rat`).
    pub kind: String,
    /// The most damage one of its blows does.
    pub damage: i32,
    /// Whether it attacks players on sight.
    pub aggressive: bool,
    /// Whether it walks around.
    pub wanders: bool,
    /// The room it respawns in.
    pub home: Entity,
}

/// Something that can be picked up.
#[derive(Component, Reflect, Debug)]
#[reflect(Component)]
pub struct Item {
    /// What `look` at it says.
    pub description: String,
    /// Extra damage when carried into a fight.
    pub damage: i32,
}

/// Who carries an item.
#[derive(Component, Reflect, Debug)]
#[reflect(Component)]
pub struct Carried {
    /// The carrier.
    pub by: Entity,
}

/// An ongoing fight.
#[derive(Component, Reflect, Debug)]
#[reflect(Component)]
pub struct Fighting {
    /// Whom this one is hitting.
    pub target: Entity,
}

/// Directions an NPC is walking, computed by a worker job.
#[derive(Component, Reflect, Debug)]
#[reflect(Component)]
pub struct Route {
    /// The steps left, first first.
    pub steps: Vec<String>,
}

/// An NPC that will come back.
#[derive(Component, Reflect, Debug)]
#[reflect(Component)]
pub struct Respawn {
    /// Its kind.
    pub kind: String,
    /// Where it comes back.
    pub room: Entity,
    /// Game time (seconds) when it comes back.
    pub at: f64,
}

/// Lua → Rust: text for one client (`events.emit("Tell", {session = id, text = "..."})`).
/// It crosses to Lua through serde; it is reflected too, so the type definitions describe its
/// fields.
#[derive(Message, Reflect, Serialize, Deserialize, Debug, Clone)]
pub struct Tell {
    /// The [`Session`] id.
    pub session: u64,
    /// The text; `\n` separates lines.
    pub text: String,
}

/// Lua → Rust: closes a client's connection after what was told to it. Reflected, like
/// [`Tell`], for the type definitions.
#[derive(Message, Reflect, Serialize, Deserialize, Debug, Clone)]
pub struct Hangup {
    /// The [`Session`] id.
    pub session: u64,
}

/// Registers the MUD's components (for reflection, so scripts reach them by name), its
/// messages (through serde, and for reflection so their type definitions have fields) and the
/// server's CVars.
pub struct MudTypesPlugin;

impl Plugin for MudTypesPlugin {
    fn build(&self, app: &mut App) {
        app.register_type::<Session>()
            .register_type::<Player>()
            .register_type::<Room>()
            .register_type::<Exits>()
            .register_type::<Location>()
            .register_type::<Health>()
            .register_type::<Npc>()
            .register_type::<Item>()
            .register_type::<Carried>()
            .register_type::<Fighting>()
            .register_type::<Route>()
            .register_type::<Respawn>()
            .register_type::<Tell>()
            .register_type::<Hangup>()
            .register_script_message::<Tell>()
            .register_script_message::<Hangup>()
            .register_cvar(
                "sv_port",
                4000,
                "TCP port on 127.0.0.1 the server listens on, read at startup (0 picks a free one)",
                CVarFlags::empty(),
            )
            .register_cvar(
                "sv_max_clients",
                32,
                "how many clients may be connected at once",
                CVarFlags::empty(),
            )
            .register_cvar(
                "sv_max_pending",
                8,
                "how many of them may be still logging in; newer connections are turned away",
                CVarFlags::empty(),
            )
            .register_cvar(
                "sv_login_timeout",
                60.0,
                "seconds a client has to log in before it is disconnected (0: no limit)",
                CVarFlags::empty(),
            );
    }
}
