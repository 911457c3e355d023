//! Type definitions for the editor: builds the MUD example game's own app (its components,
//! messages, CVars and game template) without serving anything, and writes two luau-lsp
//! definitions files at startup: `bevy_luau.d.luau`, the whole Lua API and those types, for the
//! game's scripts, and `workers.d.luau` beside it, what a worker VM has, for its worker scripts.
//! With them, luau-lsp completes names and, in strict mode, checks calls: `ecs.get(e, "Health")`
//! is a `Health?`.
//!
//! ```sh
//! cargo run --all-features --example typedefs   # writes assets/games/mud/{bevy_luau,workers}.d.luau
//! cargo run --example typedefs -- types/game.d.luau
//! ```
//! The checked-in files are generated with every feature on (`input` adds its library), so
//! regenerate them with `--all-features`.
//! Your own game does the same with
//! `app.add_systems(Startup, bevy_luau::typedefs::write_typedefs("bevy_luau.d.luau"))` and
//! `write_worker_typedefs("workers.d.luau")`. The checked-in files are kept current by
//! `tests/script_sets.rs`, which builds the same app.

// The MUD's own app (`game::app`), with the modules it is made of.
#[path = "mud/api.rs"]
mod api;
#[path = "mud/components.rs"]
mod components;
#[path = "mud/game.rs"]
mod game;
#[path = "mud/net.rs"]
mod net;

use bevy_luau::typedefs::{write, write_workers};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

fn main() -> ExitCode {
    let assets = Path::new(env!("CARGO_MANIFEST_DIR")).join("assets");
    let path = std::env::args_os()
        .nth(1)
        .map_or_else(|| assets.join("games/mud/bevy_luau.d.luau"), PathBuf::from);
    let workers = path.with_file_name("workers.d.luau");
    // Built but never updated: the game template registers its CVars as the app is built, and
    // no server starts.
    let mut app = game::app(assets, None);
    app.finish();
    app.cleanup();
    let written = write(app.world(), &path).and_then(|()| write_workers(app.world(), &workers));
    match written {
        Ok(()) => {
            for path in [path, workers] {
                let shown = std::path::absolute(&path).unwrap_or(path);
                println!("wrote {}", shown.display());
            }
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("{error}");
            ExitCode::FAILURE
        }
    }
}
