//! The game console: CVars with Lua `on_change` handlers, built-in and custom commands, read
//! from standard input. It works interactively and piped:
//!
//! ```sh
//! echo "set r_fov 90" | cargo run --example console
//! cargo run --example console            # then type: help, list, toggle r_vsync, lua 1 + 1 ...
//! ```
//! ARCHIVE CVars persist in `target/console_example_cvars.toml`.

use bevy_app::{App, TaskPoolPlugin};
use bevy_asset::AssetPlugin;
use bevy_ecs::prelude::*;
use bevy_log::LogPlugin;
use bevy_luau::prelude::*;
use bevy_time::TimePlugin;
use std::io::BufRead;
use std::sync::mpsc;
use std::time::Duration;

fn main() {
    let mut app = app();
    app.add_plugins(LogPlugin::default());
    app.finish();
    app.cleanup();
    let file =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/console_example_cvars.toml");
    if let Err(error) = app.world_mut().resource_mut::<CVarRegistry>().load(&file) {
        eprintln!("{error}");
    }

    // Lines arrive on another thread, so the app keeps running its frames meanwhile.
    let (lines, input) = mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::stdin().lock().lines().map_while(Result::ok) {
            if lines.send(line).is_err() {
                break;
            }
        }
    });
    // Let the script load before the first command.
    for _ in 0..30 {
        app.update();
        std::thread::sleep(Duration::from_millis(10));
    }
    println!("bevy_luau console; `help` lists the commands, `quit` (or end of input) leaves");
    loop {
        match input.recv_timeout(Duration::from_millis(16)) {
            Ok(line) => {
                match Console::execute(app.world_mut(), &line) {
                    Ok(output) if !output.is_empty() => println!("{output}"),
                    Ok(_) => {}
                    Err(error) => println!("error: {error}"),
                }
                if line.trim() == "quit" {
                    break;
                }
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
        }
        app.update();
    }
    // One more step so on_change handlers hear the last changes.
    app.update();
    app.update();
    for error in app
        .world_mut()
        .resource_mut::<Messages<ScriptError>>()
        .drain()
    {
        eprintln!("{error}");
    }
}

/// The example's app without its runner and log plugin: the plugins, the types and CVars its
/// scripts use, and its scripts. `tests/script_sets.rs` generates the scripts' type
/// definitions from it.
pub fn app() -> App {
    let mut app = App::new();
    app.add_plugins((
        TaskPoolPlugin::default(),
        TimePlugin,
        AssetPlugin::default(),
        LuauScriptingPlugin::default(),
    ))
    .register_cvar(
        "r_fov",
        75.0,
        "field of view in degrees",
        CVarFlags::ARCHIVE,
    )
    .register_cvar("r_vsync", true, "wait for the display", CVarFlags::ARCHIVE)
    .add_console_command("quit", "quit: leaves the console", |_, _| Ok("bye".into()))
    .add_script("examples/console/console_demo.luau");
    app
}
