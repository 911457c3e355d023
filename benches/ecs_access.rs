//! World access from Lua, per call, against the raw no-op: a Rust function that does nothing
//! (`lua.create_function(|_, ()| Ok(()))`), registered in a plain `Lua::new()` compiled like the
//! plugin's VM and called from a Lua loop, all in the same run.
//!
//! Each measure is a loop of [`ITERATIONS`] iterations inside one `events.on` handler of
//! `assets/scripts/bench/world_access.luau`, run by `ScriptEngine::emit`, as a new user would
//! write it; the time per iteration is divided by the time per iteration of the raw loop.
//! Targets (DESIGN.md):
//! - `ecs.exists(e)`, `time.delta()`: ≤ 1.5×
//! - `cvar.get(name)`: ≤ 3× (not a DESIGN target: one resource lookup and a search of the
//!   CVar map, held to the bound of the transform pair)
//! - `transform.set_position(e, transform.position(e))`: ≤ 3×
//! - `local h = ecs.get(e, name); h.current -= 1; ecs.set(e, name, h)`, serde (`Health`) and
//!   reflected (`Stamina`): ≤ 10×
//! - `r.current -= 1` through a live reference (`ecs.ref`): ≤ 3×
//! - the game's own functions (`app.add_script_function`): a closure that takes and returns
//!   nothing, `|| {}` (the floor of every game function's call), and a plain closure
//!   `|In(x): In<f64>| x + 1.0`: ≤ 1.5×; a system with a `Query<&Transform>` doing one `get`:
//!   ≤ 4×; a system spawning an entity with `Commands`: ≤ 10×
//! - a Lua system over [`ENTITIES`] entities (query, read `Velocity`, translate), written with
//!   `ecs.query` + `ecs.get` and with `ecs.each`: ≤ 300 ns per entity
//!
//! Like the other benchmarks, this file also serves `examples/perf_report.rs`, which includes
//! it as a module.

#[path = "hooks.rs"]
#[expect(
    dead_code,
    reason = "only the shared helpers of the hooks benchmark are used"
)]
mod hooks;

use bevy_app::App;
use bevy_ecs::prelude::*;
use bevy_luau::prelude::*;
use bevy_reflect::Reflect;
use bevy_transform::components::Transform;
use criterion::{Criterion, SamplingMode};
use hooks::{app, measuring, medians, plain_lua, time, wait_for};
use mlua::{Function, Lua};
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// Iterations of each per-call loop.
pub(crate) const ITERATIONS: u32 = 100_000;

/// Entities the Lua system runs over.
pub(crate) const ENTITIES: u32 = 10_000;

/// A 2-field serde component.
#[derive(Component, Serialize, Deserialize)]
pub(crate) struct Health {
    current: f32,
    max: f32,
}

/// The same fields, reached through reflection.
#[derive(Component, Reflect)]
#[reflect(Component)]
pub(crate) struct Stamina {
    current: f32,
    max: f32,
}

/// What the Lua system reads.
#[derive(Component, Reflect)]
#[reflect(Component)]
pub(crate) struct Velocity {
    x: f32,
    y: f32,
    z: f32,
}

/// How a measure's time is divided.
#[derive(Clone, Copy)]
pub(crate) enum Per {
    /// One loop of [`ITERATIONS`].
    Iteration,
    /// One pass over [`ENTITIES`] entities.
    Entity,
}

/// One measure: its event in world_access.luau, what its time is divided by, and its target,
/// either a ratio to the raw no-op or a number of nanoseconds.
#[derive(Clone, Copy)]
pub(crate) struct Measure {
    pub name: &'static str,
    pub per: Per,
    pub target: Target,
}

/// The bound a measure must stay under.
#[derive(Clone, Copy)]
pub(crate) enum Target {
    /// At most this many times the raw no-op's time per iteration.
    Ratio(f64),
    /// At most this many nanoseconds per entity.
    Nanoseconds(f64),
}

/// Every measure, in the order reported.
pub(crate) const MEASURES: [Measure; 13] = [
    per_call("exists", 1.5),
    per_call("delta", 1.5),
    per_call("cvar", 3.0),
    per_call("transform", 3.0),
    per_call("serde", 10.0),
    per_call("reflect", 10.0),
    per_call("reference", 3.0),
    per_call("fn_noop", 1.5),
    per_call("fn_closure", 1.5),
    per_call("fn_query", 4.0),
    per_call("fn_spawn", 10.0),
    per_entity("system_query", 300.0),
    per_entity("system_each", 300.0),
];

const fn per_call(name: &'static str, ratio: f64) -> Measure {
    Measure {
        name,
        per: Per::Iteration,
        target: Target::Ratio(ratio),
    }
}

const fn per_entity(name: &'static str, nanoseconds: f64) -> Measure {
    Measure {
        name,
        per: Per::Entity,
        target: Target::Nanoseconds(nanoseconds),
    }
}

/// The raw no-op's loop.
const RAW_LOOP: &str = r#"
local raw = ...
return function(n: number)
    for _ = 1, n do
        raw.noop()
    end
end
"#;

/// One measured result.
pub(crate) struct Measured {
    pub measure: Measure,
    /// Nanoseconds per iteration (or per entity).
    pub nanoseconds: f64,
    /// `nanoseconds` over the raw no-op's nanoseconds per iteration.
    pub ratio: f64,
}

impl Measured {
    /// Whether the result meets its target.
    pub fn passes(&self) -> bool {
        match self.measure.target {
            Target::Ratio(bound) => self.ratio <= bound,
            Target::Nanoseconds(bound) => self.nanoseconds <= bound,
        }
    }

    /// `name 1.23x (45.6 ns) <=1.50x PASS`.
    pub fn line(&self) -> String {
        let (value, bound) = match self.measure.target {
            Target::Ratio(bound) => (
                format!("{:.2}x ({:.1} ns)", self.ratio, self.nanoseconds),
                format!("<={bound:.2}x"),
            ),
            Target::Nanoseconds(bound) => (
                format!("{:.1} ns/entity ({:.2}x)", self.nanoseconds, self.ratio),
                format!("<={bound:.0} ns"),
            ),
        };
        let verdict = if self.passes() { "PASS" } else { "MISS" };
        format!("{} {value} {bound} {verdict}", self.measure.name)
    }
}

/// The app running world_access.luau and the plain VM running the raw loop.
pub(crate) struct WorldAccess {
    app: App,
    entity: Entity,
    raw: Function,
    /// Owns the VM the raw loop lives in.
    _lua: Lua,
}

/// The types world_access.luau reaches by name. `tests/script_sets.rs` checks the script
/// against the definitions of an app with these.
pub(crate) fn register(app: &mut App) {
    app.add_script_function("bench.noop", || {})
        .add_script_function("bench.add_one", |In(x): In<f64>| x + 1.0)
        .add_script_function("bench.position", position)
        .add_script_function("bench.spawn", spawn)
        .register_script_component::<Health>()
        .register_type::<Stamina>()
        .register_type::<Velocity>()
        .register_type::<Transform>()
        .register_cvar(
            "bench_speed",
            1.5,
            "what the cvar measure reads",
            CVarFlags::empty(),
        );
}

/// The game function of the query measure: one `get`.
fn position(In(entity): In<Entity>, transforms: Query<&Transform>) -> Option<bevy_math::Vec3> {
    transforms.get(entity).ok().map(|t| t.translation)
}

/// What the spawn measure spawns.
#[derive(Component)]
pub(crate) struct Spawned;

/// The game function of the spawn measure.
fn spawn(mut commands: Commands) -> Entity {
    commands.spawn(Spawned).id()
}

impl WorldAccess {
    /// Builds the app (one entity for the per-call measures, [`ENTITIES`] for the systems)
    /// and the plain VM, and waits until the script runs.
    pub(crate) fn new() -> Self {
        let plugin = LuauScriptingPlugin {
            config: ScriptConfig {
                // The loops pass more interrupt checkpoints than the default limit allows; the
                // interrupt still runs and counts at every one of them.
                instruction_limit: 100_000_000,
                ..Default::default()
            },
            ..Default::default()
        };
        let mut app = app(Some(plugin), |app| {
            register(app);
            app.add_script("scripts/bench/world_access.luau");
        });
        wait_for(&mut app, "ready", 1);
        let entity = app
            .world_mut()
            .spawn((
                Transform::default(),
                Health {
                    current: 5.0,
                    max: 10.0,
                },
                Stamina {
                    current: 5.0,
                    max: 10.0,
                },
            ))
            .id();
        app.world_mut().spawn_batch((0..ENTITIES).map(|i| {
            let x = i as f32;
            (
                Transform::from_xyz(x, 0.0, 0.0),
                Velocity {
                    x: 1.0,
                    y: 2.0,
                    z: x,
                },
            )
        }));

        let lua = plain_lua();
        let raw = lua.create_table().expect("a table");
        let noop = lua.create_function(|_, ()| Ok(())).expect("the no-op");
        raw.set("noop", noop).expect("raw.noop");
        let raw: Function = lua.load(RAW_LOOP).call(raw).expect("the raw loop compiles");
        Self {
            app,
            entity,
            raw,
            _lua: lua,
        }
    }

    /// Runs measure `name` once: [`ITERATIONS`] calls, or one pass over the entities.
    pub(crate) fn run(&mut self, name: &str) {
        let mut args = std::collections::BTreeMap::new();
        args.insert("entity".to_owned(), ScriptValue::Entity(self.entity));
        args.insert("n".to_owned(), ScriptValue::Number(f64::from(ITERATIONS)));
        let done = ScriptEngine::emit(self.app.world_mut(), name, ScriptValue::Map(args));
        assert!(matches!(done, Ok(true)), "{name}: {done:?}");
    }

    /// Runs the raw loop once: [`ITERATIONS`] calls of the no-op.
    pub(crate) fn run_raw(&self) {
        self.raw.call::<()>(ITERATIONS).expect("the raw loop");
    }

    /// Every measure of `measures`, as medians of `runs` timings, each over the raw no-op's
    /// median from the same runs.
    pub(crate) fn results(&mut self, measures: &[Measure], runs: usize) -> Vec<Measured> {
        let timings: Vec<[f64; 2]> = measures
            .iter()
            .map(|measure| {
                medians(runs, |k| {
                    if k == 0 {
                        time(1, || self.run_raw())
                    } else {
                        time(1, || self.run(measure.name))
                    }
                })
            })
            .collect();
        measures
            .iter()
            .zip(timings)
            .map(|(measure, [raw, measured])| {
                let raw = raw * 1e9 / f64::from(ITERATIONS);
                let divisor = match measure.per {
                    Per::Iteration => ITERATIONS,
                    Per::Entity => ENTITIES,
                };
                let nanoseconds = measured * 1e9 / f64::from(divisor);
                Measured {
                    measure: *measure,
                    nanoseconds,
                    ratio: nanoseconds / raw,
                }
            })
            .collect()
    }
}

fn ecs_access(c: &mut Criterion) {
    let mut access = WorldAccess::new();
    let mut group = c.benchmark_group(format!("ecs_access_x{ITERATIONS}"));
    group
        .sample_size(10)
        .sampling_mode(SamplingMode::Flat)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    group.bench_function("raw_noop", |b| b.iter(|| access.run_raw()));
    for measure in MEASURES {
        group.bench_function(measure.name, |b| b.iter(|| access.run(measure.name)));
    }
    group.finish();

    if measuring() {
        println!("per iteration, against the raw no-op in the same run:");
        for result in access.results(&MEASURES, 9) {
            println!("{}", result.line());
        }
    }
}

/// `criterion_main!` written out, like in benches/hooks.rs, so that
/// `examples/perf_report.rs` can include this file.
fn main() {
    let mut criterion = Criterion::default().configure_from_args();
    ecs_access(&mut criterion);
    criterion.final_summary();
}
