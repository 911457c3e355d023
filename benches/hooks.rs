//! Per-frame hook dispatch, against a raw mlua loop calling 10,000 distinct Lua functions
//! (`f.call::<()>(dt)`, each adding `dt` to a field of its own table) in a plain `Lua::new()`,
//! all in the same run.
//!
//! - **Entity scripts.** One scripting step (`app.update()`) with 10,000 entities whose script
//!   (`assets/scripts/bench/mover.luau`) has an `on_update(dt)` that does `self.n += dt`.
//!   Target: at most 1.5× the raw loop per call.
//! - **Global hooks.** One step with 10,000 `hooks.on_update` callbacks
//!   (`assets/scripts/bench/hooks.luau`), for comparison; no target of its own.
//! - **Accounting.** The entity frame again with `ScriptConfig::profiling` off: per-script
//!   accounting and its `tracing` spans (no subscriber is installed) may cost at most 2% of the
//!   dispatch, `(on - empty on) / (off - empty off) - 1`.
//!
//! `app.update()` runs the whole frame, not only the hooks, so the same app with the plugin and
//! no scripts is measured too and its frame time is subtracted before dividing by 10,000.
//! The raw VM is compiled like the plugin's (optimization level 2) and interpreted like it
//! (no native code generation), so the two differ in the dispatch only.
//!
//! The helpers at the top (building a headless app, waiting for scripts, timing) serve the
//! other benchmarks and `examples/perf_report.rs` too, which include this file as a module.

use bevy_app::{App, TaskPoolPlugin};
use bevy_asset::{AssetPlugin, AssetServer};
use bevy_ecs::message::{MessageCursor, Messages};
use bevy_luau::prelude::*;
use bevy_time::TimePlugin;
use criterion::Criterion;
use mlua::chunk::Compiler;
use mlua::{Function, Lua};
use std::time::{Duration, Instant};

/// Entity scripts, global hooks and raw calls per frame.
pub(crate) const CALLS: usize = 10_000;

/// The `dt` the raw loop passes.
const DT: f64 = 1.0 / 60.0;

/// The raw loop's functions: distinct closures doing the work of the hooks.
const RAW_FUNCTIONS: &str = r#"
return function()
    local state = { n = 0 }
    return function(dt: number)
        state.n += dt
    end
end
"#;

/// The crate's asset folder, where the benchmark scripts live under `scripts/bench/`.
pub(crate) fn assets() -> String {
    concat!(env!("CARGO_MANIFEST_DIR"), "/assets").to_owned()
}

/// A headless app with the plugin (`plugin`, when given) and `setup` applied, ready to update.
pub(crate) fn app(plugin: Option<LuauScriptingPlugin>, setup: impl FnOnce(&mut App)) -> App {
    let mut app = App::new();
    app.add_plugins((
        TaskPoolPlugin::default(),
        TimePlugin,
        AssetPlugin {
            file_path: assets(),
            watch_for_changes_override: Some(false),
            ..Default::default()
        },
    ));
    if let Some(plugin) = plugin {
        app.add_plugins(plugin);
    }
    setup(&mut app);
    app.finish();
    app.cleanup();
    app
}

/// Updates `app` until scripts have emitted `count` events named `name`.
///
/// # Panics
/// On a [`ScriptError`], or when the events do not come within 30 seconds.
pub(crate) fn wait_for(app: &mut App, name: &str, count: usize) {
    let mut events = MessageCursor::<ScriptEvent>::default();
    let mut errors = MessageCursor::<ScriptError>::default();
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut seen = 0;
    while seen < count {
        assert!(
            Instant::now() < deadline,
            "{seen} of {count} `{name}` events"
        );
        app.update();
        let world = app.world();
        if let Some(error) = errors
            .read(world.resource::<Messages<ScriptError>>())
            .next()
        {
            panic!("{error}");
        }
        let written = world.resource::<Messages<ScriptEvent>>();
        seen += events.read(written).filter(|e| e.name == name).count();
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// A plain `Lua::new()`, compiling like the plugin's VM and interpreting like it does when
/// `ScriptConfig::native_codegen` is off.
pub(crate) fn plain_lua() -> Lua {
    let lua = Lua::new();
    lua.set_compiler(
        Compiler::new()
            .set_optimization_level(2)
            .set_debug_level(1)
            .set_type_info_level(1),
    );
    #[cfg(feature = "luau-jit")]
    lua.enable_jit(false);
    lua
}

/// Seconds per iteration of `iterations` calls of `f`.
pub(crate) fn time(iterations: u32, mut f: impl FnMut()) -> f64 {
    let start = Instant::now();
    for _ in 0..iterations {
        f();
    }
    start.elapsed().as_secs_f64() / f64::from(iterations)
}

/// The median over `runs` of each of `K` timings; `time(k)` times the `k`th. The timings take
/// turns, so that a slow moment of the machine touches all of them alike.
pub(crate) fn medians<const K: usize>(runs: usize, mut time: impl FnMut(usize) -> f64) -> [f64; K] {
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

/// Whether criterion measures (`cargo bench`), rather than running each benchmark once as a
/// test (`cargo test --benches`, `cargo bench -- --test`) or listing them.
pub(crate) fn measuring() -> bool {
    let args: Vec<String> = std::env::args().collect();
    args.iter().any(|a| a == "--bench") && !args.iter().any(|a| a == "--test" || a == "--list")
}

/// 10,000 Lua functions in a plain VM, called one by one from Rust.
pub(crate) struct RawCalls {
    functions: Vec<Function>,
    /// Owns the VM the functions live in.
    _lua: Lua,
}

impl RawCalls {
    /// Creates `CALLS` distinct functions.
    pub(crate) fn new() -> Self {
        let lua = plain_lua();
        let make: Function = lua.load(RAW_FUNCTIONS).eval().expect("raw functions");
        let functions = (0..CALLS)
            .map(|_| make.call(()).expect("a raw function"))
            .collect();
        Self {
            functions,
            _lua: lua,
        }
    }

    /// Calls every function once.
    pub(crate) fn run(&self) {
        for f in &self.functions {
            f.call::<()>(DT).expect("a raw call");
        }
    }
}

/// The apps of the benchmark and the raw baseline.
pub(crate) struct Hooks {
    /// The plugin, no scripts: the frame cost that is not hook dispatch.
    empty: App,
    /// `CALLS` entities with mover.luau.
    entities: App,
    /// `empty` with accounting off.
    empty_unaccounted: App,
    /// `entities` with accounting off.
    entities_unaccounted: App,
    /// hooks.luau: `CALLS` global hooks.
    globals: App,
    /// The baseline.
    raw: RawCalls,
}

impl Hooks {
    /// Builds the apps and waits until their scripts run.
    pub(crate) fn new() -> Self {
        let unaccounted = LuauScriptingPlugin {
            config: ScriptConfig {
                profiling: false,
                ..Default::default()
            },
            ..Default::default()
        };
        let movers = |app: &mut App| {
            let world = app.world_mut();
            let mover = world
                .resource::<AssetServer>()
                .load("scripts/bench/mover.luau");
            world.spawn_batch((0..CALLS).map(move |_| Script::new(mover.clone())));
        };
        let mut empty = app(Some(LuauScriptingPlugin::default()), |_| {});
        let mut entities = app(Some(LuauScriptingPlugin::default()), movers);
        wait_for(&mut entities, "spawned", CALLS);
        let mut empty_unaccounted = app(Some(unaccounted.clone()), |_| {});
        let mut entities_unaccounted = app(Some(unaccounted), movers);
        wait_for(&mut entities_unaccounted, "spawned", CALLS);
        let mut globals = app(Some(LuauScriptingPlugin::default()), |app| {
            app.add_script("scripts/bench/hooks.luau");
        });
        wait_for(&mut globals, "ready", 1);
        for app in [
            &mut empty,
            &mut entities,
            &mut globals,
            &mut empty_unaccounted,
            &mut entities_unaccounted,
        ] {
            for _ in 0..10 {
                app.update();
            }
        }
        Self {
            empty,
            entities,
            empty_unaccounted,
            entities_unaccounted,
            globals,
            raw: RawCalls::new(),
        }
    }

    /// Per-call cost of entity `on_update` and of global hooks, each over the raw call's:
    /// medians of `runs` timings of `frames` frames.
    pub(crate) fn ratios(&mut self, runs: usize, frames: u32) -> (f64, f64) {
        let [empty, entities, globals, raw] = medians(runs, |k| match k {
            0 => time(frames, || self.empty.update()),
            1 => time(frames, || self.entities.update()),
            2 => time(frames, || self.globals.update()),
            _ => time(frames, || self.raw.run()),
        });
        ((entities - empty) / raw, (globals - empty) / raw)
    }

    /// What accounting adds to entity dispatch, as a fraction: medians of `runs` timings of
    /// `frames` frames, the four apps interleaved so drift hits them alike.
    pub(crate) fn accounting_overhead(&mut self, runs: usize, frames: u32) -> f64 {
        let [empty, entities, empty_off, entities_off] = medians(runs, |k| match k {
            0 => time(frames, || self.empty.update()),
            1 => time(frames, || self.entities.update()),
            2 => time(frames, || self.empty_unaccounted.update()),
            _ => time(frames, || self.entities_unaccounted.update()),
        });
        (entities - empty) / (entities_off - empty_off) - 1.0
    }
}

fn hooks(c: &mut Criterion) {
    let mut hooks = Hooks::new();
    let mut group = c.benchmark_group(format!("hooks_x{CALLS}"));
    group
        .sample_size(20)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3));
    group.bench_function("raw_mlua_calls", |b| b.iter(|| hooks.raw.run()));
    group.bench_function("frame_no_scripts", |b| b.iter(|| hooks.empty.update()));
    group.bench_function("frame_entity_on_update", |b| {
        b.iter(|| hooks.entities.update())
    });
    group.bench_function("frame_global_on_update", |b| {
        b.iter(|| hooks.globals.update())
    });
    group.finish();

    if measuring() {
        let (entity, global) = hooks.ratios(15, 5);
        println!("per call, (frame - frame without scripts) / {CALLS}, over a raw mlua call:");
        let verdict = if entity <= 1.5 { "PASS" } else { "MISS" };
        println!("entity_on_update {entity:.2} <=1.50 {verdict}");
        println!("global_on_update {global:.2} (no target)");
        let overhead = hooks.accounting_overhead(31, 5) * 100.0;
        let verdict = if overhead <= 2.0 { "PASS" } else { "MISS" };
        println!("accounting_overhead {overhead:.2}% <=2% {verdict}");
    }
}

/// What `criterion_group!` and `criterion_main!` expand to. Written out because the other
/// benchmarks include this file with `#[expect(dead_code)]`, and rustc 1.95 reports that
/// expectation as unfulfilled when the dead items are reached only from another crate's macro.
fn main() {
    let mut criterion = Criterion::default().configure_from_args();
    hooks(&mut criterion);
    criterion.final_summary();
}
