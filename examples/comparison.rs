//! A side-by-side comparison with bevy_mod_scripting 0.23: the workloads of
//! `comparisons/bevy_mod_scripting/`, run on bevy_luau, one row each (`name value unit`), in the
//! same order and format as that program prints them:
//!
//! ```text
//! on_update_1000 <ns> ns/entity      1,000 entity scripts whose on_update does `self.n += dt`
//! on_update_10000 <ns> ns/entity     the same with 10,000
//! idle_frame_10000 <ms> ms/frame     10,000 entity scripts with no per-frame callback
//! component_get_set <ns> ns/iteration  ecs.get + field write + ecs.set of a reflected component
//! component_ref <ns> ns/iteration      ecs.ref + field write of the same component
//! function_call <ns> ns/call           a call of a game function, `|In(x): In<f64>| x + 1.0`
//! peak_memory_10000 <MB> MB          VmHWM of a process with 10,000 entity scripts, 10 frames
//! ```
//! Frame costs are `app.update()` minus the same app's frame with no scripts (medians, after
//! warm-up). Each workload runs in a process of its own (this program run again with the
//! workload's name), so that its peak memory is its own. The scripts are in
//! `assets/scripts/comparison/`; `comparisons/bevy_mod_scripting/README.md` has the figures.
//!
//! ```sh
//! cargo run --release --example comparison
//! cargo run --release --example comparison -- on_update_1000   # one workload
//! ```

#[path = "../benches/hooks.rs"]
#[expect(
    dead_code,
    reason = "the comparison uses the benchmark's helpers, not its entry point"
)]
mod hooks;

use bevy_app::App;
use bevy_asset::AssetServer;
use bevy_ecs::message::{MessageCursor, Messages};
use bevy_ecs::prelude::*;
use bevy_luau::prelude::*;
use bevy_reflect::Reflect;
use hooks::{medians, time, wait_for};
use std::process::{Command, ExitCode, Stdio};

/// The workloads, in the order printed.
const WORKLOADS: [&str; 7] = [
    "on_update_1000",
    "on_update_10000",
    "idle_frame_10000",
    "component_get_set",
    "component_ref",
    "function_call",
    "peak_memory_10000",
];

/// Timings per measure; the median is reported.
const RUNS: usize = 11;
/// Frames per timing.
const FRAMES: u32 = 10;
/// Frames each app runs before it is timed.
const WARM_UP_FRAMES: usize = 10;
/// Iterations of the loops of component.luau and function.luau, per call of their handlers.
const ITERATIONS: u32 = 100_000;
/// Timed calls of component.luau's and function.luau's handlers, after one to warm up.
const CALLS: usize = 5;
/// `Health::current` before the calls: an integer that an `f32` holds exactly, as it does
/// every value down to `START - (CALLS + 1) * ITERATIONS`.
const START: f32 = 10_000_000.0;

const MOVER: &str = "scripts/comparison/mover.luau";
const IDLE: &str = "scripts/comparison/idle.luau";
const COMPONENT: &str = "scripts/comparison/component.luau";
const FUNCTION: &str = "scripts/comparison/function.luau";

/// The component of the `component_get_set` workload, reached through reflection.
#[derive(Component, Reflect)]
#[reflect(Component)]
struct Health {
    current: f32,
    max: f32,
}

fn main() -> ExitCode {
    match std::env::args().nth(1) {
        Some(workload) => {
            println!("{}", run(&workload));
            ExitCode::SUCCESS
        }
        None => compare(),
    }
}

/// Runs every workload in a process of its own and prints its row.
fn compare() -> ExitCode {
    let build = if cfg!(debug_assertions) {
        "debug build: use --release"
    } else {
        "release build"
    };
    println!(
        "# bevy_luau {} (bevy_ecs {}, mlua {}, Luau), {build}",
        env!("CARGO_PKG_VERSION"),
        locked("bevy_ecs"),
        locked("mlua"),
    );
    let program = std::env::current_exe().expect("the path of this program");
    let mut failed = false;
    for workload in WORKLOADS {
        let output = Command::new(&program)
            .arg(workload)
            .stderr(Stdio::inherit())
            .output()
            .expect("a workload process");
        if output.status.success() {
            print!("{}", String::from_utf8_lossy(&output.stdout));
        } else {
            println!("{workload} failed ({})", output.status);
            failed = true;
        }
    }
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

/// Runs one workload in this process and returns its row.
fn run(workload: &str) -> String {
    match workload {
        "on_update_1000" => format!("{workload} {:.0} ns/entity", per_entity(1_000)),
        "on_update_10000" => format!("{workload} {:.0} ns/entity", per_entity(10_000)),
        "idle_frame_10000" => {
            let seconds = frame_cost(10_000, IDLE);
            format!("{workload} {:.3} ms/frame", seconds * 1e3)
        }
        "component_get_set" => {
            let seconds = component("run");
            format!("{workload} {:.0} ns/iteration", seconds * 1e9)
        }
        "component_ref" => {
            let seconds = component("run_ref");
            format!("{workload} {:.0} ns/iteration", seconds * 1e9)
        }
        "function_call" => {
            let seconds = function_call();
            format!("{workload} {:.0} ns/call", seconds * 1e9)
        }
        "peak_memory_10000" => {
            let mut app = scripted(10_000, MOVER);
            for _ in 0..10 {
                app.update();
            }
            format!("{workload} {:.1} MB", peak_memory_mb())
        }
        _ => panic!("unknown workload `{workload}`; the workloads are {WORKLOADS:?}"),
    }
}

/// The headless app of every workload: Bevy's task pool, time and asset plugins, and ours.
/// `tests/script_sets.rs` checks the comparison's scripts against its definitions.
pub fn app(setup: impl FnOnce(&mut App)) -> App {
    hooks::app(Some(LuauScriptingPlugin::default()), setup)
}

/// An app with `entities` entities, each with `script`, updated until every instance spawned.
fn scripted(entities: usize, script: &'static str) -> App {
    let mut app = app(|app| {
        let world = app.world_mut();
        let script = world.resource::<AssetServer>().load(script);
        world.spawn_batch((0..entities).map(move |_| Script::new(script.clone())));
    });
    wait_for(&mut app, "spawned", entities);
    app
}

/// Nanoseconds per entity of a frame of `entities` entities with mover.luau.
fn per_entity(entities: usize) -> f64 {
    frame_cost(entities, MOVER) * 1e9 / entities as f64
}

/// Seconds a frame of `entities` entities with `script` takes beyond a frame of the same app
/// with no scripts.
fn frame_cost(entities: usize, script: &'static str) -> f64 {
    let mut empty = app(|_| {});
    let mut scripted = scripted(entities, script);
    for app in [&mut empty, &mut scripted] {
        for _ in 0..WARM_UP_FRAMES {
            app.update();
        }
    }
    let [empty_frame, scripted_frame] = medians(RUNS, |k| {
        let app = if k == 0 { &mut empty } else { &mut scripted };
        time(FRAMES, || app.update())
    });
    assert_no_errors(&scripted);
    scripted_frame - empty_frame
}

/// What the component workload registers for component.luau.
pub fn component_types(app: &mut App) {
    app.register_type::<Health>();
}

/// Seconds per iteration of the loop of component.luau's handler `event`; checks that `Health`
/// really changed.
fn component(event: &str) -> f64 {
    let mut app = app(|app| {
        component_types(app);
        app.add_script(COMPONENT);
    });
    wait_for(&mut app, "ready", 1);
    let entity = app
        .world_mut()
        .spawn(Health {
            current: START,
            max: START,
        })
        .id();
    let (seconds, _) = time_handler(&mut app, event, entity);
    let health = app.world().get::<Health>(entity).expect("Health");
    let calls = (CALLS + 1) as f32;
    assert_eq!(
        health.current,
        START - calls * ITERATIONS as f32,
        "each call lowers Health::current by {ITERATIONS}"
    );
    seconds / f64::from(ITERATIONS)
}

/// What the function_call workload registers for function.luau: the plain closure of the
/// benchmark's `bench.add_one` (`benches/ecs_access.rs`).
pub fn script_functions(app: &mut App) {
    app.add_script_function("bench.add_one", |In(x): In<f64>| x + 1.0);
}

/// Seconds per call of `bench.add_one` in the loop of function.luau's `call` handler; checks
/// that every handler call made all its calls.
fn function_call() -> f64 {
    let mut app = app(|app| {
        script_functions(app);
        app.add_script(FUNCTION);
    });
    wait_for(&mut app, "ready", 1);
    // The handler consumes the event when its sum is ITERATIONS, i.e. when all its calls
    // happened and returned their argument plus one.
    let (seconds, consumed) = time_handler(&mut app, "call", ScriptValue::Nil);
    assert_eq!(
        consumed,
        CALLS + 1,
        "each call of the handler sums {ITERATIONS} calls of bench.add_one"
    );
    seconds / f64::from(ITERATIONS)
}

/// The median seconds of a call of the handler of `event`, timed [`CALLS`] times after one call
/// to warm up; and how many of the calls consumed the event.
fn time_handler(
    app: &mut App,
    event: &str,
    payload: impl Into<ScriptValue> + Clone,
) -> (f64, usize) {
    let mut consumed = 0;
    let mut call = || {
        if ScriptEngine::emit(app.world_mut(), event, payload.clone()).expect("the handler") {
            consumed += 1;
        }
    };
    call();
    let [seconds] = medians(CALLS, |_| time(1, &mut call));
    (seconds, consumed)
}

/// Panics on a script error reported in the last frames.
fn assert_no_errors(app: &App) {
    let errors = app.world().resource::<Messages<ScriptError>>();
    if let Some(error) = MessageCursor::<ScriptError>::default().read(errors).next() {
        panic!("{error}");
    }
}

/// Peak resident memory of this process (VmHWM), in MB of 2^20 bytes.
fn peak_memory_mb() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    let kilobytes: f64 = status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("a VmHWM line in kB");
    kilobytes / 1024.0
}

/// The version of `package` in Cargo.lock, or `?`.
fn locked(package: &str) -> &'static str {
    const LOCK: &str = include_str!("../Cargo.lock");
    LOCK.split_once(&format!("name = \"{package}\"\nversion = \""))
        .and_then(|(_, rest)| rest.split_once('"'))
        .map_or("?", |(version, _)| version)
}
