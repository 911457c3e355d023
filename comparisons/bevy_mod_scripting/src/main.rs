//! The workloads of bevy_luau's `examples/comparison.rs`, run on bevy_mod_scripting (BMS) with
//! its Luau backend, one row each (`name value unit`), in the same order and format:
//!
//! ```text
//! on_update_1000 <ns> ns/entity      1,000 entity scripts whose on_update adds dt to a field
//! on_update_10000 <ns> ns/entity     the same with 10,000
//! idle_frame_10000 <ms> ms/frame     10,000 entity scripts with no per-frame callback
//! component_get_set <ns> ns/iteration  world.get_component + field write of a reflected component
//! component_ref <ns> ns/iteration      the same: BMS's `get_component` is a live reference
//! function_call <ns> ns/call           a call of a Rust closure, `|x: f64| x + 1.0`
//! peak_memory_10000 <MB> MB          VmHWM of a process with 10,000 entity scripts, 10 frames
//! ```
//! BMS's idioms throughout: a `ScriptComponent` per entity with the default context policy (a
//! context per entity and script), an `on_update` callback label sent to all scripts by a Rust
//! system each frame and run by `event_handler` (as in BMS's game_of_life example),
//! `RunScriptCallback` to call one script's callback from Rust, and a Rust function registered
//! with `NamespaceBuilder::<GlobalNamespace>` (as game_of_life registers `rand`). Frame costs are `app.update()`
//! minus the same app's frame with no scripts (medians, after warm-up). Each workload runs in a
//! process of its own (this program run again with the workload's name).
//!
//! One more workload is not a row: `idle_frame_10000_unsent` is the idle frame of apps that
//! never send `on_update`, which shows where BMS's idle frame goes (see the README).
//!
//! ```sh
//! cargo run --release --manifest-path comparisons/bevy_mod_scripting/Cargo.toml
//! cargo run --release --manifest-path comparisons/bevy_mod_scripting/Cargo.toml -- on_update_1000
//! ```

use bevy_app::{App, TaskPoolPlugin, Update};
use bevy_asset::{AssetPlugin, AssetServer, Handle};
use bevy_ecs::message::{MessageCursor, Messages};
use bevy_ecs::prelude::*;
use bevy_ecs::system::Command;
use bevy_mod_scripting::core::event::ScriptErrorMessage;
use bevy_mod_scripting::core::script::ScriptContexts;
use bevy_mod_scripting::prelude::*;
use bevy_reflect::Reflect;
use bevy_time::{Time, TimePlugin};
use std::process::{Command as Process, ExitCode, Stdio};
use std::time::{Duration, Instant};

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
/// Iterations of the loops of component.lua and function.lua, per call of their `on_run`.
const ITERATIONS: u32 = 100_000;
/// Timed calls of component.lua's and function.lua's `on_run`, after one to warm up.
const CALLS: usize = 5;
/// `Health::current` before the calls: an integer that an `f32` holds exactly, as it does
/// every value down to `START - (CALLS + 1) * ITERATIONS`.
const START: f32 = 10_000_000.0;
/// How long scripts may take to load.
const LOAD_TIMEOUT: Duration = Duration::from_secs(600);

const MOVER: &str = "scripts/mover.lua";
const IDLE: &str = "scripts/idle.lua";
const COMPONENT: &str = "scripts/component.lua";
const FUNCTION: &str = "scripts/function.lua";

callback_labels!(
    OnUpdate => "on_update",
    OnRun => "on_run",
    GetN => "get_n",
);

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
        "# bevy_mod_scripting {} (bevy_ecs {}, mlua {}, Luau), {build}",
        locked("bevy_mod_scripting"),
        locked("bevy_ecs"),
        locked("mlua"),
    );
    let program = std::env::current_exe().expect("the path of this program");
    let mut failed = false;
    for workload in WORKLOADS {
        let output = Process::new(&program)
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
            let seconds = frame_cost(10_000, IDLE, true);
            format!("{workload} {:.3} ms/frame", seconds * 1e3)
        }
        // Not one of the rows: the idle frame of apps that never send `on_update`, for the
        // README's note on where the idle frame's time goes.
        "idle_frame_10000_unsent" => {
            let seconds = frame_cost(10_000, IDLE, false);
            format!("{workload} {:.3} ms/frame", seconds * 1e3)
        }
        // BMS has only live references: the reference row is the same loop as the get+set row,
        // which bevy_luau does with a copy (`ecs.get` + `ecs.set`) and with `ecs.ref`.
        "component_get_set" | "component_ref" => {
            let seconds = component_get_set();
            format!("{workload} {:.0} ns/iteration", seconds * 1e9)
        }
        "function_call" => {
            let seconds = function_call();
            format!("{workload} {:.0} ns/call", seconds * 1e9)
        }
        "peak_memory_10000" => {
            let (mut app, _) = scripted(10_000, MOVER, true);
            for _ in 0..10 {
                app.update();
            }
            format!("{workload} {:.1} MB", peak_memory_mb())
        }
        _ => panic!("unknown workload `{workload}`; the workloads are {WORKLOADS:?}"),
    }
}

/// The headless app of every workload: Bevy's task pool, time and asset plugins, BMS with Luau,
/// and (when `on_update`) the system that sends `on_update` to every script each frame, followed
/// by BMS's handler.
fn app(on_update: bool, setup: impl FnOnce(&mut App)) -> App {
    let mut app = App::new();
    app.add_plugins((
        TaskPoolPlugin::default(),
        TimePlugin,
        AssetPlugin {
            file_path: concat!(env!("CARGO_MANIFEST_DIR"), "/assets").to_owned(),
            watch_for_changes_override: Some(false),
            ..Default::default()
        },
    ))
    .add_plugins(BMSPlugin);
    if on_update {
        app.add_systems(
            Update,
            (
                send_on_update,
                event_handler::<OnUpdate, LuaScriptingPlugin>,
            )
                .chain(),
        );
    }
    setup(&mut app);
    app.finish();
    app.cleanup();
    app
}

/// Sends the `on_update` callback, with the frame's `dt`, to every script.
fn send_on_update(time: Res<Time>, mut callbacks: MessageWriter<ScriptCallbackMessage>) {
    callbacks.write(ScriptCallbackMessage::new_for_all_scripts(
        OnUpdate,
        vec![ScriptValue::Float(time.delta_secs_f64())],
    ));
}

/// An app with `entities` entities, each with `script`, updated until every script is loaded,
/// and the script's handle.
fn scripted(entities: usize, script: &'static str, on_update: bool) -> (App, Handle<ScriptAsset>) {
    let mut handle = None;
    let mut app = app(on_update, |app| {
        let world = app.world_mut();
        let script: Handle<ScriptAsset> = world.resource::<AssetServer>().load(script);
        handle = Some(script.clone());
        world.spawn_batch((0..entities).map(move |_| ScriptComponent::new([script.clone()])));
    });
    wait_loaded(&mut app, entities);
    (app, handle.expect("the script's handle"))
}

/// Updates `app` until `count` scripts are loaded.
///
/// # Panics
/// On a script error, or when the scripts do not load within [`LOAD_TIMEOUT`].
fn wait_loaded(app: &mut App, count: usize) {
    let deadline = Instant::now() + LOAD_TIMEOUT;
    loop {
        app.update();
        assert_no_errors(app);
        let contexts = app.world().resource::<ScriptContexts<LuaScriptingPlugin>>();
        let loaded = contexts
            .read()
            .all_residents()
            .filter(|(_, context)| context.as_loaded().is_some())
            .count();
        if loaded == count {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{loaded} of {count} scripts loaded"
        );
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// Nanoseconds per entity of a frame of `entities` entities with mover.lua.
fn per_entity(entities: usize) -> f64 {
    frame_cost(entities, MOVER, true) * 1e9 / entities as f64
}

/// Seconds a frame of `entities` entities with `script` takes beyond a frame of the same app
/// with no scripts; both apps send `on_update` when `on_update` is true.
fn frame_cost(entities: usize, script: &'static str, on_update: bool) -> f64 {
    let mut empty = app(on_update, |_| {});
    let (mut scripted, handle) = scripted(entities, script, on_update);
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
    if script == MOVER {
        assert_updated(&mut scripted, handle);
    }
    scripted_frame - empty_frame
}

/// Checks that the `on_update` of the first entity's script ran: errors in BMS callbacks are
/// only logged and sent as messages, so a callback that never ran would time as a cheap one.
fn assert_updated(app: &mut App, script: Handle<ScriptAsset>) {
    let world = app.world_mut();
    let entity = world
        .query_filtered::<Entity, With<ScriptComponent>>()
        .iter(world)
        .next()
        .expect("an entity with a script");
    let n = RunScriptCallback::<LuaScriptingPlugin>::new(
        ScriptAttachment::EntityScript(entity, script),
        GetN.into(),
        vec![],
        false,
    )
    .apply(world)
    .expect("get_n");
    assert!(
        matches!(n, ScriptValue::Float(n) if n > 0.0),
        "on_update did not run: n = {n:?}"
    );
}

/// Seconds per iteration of component.lua's loop; checks that `Health` really changed.
fn component_get_set() -> f64 {
    let health = Health {
        current: START,
        max: START,
    };
    let (mut app, attachment) = attached(
        COMPONENT,
        |app| {
            app.register_type::<Health>();
        },
        health,
    );
    let (seconds, _) = time_on_run(&mut app, &attachment);
    let entity = attachment.entity().expect("an entity script");
    let health = app.world().get::<Health>(entity).expect("Health");
    let calls = (CALLS + 1) as f32;
    assert_eq!(
        health.current,
        START - calls * ITERATIONS as f32,
        "each call lowers Health::current by {ITERATIONS}"
    );
    seconds / f64::from(ITERATIONS)
}

/// Seconds per call of `add_one` in the loop of function.lua's `on_run`; checks that every
/// `on_run` made all its calls.
fn function_call() -> f64 {
    let (mut app, attachment) = attached(
        FUNCTION,
        |app| {
            // A global function of every script, set when its context is made.
            NamespaceBuilder::<GlobalNamespace>::new_unregistered(app.world_mut())
                .register("add_one", |x: f64| x + 1.0);
        },
        (),
    );
    let (seconds, sums) = time_on_run(&mut app, &attachment);
    let expected = f64::from(ITERATIONS);
    for sum in sums {
        // mlua reads a whole Luau number as an integer.
        let sum = match sum {
            ScriptValue::Integer(n) => n as f64,
            ScriptValue::Float(n) => n,
            _ => f64::NAN,
        };
        assert_eq!(
            sum, expected,
            "each call of on_run sums {ITERATIONS} calls of add_one"
        );
    }
    seconds / f64::from(ITERATIONS)
}

/// An app set up by `setup`, with one entity that has `components` and `script`, updated until
/// the script is loaded; and the attachment of the script to the entity.
fn attached(
    script: &'static str,
    setup: impl FnOnce(&mut App),
    components: impl Bundle,
) -> (App, ScriptAttachment) {
    let mut handle = None;
    let mut app = app(true, |app| {
        setup(app);
        let world = app.world_mut();
        handle = Some(world.resource::<AssetServer>().load(script));
    });
    let script: Handle<ScriptAsset> = handle.expect("the script's handle");
    let entity = app
        .world_mut()
        .spawn((components, ScriptComponent::new([script.clone()])))
        .id();
    wait_loaded(&mut app, 1);
    (app, ScriptAttachment::EntityScript(entity, script))
}

/// The median seconds of a call of the `on_run` callback of the script of `attachment`, timed
/// [`CALLS`] times after one call to warm up; and what each call returned.
fn time_on_run(app: &mut App, attachment: &ScriptAttachment) -> (f64, Vec<ScriptValue>) {
    let mut results = Vec::with_capacity(CALLS + 1);
    let mut call = || {
        let result = RunScriptCallback::<LuaScriptingPlugin>::new(
            attachment.clone(),
            OnRun.into(),
            vec![],
            false,
        )
        .apply(app.world_mut())
        .expect("on_run");
        results.push(result);
    };
    call();
    let [seconds] = medians(CALLS, |_| time(1, &mut call));
    (seconds, results)
}

/// Panics on a script error reported in the last frames.
fn assert_no_errors(app: &App) {
    let errors = app.world().resource::<Messages<ScriptErrorMessage>>();
    if let Some(error) = MessageCursor::<ScriptErrorMessage>::default()
        .read(errors)
        .next()
    {
        panic!("{}", error.error);
    }
}

/// Seconds per iteration of `iterations` calls of `f`.
fn time(iterations: u32, mut f: impl FnMut()) -> f64 {
    let start = Instant::now();
    for _ in 0..iterations {
        f();
    }
    start.elapsed().as_secs_f64() / f64::from(iterations)
}

/// The median over `runs` of each of `K` timings; `time(k)` times the `k`th. The timings take
/// turns, so that a slow moment of the machine touches all of them alike.
fn medians<const K: usize>(runs: usize, mut time: impl FnMut(usize) -> f64) -> [f64; K] {
    let mut samples: [Vec<f64>; K] = std::array::from_fn(|_| Vec::with_capacity(runs));
    for _ in 0..runs {
        for (k, samples) in samples.iter_mut().enumerate() {
            samples.push(time(k));
        }
    }
    samples.map(|mut s| {
        s.sort_by(f64::total_cmp);
        s[s.len() / 2]
    })
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
