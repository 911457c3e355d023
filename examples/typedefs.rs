//! Type definitions for the editor: builds the MUD example game's app (its components,
//! messages, CVars and game template) without serving anything, and writes
//! `bevy_luau.d.luau`, a luau-lsp definitions file of the whole Lua API and those types, at
//! startup. Point luau-lsp at it and the game's scripts get completion and, with `--!strict`,
//! type checks: `ecs.get(e, "Health")` is a `Health?`.
//!
//! ```sh
//! cargo run --example typedefs                  # writes assets/games/mud/bevy_luau.d.luau
//! cargo run --example typedefs -- types/game.d.luau
//! ```
//! Your own game does the same with
//! `app.add_systems(Startup, bevy_luau::typedefs::write_typedefs("bevy_luau.d.luau"))`.

#[path = "mud/components.rs"]
mod components;

use bevy_app::{App, Startup, TaskPoolPlugin};
use bevy_asset::AssetPlugin;
use bevy_ecs::message::Messages;
use bevy_log::LogPlugin;
use bevy_luau::prelude::*;
use bevy_luau::typedefs::write_typedefs;
use bevy_time::TimePlugin;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

fn main() -> ExitCode {
    let assets = Path::new(env!("CARGO_MANIFEST_DIR")).join("assets");
    let path = std::env::args_os()
        .nth(1)
        .map_or_else(|| assets.join("games/mud/bevy_luau.d.luau"), PathBuf::from);
    let mut app = App::new();
    app.add_plugins((
        TaskPoolPlugin::default(),
        TimePlugin,
        AssetPlugin {
            file_path: assets.to_string_lossy().into_owned(),
            ..Default::default()
        },
        LogPlugin::default(),
        // The template registers the game's CVars, so `cvar.get("mud_tick")` is typed too.
        LuauScriptingPlugin {
            template: Some("games/mud".into()),
            ..Default::default()
        },
        components::MudTypesPlugin,
    ))
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
