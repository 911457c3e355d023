//! The MUD's own Lua library, `rooms`: questions about the map that Rust answers from its
//! queries at once, inside the calling script (`app.add_script_function`), where the scripts
//! used to scan every entity of a kind themselves.

use crate::components::{Carried, Location, Room};
use bevy_app::{App, Plugin};
use bevy_ecs::prelude::*;
use bevy_luau::prelude::*;

/// Registers `rooms.find`, `rooms.contents` and `rooms.carried`.
pub struct MudApiPlugin;

impl Plugin for MudApiPlugin {
    fn build(&self, app: &mut App) {
        app.add_script_function(
            "rooms.find",
            find.doc("The room with this key (`temple`), or nil."),
        )
        .add_script_function(
            "rooms.contents",
            contents.doc(
                "Everything whose Location is this room: players, NPCs and items on the ground.",
            ),
        )
        .add_script_function(
            "rooms.carried",
            carried.doc("The items this entity carries."),
        );
    }
}

fn find(In(key): In<String>, rooms: Query<(Entity, &Room)>) -> Option<Entity> {
    rooms
        .iter()
        .find(|(_, room)| room.key == key)
        .map(|(entity, _)| entity)
}

fn contents(In(room): In<Entity>, located: Query<(Entity, &Location)>) -> Vec<Entity> {
    located
        .iter()
        .filter(|(_, location)| location.room == room)
        .map(|(entity, _)| entity)
        .collect()
}

fn carried(In(carrier): In<Entity>, items: Query<(Entity, &Carried)>) -> Vec<Entity> {
    items
        .iter()
        .filter(|(_, carried)| carried.by == carrier)
        .map(|(entity, _)| entity)
        .collect()
}
