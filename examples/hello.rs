//! Hello, Luau: a headless app that loads one global script, which registers a per-frame hook
//! and an event handler, talks to Rust through events, and asks the app to quit.
//!
//! ```sh
//! cargo run --example hello
//! ```
//! Edit `assets/examples/hello/hello.luau` while it runs to see hot reload.

use bevy_app::{App, AppExit, ScheduleRunnerPlugin, TaskPoolPlugin, Update};
use bevy_asset::AssetPlugin;
use bevy_ecs::prelude::*;
use bevy_log::LogPlugin;
use bevy_luau::prelude::*;
use bevy_time::TimePlugin;
use std::time::Duration;

fn main() -> AppExit {
    app()
        .add_plugins((
            ScheduleRunnerPlugin::run_loop(Duration::from_secs_f64(1.0 / 60.0)),
            LogPlugin::default(),
        ))
        .add_systems(Update, (listen, report_errors).after(ScriptingSystem))
        .run()
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
    .add_script("examples/hello/hello.luau")
    .add_systems(Update, greet_scripts.before(ScriptingSystem));
    app
}

/// Rust to Lua: a `ScriptEvent` written before the scripting step reaches Lua handlers in the
/// same frame.
fn greet_scripts(mut frames: Local<u32>, mut events: MessageWriter<ScriptEvent>) {
    *frames += 1;
    if *frames == 30 {
        events.write(ScriptEvent::new("greet", "Bevy"));
    }
}

/// Lua to Rust: events the script emits are messages any system can read.
fn listen(mut events: MessageReader<ScriptEvent>, mut exit: MessageWriter<AppExit>) {
    for event in events.read() {
        match event.name.as_str() {
            "greeted" => println!("the script answered: {}", event.payload),
            "quit" => {
                println!("the script asked to quit: {}", event.payload);
                exit.write(AppExit::Success);
            }
            _ => {}
        }
    }
}

fn report_errors(mut errors: MessageReader<ScriptError>) {
    for error in errors.read() {
        eprintln!("{error}");
    }
}
