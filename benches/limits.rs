//! The cost of the sandbox limits: tight Lua loops (`assets/scripts/bench/loops.luau`: a
//! `for` loop adding its index, and the same loop calling a function each iteration) run by
//! `ScriptEngine::emit` in an app with the instruction limit and the memory limit on, against
//! the same loops in a plain `Lua::new()` with no interrupt and no memory limit, in the same
//! run. Target: at most 1.3× slower.
//!
//! Each loop runs 10 million iterations, so the cost of `emit` itself does not show. That is
//! more interrupt checkpoints than the default instruction limit (1,000,000 per call) allows,
//! so the app keeps the default memory limit and raises the instruction limit to 100 million
//! checkpoints and the time limit to a minute: the interrupt runs, counts at every checkpoint
//! and reads the clock every 64 all the same, and its cost does not depend on the limits. The plain VM compiles like the plugin's and, like it,
//! interprets.

#[path = "hooks.rs"]
#[expect(
    dead_code,
    reason = "only the shared helpers of the hooks benchmark are used"
)]
mod hooks;

use bevy_app::App;
use bevy_luau::prelude::*;
use criterion::{Criterion, SamplingMode};
use hooks::{app, assets, measuring, medians, plain_lua, time, wait_for};
use mlua::{Function, Lua, Table};
use std::time::Duration;

/// Iterations of each loop.
pub(crate) const ITERATIONS: u32 = 10_000_000;

/// The loops to run: the names of their event (in limits.luau) and function (in loops.luau).
pub(crate) const LOOPS: [&str; 2] = ["sum", "sum_calls"];

/// The app, with limits, and the plain VM, without, that run the loops.
pub(crate) struct Limits {
    app: App,
    plain: [Function; 2],
    /// Owns the VM the plain functions live in.
    _lua: Lua,
}

impl Limits {
    /// Builds the app and the plain VM, and waits until the app's script runs.
    pub(crate) fn new() -> Self {
        let plugin = LuauScriptingPlugin {
            config: ScriptConfig {
                instruction_limit: 100_000_000,
                time_limit: Some(Duration::from_secs(60)),
                ..Default::default()
            },
            ..Default::default()
        };
        let mut app = app(Some(plugin), |app| {
            app.add_script("scripts/bench/limits.luau");
        });
        wait_for(&mut app, "ready", 1);

        let lua = plain_lua();
        let source = std::fs::read_to_string(format!("{}/scripts/bench/loops.luau", assets()))
            .expect("loops.luau");
        let loops: Table = lua.load(source).eval().expect("loops.luau runs");
        let plain = LOOPS.map(|name| loops.get(name).expect("a loop"));
        Self {
            app,
            plain,
            _lua: lua,
        }
    }

    /// Runs loop `k` of [`LOOPS`] in the app.
    pub(crate) fn run_limited(&mut self, k: usize) {
        let right = ScriptEngine::emit(self.app.world_mut(), LOOPS[k], ITERATIONS);
        assert!(matches!(right, Ok(true)), "{}: {right:?}", LOOPS[k]);
    }

    /// Runs loop `k` of [`LOOPS`] in the plain VM.
    pub(crate) fn run_plain(&self, k: usize) {
        let right = self.plain[k].call::<bool>(ITERATIONS);
        assert!(matches!(right, Ok(true)), "{}: {right:?}", LOOPS[k]);
    }

    /// How many times slower each loop of [`LOOPS`] runs with limits than without: medians of
    /// `runs` timings of one run.
    pub(crate) fn slowdowns(&mut self, runs: usize) -> [f64; 2] {
        let [sum, sum_plain, calls, calls_plain] = medians(runs, |k| match k {
            0 => time(1, || self.run_limited(0)),
            1 => time(1, || self.run_plain(0)),
            2 => time(1, || self.run_limited(1)),
            _ => time(1, || self.run_plain(1)),
        });
        [sum / sum_plain, calls / calls_plain]
    }
}

fn limits(c: &mut Criterion) {
    let mut limits = Limits::new();
    let mut group = c.benchmark_group("limits");
    group
        .sample_size(10)
        .sampling_mode(SamplingMode::Flat)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3));
    for (k, name) in LOOPS.into_iter().enumerate() {
        group.bench_function(format!("{name}_plain"), |b| b.iter(|| limits.run_plain(k)));
        group.bench_function(format!("{name}_limited"), |b| {
            b.iter(|| limits.run_limited(k))
        });
    }
    group.finish();

    if measuring() {
        for (name, slowdown) in LOOPS.into_iter().zip(limits.slowdowns(5)) {
            let verdict = if slowdown <= 1.3 { "PASS" } else { "MISS" };
            println!("limits_{name} {slowdown:.2} <=1.30 {verdict}");
        }
    }
}

/// `criterion_main!` written out, like in benches/hooks.rs, so that
/// `examples/perf_report.rs` can include this file.
fn main() {
    let mut criterion = Criterion::default().configure_from_args();
    limits(&mut criterion);
    criterion.final_summary();
}
