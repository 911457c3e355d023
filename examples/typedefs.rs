//! Type definitions for the editor: builds the MUD example game's app (its components,
//! messages, CVars and game template) without serving anything, and writes two luau-lsp
//! definitions files at startup: `bevy_luau.d.luau`, the whole Lua API and those types, for the
//! game's scripts, and `workers.d.luau` beside it, what a worker VM has, for its worker scripts.
//! With them, luau-lsp completes names and, in strict mode, checks calls: `ecs.get(e, "Health")`
//! is a `Health?`.
//!
//! ```sh
//! cargo run --example typedefs                  # writes assets/games/mud/{bevy_luau,workers}.d.luau
//! cargo run --example typedefs -- types/game.d.luau
//! ```
//! Your own game does the same with
//! `app.add_systems(Startup, bevy_luau::typedefs::write_typedefs("bevy_luau.d.luau"))` and
//! `write_worker_typedefs("workers.d.luau")`. The checked-in files are kept current by
//! `tests/script_sets.rs`.

#[path = "mud/components.rs"]
mod components;

use bevy_app::{App, Startup, TaskPoolPlugin};
use bevy_asset::AssetPlugin;
use bevy_ecs::message::Messages;
use bevy_log::LogPlugin;
use bevy_luau::prelude::*;
use bevy_luau::typedefs::{write_typedefs, write_worker_typedefs};
use bevy_time::TimePlugin;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

fn main() -> ExitCode {
    let assets = Path::new(env!("CARGO_MANIFEST_DIR")).join("assets");
    let path = std::env::args_os()
        .nth(1)
        .map_or_else(|| assets.join("games/mud/bevy_luau.d.luau"), PathBuf::from);
    let workers = path.with_file_name("workers.d.luau");
    let mut app = app();
    app.add_plugins(LogPlugin::default()).add_systems(
        Startup,
        (
            write_typedefs(path.clone()),
            write_worker_typedefs(workers.clone()),
        ),
    );
    app.finish();
    app.cleanup();
    app.update();

    let errors: Vec<ScriptError> = app
        .world_mut()
        .resource_mut::<Messages<ScriptError>>()
        .drain()
        .collect();
    if errors.is_empty() {
        for path in [path, workers] {
            let shown = std::path::absolute(&path).unwrap_or(path);
            println!("wrote {}", shown.display());
        }
        ExitCode::SUCCESS
    } else {
        for error in errors {
            eprintln!("{error}");
        }
        ExitCode::FAILURE
    }
}

/// The MUD's app as far as its scripts can tell: its components and messages, and its game
/// template with the CVars it registers, without a server. `tests/script_sets.rs` checks the
/// MUD's scripts against the definitions generated from it.
pub fn app() -> App {
    let assets = Path::new(env!("CARGO_MANIFEST_DIR")).join("assets");
    let mut app = App::new();
    app.add_plugins((
        TaskPoolPlugin::default(),
        TimePlugin,
        AssetPlugin {
            file_path: assets.to_string_lossy().into_owned(),
            ..Default::default()
        },
        // The template registers the game's CVars, so `cvar.get("mud_tick")` is typed too.
        LuauScriptingPlugin {
            template: Some("games/mud".into()),
            ..Default::default()
        },
        components::MudTypesPlugin,
    ));
    app
}
