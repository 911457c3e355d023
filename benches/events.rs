//! Events across the Lua–Rust boundary, per event, against a Lua→Rust call that does next to
//! nothing (`time.delta()`, called 10,000 times from a Lua loop in an event handler, as in
//! `benches/ecs_access.rs`), all in the same run. No target: the design sets none.
//!
//! - **Lua to Rust.** A hook emits 10,000 events a frame (`events.emit("tick", i)`), and a Rust
//!   system reads them with a `MessageReader<ScriptEvent>`.
//! - **Rust to Lua.** A Rust system writes 10,000 `ScriptEvent`s a frame, and a Lua
//!   `events.on` handler receives them.
//!
//! Both run in one app (`assets/scripts/bench/events.luau`); a frame with neither is measured
//! too and subtracted before dividing by 10,000.

#[path = "hooks.rs"]
#[expect(
    dead_code,
    reason = "only the shared helpers of the hooks benchmark are used"
)]
mod hooks;

use bevy_app::{App, Update};
use bevy_ecs::prelude::*;
use bevy_luau::prelude::*;
use criterion::Criterion;
use hooks::{app, measuring, medians, time, wait_for};
use std::time::Duration;

/// Events per frame each way, and no-op calls in the baseline.
pub(crate) const EVENTS: usize = 10_000;

/// How many `ScriptEvent`s named `ping` the Rust writer writes each frame.
#[derive(Resource, Default)]
struct Burst(usize);

/// How many `tick` events the Rust reader has read.
#[derive(Resource, Default)]
struct Ticks(usize);

fn write_pings(burst: Res<Burst>, mut writer: MessageWriter<ScriptEvent>) {
    writer.write_batch((0..burst.0).map(|i| ScriptEvent::new("ping", i as f64)));
}

fn read_ticks(mut reader: MessageReader<ScriptEvent>, mut ticks: ResMut<Ticks>) {
    ticks.0 += reader.read().filter(|e| e.name == "tick").count();
}

/// The app of the benchmark, switched between its workloads.
pub(crate) struct Events {
    app: App,
}

impl Events {
    /// Builds the app, waits until its script runs, and checks that events flow both ways.
    pub(crate) fn new() -> Self {
        let mut app = app(Some(LuauScriptingPlugin::default()), |app| {
            app.init_resource::<Burst>()
                .init_resource::<Ticks>()
                .add_script("scripts/bench/events.luau")
                .add_systems(Update, write_pings.before(ScriptingSystem))
                .add_systems(Update, read_ticks.after(ScriptingSystem));
        });
        wait_for(&mut app, "ready", 1);
        let mut events = Self { app };

        events.lua_to_rust();
        let before = events.app.world().resource::<Ticks>().0;
        events.app.update();
        let ticks = events.app.world().resource::<Ticks>().0 - before;
        assert_eq!(ticks, EVENTS, "Rust read {ticks} of {EVENTS} Lua events");

        events.rust_to_lua();
        events.app.update();
        events.idle();
        let received = ScriptEngine::emit(events.app.world_mut(), "received", EVENTS as f64);
        assert!(
            matches!(received, Ok(true)),
            "Lua did not receive the {EVENTS} events: {received:?}"
        );
        events
    }

    /// Frames from now on carry no events.
    pub(crate) fn idle(&mut self) {
        self.set(0, 0);
    }

    /// Frames from now on carry `EVENTS` events from Lua to Rust.
    pub(crate) fn lua_to_rust(&mut self) {
        self.set(EVENTS, 0);
    }

    /// Frames from now on carry `EVENTS` events from Rust to Lua.
    pub(crate) fn rust_to_lua(&mut self) {
        self.set(0, EVENTS);
    }

    fn set(&mut self, emits: usize, burst: usize) {
        let world = self.app.world_mut();
        let consumed = ScriptEngine::emit(world, "set_emits", emits as f64);
        assert!(matches!(consumed, Ok(true)), "set_emits: {consumed:?}");
        world.resource_mut::<Burst>().0 = burst;
    }

    /// One frame.
    pub(crate) fn frame(&mut self) {
        self.app.update();
    }

    /// `EVENTS` Lua→Rust no-op calls, in one event handler.
    pub(crate) fn baseline(&mut self) {
        let consumed = ScriptEngine::emit(self.app.world_mut(), "baseline", ScriptValue::Nil);
        assert!(matches!(consumed, Ok(true)), "baseline: {consumed:?}");
    }

    /// Per-event cost from Lua to Rust and from Rust to Lua, each over a no-op call's: medians
    /// of `runs` timings of `frames` frames.
    pub(crate) fn ratios(&mut self, runs: usize, frames: u32) -> (f64, f64) {
        let [idle, lua_to_rust, rust_to_lua, baseline] = medians(runs, |k| {
            match k {
                0 => self.idle(),
                1 => self.lua_to_rust(),
                2 => self.rust_to_lua(),
                _ => return time(frames, || self.baseline()),
            }
            // The first frame after a switch still delivers the previous workload's events.
            self.frame();
            time(frames, || self.frame())
        });
        (
            (lua_to_rust - idle) / baseline,
            (rust_to_lua - idle) / baseline,
        )
    }
}

fn events(c: &mut Criterion) {
    let mut events = Events::new();
    let mut group = c.benchmark_group(format!("events_x{EVENTS}"));
    group
        .sample_size(20)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3));
    group.bench_function("baseline_noop_calls", |b| b.iter(|| events.baseline()));
    events.idle();
    group.bench_function("frame_no_events", |b| b.iter(|| events.frame()));
    events.lua_to_rust();
    group.bench_function("frame_lua_to_rust", |b| b.iter(|| events.frame()));
    events.rust_to_lua();
    group.bench_function("frame_rust_to_lua", |b| b.iter(|| events.frame()));
    group.finish();

    if measuring() {
        let (lua_to_rust, rust_to_lua) = events.ratios(15, 5);
        println!("per event, (frame - frame without events) / {EVENTS}, over a no-op call:");
        println!("lua_to_rust_event {lua_to_rust:.2} (no target)");
        println!("rust_to_lua_event {rust_to_lua:.2} (no target)");
    }
}

/// `criterion_main!` written out, like in benches/hooks.rs, so that
/// `examples/perf_report.rs` can include this file.
fn main() {
    let mut criterion = Criterion::default().configure_from_args();
    events(&mut criterion);
    criterion.final_summary();
}
