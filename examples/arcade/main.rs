//! A real-time shoot-'em-up in the terminal whose whole game is Luau: the ship, the enemies
//! (entity scripts), the waves, collisions, scoring and the console commands live in
//! `assets/games/arcade/scripts/`, loaded as a game template. Rust runs Bevy at 60 frames a
//! second, turns terminal keys into Bevy's keyboard input and draws the world.
//!
//! ```sh
//! cargo run --example arcade                  # play: arrows or WASD, space fires, ` console, q quits
//! cargo run --example arcade -- --demo        # a scripted pilot plays; prints the last frame and `score: N`
//! cargo run --release --example arcade -- --demo --swarm 300   # the step time with 300 more enemies
//! ```
//! Edit any script under `assets/games/arcade/scripts/` while playing: enemies pick up the new
//! code and keep their state; a broken save shows its error on the bottom line and the game
//! goes on with the old code.
//!
//! `cargo run --features debugger --example arcade -- --debug` also serves the script debugger
//! on `127.0.0.1:4711` (`--debug=PORT` for another port), and prints the address before the
//! board takes the terminal: attach an editor and set breakpoints in the scripts (the README's
//! "Debugging scripts"). Without the feature `debugger`, `--debug` is an error that says so.

#[path = "../common/debug_flag.rs"]
mod debug_flag;

mod api;
mod components;
mod game;
mod options;
mod screen;
mod terminal;

use bevy_app::{App, AppExit, Last, ScheduleRunnerPlugin, Update};
use bevy_ecs::prelude::*;
use bevy_luau::prelude::*;
use components::Score;
use game::{Errors, StepTimes, Steps};
use options::USAGE;
use screen::Screen;
use std::io::IsTerminal;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

fn main() -> AppExit {
    let options = match options::parse(std::env::args().skip(1)) {
        Ok(options) => options,
        Err(error) => {
            eprintln!("{USAGE}: {error}");
            return AppExit::error();
        }
    };
    let assets = Path::new(env!("CARGO_MANIFEST_DIR")).join("assets");
    let mut app = game::app(assets);
    if let Some(port) = options.debug {
        debug_flag::add(&mut app, port);
    }
    if let Some(count) = options.swarm {
        app.add_systems(Update, swarm_once(count));
    }
    if options.demo {
        demo(app, options.frames)
    } else {
        play(app)
    }
}

/// Plays on the terminal until `q`, Escape or Ctrl-C.
fn play(mut app: App) -> AppExit {
    if !std::io::stdout().is_terminal() {
        eprintln!("the arcade draws on a terminal; with stdout redirected, run it with --demo");
        return AppExit::error();
    }
    // `App::run` hands the world to the runner, which drops it on exit: keep the score aside.
    let points = Arc::new(AtomicU32::new(0));
    let kept = points.clone();
    app.add_plugins((
        ScheduleRunnerPlugin::run_loop(game::STEP),
        terminal::TerminalPlugin,
    ))
    .add_systems(Last, move |score: Res<Score>| {
        kept.store(score.points, Ordering::Relaxed);
    });
    let exit = app.run();
    terminal::restore();
    println!("score: {}", points.load(Ordering::Relaxed));
    exit
}

/// Plays `frames` fixed steps with the scripted pilot, animated on a terminal and as fast as
/// it can go otherwise, then prints the last frame, the step times and the score.
fn demo(mut app: App, frames: u32) -> AppExit {
    game::demo(&mut app);
    let animate = std::io::stdout().is_terminal();
    if animate {
        app.add_plugins(terminal::TerminalPlugin);
    }
    app.finish();
    app.cleanup();
    let mut exit = None;
    for _ in 0..frames {
        let started = Instant::now();
        app.update();
        exit = app.should_exit();
        if exit.is_some() {
            break;
        }
        if animate {
            std::thread::sleep(game::STEP.saturating_sub(started.elapsed()));
        }
    }
    if animate {
        terminal::restore();
    }
    // What each script cost, as the console's `scripts` command shows it.
    let scripts = Console::execute(app.world_mut(), "scripts");
    let world = app.world();
    println!("{}", world.resource::<Screen>().text().trim_end());
    match scripts {
        Ok(table) => println!("{table}"),
        Err(error) => eprintln!("scripts: {error}"),
    }
    let times = world.resource::<StepTimes>();
    let report = |what: &str, steps: &Steps| {
        println!(
            "scripting step, {what}: {} frames, average {:.3} ms, 99th percentile {:.3} ms, max {:.3} ms",
            steps.count,
            ms(steps.average()),
            ms(steps.percentile(0.99)),
            ms(steps.max)
        );
    };
    report("every frame", &times.all);
    if times.crowded.count > 0 {
        report(
            &format!("{}+ enemies on the board", game::CROWD),
            &times.crowded,
        );
    }
    let errors = &world.resource::<Errors>().0;
    for error in errors {
        eprintln!("{error}");
    }
    println!("score: {}", world.resource::<Score>().points);
    match exit {
        Some(exit) => exit,
        None if errors.is_empty() => AppExit::Success,
        None => AppExit::error(),
    }
}

fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}

/// Runs the console command `swarm <count>` once the scripts have registered it.
fn swarm_once(count: u32) -> impl FnMut(&mut World) {
    let mut done = false;
    move |world: &mut World| {
        if !done && Console::execute(world, "help swarm").is_ok() {
            done = true;
            if let Err(error) = Console::execute(world, &format!("swarm {count}")) {
                eprintln!("swarm: {error}");
            }
        }
    }
}
