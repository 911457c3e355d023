//! Type definitions for the editor: a headless app registers its scripting types the way a
//! game does (a serde component, reflected components and resources, a message, a CVar) and
//! writes `bevy_luau.d.luau`, a luau-lsp definitions file of the whole Lua API and those types,
//! at startup. Point luau-lsp at it and scripts get completion and, with `--!strict`, type
//! checks: `ecs.get(e, "Health")` is a `Health?`.
//!
//! ```sh
//! cargo run --example typedefs                  # writes ./bevy_luau.d.luau
//! cargo run --example typedefs -- types/game.d.luau
//! ```

use bevy_app::{App, Startup, TaskPoolPlugin};
use bevy_asset::AssetPlugin;
use bevy_ecs::message::Messages;
use bevy_ecs::prelude::*;
use bevy_log::LogPlugin;
use bevy_luau::prelude::*;
use bevy_luau::typedefs::write_typedefs;
use bevy_math::Vec3;
use bevy_reflect::Reflect;
use bevy_time::TimePlugin;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use std::process::ExitCode;

/// A serde component: scripts reach it, but its fields are unknown to the definitions unless
/// it is also registered for reflection (see `Inventory`).
#[derive(Component, Serialize, Deserialize)]
struct Health {
    current: f32,
    max: f32,
}

/// A serde component that is also reflected, so its fields are described.
#[derive(Component, Reflect, Serialize, Deserialize, Default)]
struct Inventory {
    items: Vec<String>,
    gold: u32,
}

/// A reflected component: found by scripts without any `register_script_*` call.
#[derive(Component, Reflect, Default)]
#[reflect(Component)]
struct Mover {
    velocity: Vec3,
    target: Option<Entity>,
    mode: MoveMode,
}

/// An enum in a reflected field: `"Walk" | "Run" | { Teleport: vector }` in Luau.
#[derive(Reflect, Default)]
enum MoveMode {
    #[default]
    Walk,
    Run,
    Teleport(Vec3),
}

/// A reflected resource.
#[derive(Resource, Reflect, Default)]
#[reflect(Resource)]
struct Score {
    points: u32,
    best: u32,
}

/// A message scripts emit and handle as the event `"Damage"`.
#[derive(Message, Serialize, Deserialize)]
struct Damage {
    amount: f32,
    kind: String,
}

fn main() -> ExitCode {
    let path = std::env::args_os()
        .nth(1)
        .map_or_else(|| PathBuf::from("bevy_luau.d.luau"), PathBuf::from);
    let mut app = App::new();
    app.add_plugins((
        TaskPoolPlugin::default(),
        TimePlugin,
        AssetPlugin::default(),
        LogPlugin::default(),
        LuauScriptingPlugin::default(),
    ))
    .register_script_component::<Health>()
    .register_script_component::<Inventory>()
    .register_type::<Inventory>()
    .register_type::<Mover>()
    .register_type::<Score>()
    .register_script_message::<Damage>()
    .register_cvar(
        "r_fov",
        75.0,
        "field of view, in degrees",
        CVarFlags::ARCHIVE,
    )
    .add_systems(Startup, write_typedefs(path.clone()));
    app.finish();
    app.cleanup();
    app.update();

    let errors: Vec<ScriptError> = app
        .world_mut()
        .resource_mut::<Messages<ScriptError>>()
        .drain()
        .collect();
    if errors.is_empty() {
        let shown = std::path::absolute(&path).unwrap_or(path);
        println!("wrote {}", shown.display());
        ExitCode::SUCCESS
    } else {
        for error in errors {
            eprintln!("{error}");
        }
        ExitCode::FAILURE
    }
}
