//! A multiplayer text MUD whose whole game is Luau: rooms, items, NPCs that wander and fight,
//! combat, death and respawn all live in `assets/games/mud/scripts/`, loaded as a game
//! template. Rust only serves TCP connections and turns lines into Lua events.
//!
//! ```sh
//! cargo run --example mud            # then, in other terminals:
//! telnet 127.0.0.1 4000              # or: nc 127.0.0.1 4000
//! ```
//! Standard input is the admin console: `help`, `set mud_tick 0.5`, `announce Hello`,
//! `spawn wolf square`, `clients`, `shutdown`. Edit any script while players are connected and
//! the game changes under them without dropping a connection.
//!
//! `cargo run --example mud -- 4001` listens on another port.

mod game;
mod net;

use bevy_app::{AppExit, ScheduleRunnerPlugin};
use bevy_log::LogPlugin;
use bevy_luau::prelude::*;
use game::AdminConsole;
use std::io::BufRead;
use std::path::Path;
use std::time::Duration;

fn main() -> AppExit {
    let port = match std::env::args().nth(1).map(|arg| arg.parse::<u16>()) {
        None => None,
        Some(Ok(port)) => Some(port),
        Some(Err(error)) => {
            eprintln!("usage: mud [port]: {error}");
            return AppExit::error();
        }
    };
    let assets = Path::new(env!("CARGO_MANIFEST_DIR")).join("assets");
    let mut app = game::app(assets, port);
    app.add_plugins((
        ScheduleRunnerPlugin::run_loop(Duration::from_secs_f64(1.0 / 30.0)),
        LogPlugin::default(),
    ))
    .insert_resource(admin_console())
    .add_console_command("shutdown", "shutdown: stops the server", |world, _| {
        world.write_message(AppExit::Success);
        Ok("shutting down".into())
    });
    app.run()
}

/// The admin console over standard input and output, each on its own thread so the server
/// never waits for the admin.
fn admin_console() -> AdminConsole {
    let (lines, input) = crossbeam_channel::unbounded();
    std::thread::spawn(move || {
        for line in std::io::stdin().lock().lines().map_while(Result::ok) {
            if lines.send(line).is_err() {
                break;
            }
        }
    });
    let (output, replies) = crossbeam_channel::unbounded::<String>();
    std::thread::spawn(move || {
        for reply in replies {
            if !reply.is_empty() {
                println!("{reply}");
            }
        }
    });
    AdminConsole { input, output }
}
