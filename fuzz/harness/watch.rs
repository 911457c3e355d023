//! Two invariants every input of [`super::run_source`] and [`super::run_calls`] is held to while
//! it runs, both derived from the sandbox limits the app runs with ([`ScriptConfig`], the
//! plugin's defaults), so they follow the crate's defaults rather than a number copied here:
//!
//! - **Frame time.** No single `app.update()` takes longer than
//!   [`FRAME_TIME_FACTOR`] × [`ScriptConfig::time_limit`] + [`FRAME_TIME_SLACK`]. Each call
//!   into Lua stops at the time limit, and a frame runs a handful of them (hooks, entity
//!   methods, handlers, tasks), each often stopped early by the instruction limit; the factor
//!   leaves room for that and for a shared 2-core machine under coverage instrumentation.
//!   Under `cargo test` (a debug build whose tests run in parallel) a slow frame is only
//!   reported on stderr: the project has no timed assertions in tests.
//! - **Rust memory.** The most bytes live at once during the input, less those live when it
//!   started, stay within [`memory_bound`]. Counted by the counting global allocator of
//!   [`super::memory`], which sees the Luau heaps too; skipped where that allocator is not
//!   installed.

use super::memory;
use bevy_app::App;
use bevy_luau::prelude::*;
use std::time::{Duration, Instant};

/// How many time limits one frame may take.
pub const FRAME_TIME_FACTOR: u32 = 10;

/// What a frame may take besides: the app's own work and a busy machine.
pub const FRAME_TIME_SLACK: Duration = Duration::from_millis(100);

/// Rust bytes the app may hold beyond its VMs' heaps and one conversion.
///
/// Measured with `BEVY_LUAU_FUZZ_REPORT=1` on the fuzz binaries (release, coverage
/// instrumentation, a shared 2-core machine, one worker VM):
/// - `run_calls` makes its app inside the window: Bevy's type registry with every reflected type
///   auto-registered, the schedules, the asset server, the task pools' queues, the engine and
///   both VMs' fixed heaps. 2.2 MiB for the smallest of 40,358 inputs (corpus, seeds and ten
///   minutes of fuzzing), 2.5 MiB for the largest: what its 64 calls a frame make adds at most
///   0.3 MiB.
/// - `run_source` reuses its app: the median input adds 41 KiB, and the largest of the corpus
///   and the seeds 15.5 MiB, a memory bomb that fills the main VM to its limit (counted by the
///   VM term of [`memory_bound`]).
///
/// 8 MiB is about three times the largest, for components and messages that inputs make
/// within reason and allocator slack. Two things scripts make are bounded apart:
/// [`EVENTS_ALLOWANCE`] and [`PER_ENTITY`].
pub const APP_ALLOWANCE: usize = 8 << 20;

/// The events a VM's scripts emit in one step are bounded by the crate at 64 MiB
/// (`charge_step_copy` in its `src/runtime/context.rs`), and an event lives two frames.
pub const EVENTS_ALLOWANCE: usize = 2 * (64 << 20);

/// The world is the game's memory, which scripts may grow like any system can (`ecs.spawn` in
/// a loop, a few thousand entities a frame within the time limit): each entity the input left
/// alive at its largest counts this much, its components' slots, archetype rows and hooks'
/// bookkeeping with room to spare. Component values are bounded per conversion.
pub const PER_ENTITY: usize = 4 << 10;

/// The copies one conversion out of Lua may make: the crate's cap is 64 MiB a conversion
/// (`MAX_BYTES` in its `src/value/size.rs`, "four times the default VM memory limit", while it
/// lifts the VM's own limit), and a payload of one string mentioned many times
/// (`table.create(2000, big)`) gets close to it before it is refused: 66 to 74 MiB above the
/// start for the seed `table_create_of_a_big_string_to_rust`, with its 4 MB string. One conversion runs at
/// a time on the main thread, where a job's arguments are converted too.
pub const CONVERSION_ALLOWANCE: usize = 4 * ScriptConfig::DEFAULT.memory_limit;

/// The most Rust bytes an input may add, for the app `app`: each VM's memory limit (the main VM
/// and every worker VM of the pool) plus [`CONVERSION_ALLOWANCE`] and [`APP_ALLOWANCE`]; `None`
/// when the VMs have no memory limit.
pub fn memory_bound(app: &App) -> Option<usize> {
    let config = app.world().get_resource::<ScriptConfig>()?;
    if config.memory_limit == 0 {
        return None;
    }
    let vms = 1 + app
        .world()
        .get_resource::<StatePool>()
        .map_or(0, StatePool::size);
    Some(config.memory_limit * vms + CONVERSION_ALLOWANCE + APP_ALLOWANCE + EVENTS_ALLOWANCE)
}

/// The longest one frame of `app` may take: `None` when its VMs have no time limit.
pub fn frame_limit(app: &App) -> Option<Duration> {
    let limit = app.world().get_resource::<ScriptConfig>()?.time_limit?;
    Some(limit * FRAME_TIME_FACTOR + FRAME_TIME_SLACK)
}

/// Whether `BEVY_LUAU_FUZZ_REPORT` is set: the harness then prints what it measures.
pub fn reporting() -> bool {
    std::env::var_os("BEVY_LUAU_FUZZ_REPORT").is_some()
}

/// One input's watch: counts its frames, times each, and holds its peak Rust memory.
#[derive(Debug)]
pub struct Watch {
    /// Live bytes when the input started.
    start: usize,
    frames: usize,
    slowest: Duration,
    frame_limit: Option<Duration>,
    bound: Option<usize>,
    /// The most entities the world held after a frame of the input.
    entities: usize,
}

impl Watch {
    /// Starts watching an input: its memory from now on.
    pub fn start() -> Self {
        Self {
            start: memory::start_window(),
            frames: 0,
            slowest: Duration::ZERO,
            frame_limit: None,
            bound: None,
            entities: 0,
        }
    }

    /// Takes the limits of `app`, the app the input runs in.
    pub fn limits_of(&mut self, app: &App) {
        self.frame_limit = frame_limit(app);
        self.bound = memory_bound(app);
    }

    /// Runs one frame of `app`, timed.
    pub fn update(&mut self, app: &mut App) {
        let started = Instant::now();
        app.update();
        let took = started.elapsed();
        self.frames += 1;
        self.entities = self
            .entities
            .max(app.world().entities().count_spawned() as usize);
        self.slowest = self.slowest.max(took);
        let Some(limit) = self.frame_limit else {
            return;
        };
        if took > limit {
            let message = format!(
                "frame {} of the input took {took:.2?}, more than {limit:.2?} \
                 ({FRAME_TIME_FACTOR} × the time limit + {FRAME_TIME_SLACK:?})",
                self.frames
            );
            if cfg!(test) {
                eprintln!("fuzz harness, not checked under cargo test: {message}");
            } else {
                panic!("{message}");
            }
        }
    }

    /// Checks the peak Rust memory of the input. With `BEVY_LUAU_FUZZ_REPORT` set, first prints
    /// it with the slowest frame, which is how the allowances above were measured.
    pub fn check_memory(&self) {
        let grew = memory::peak().saturating_sub(self.start);
        if reporting() {
            eprintln!(
                "fuzz input: {} frames, slowest {:.2?}, peak {} KiB above its start",
                self.frames,
                self.slowest,
                grew >> 10
            );
        }
        let (Some(bound), true) = (self.bound, memory::installed()) else {
            return;
        };
        let bound = bound.saturating_add(self.entities.saturating_mul(PER_ENTITY));
        assert!(
            grew <= bound,
            "the input made Rust hold {} MiB more at its peak (after {} frames), past the bound \
             of {} MiB (each VM's memory limit, a conversion, the app, a step's events and \
             the entities the input made)",
            grew >> 20,
            self.frames,
            bound >> 20
        );
    }
}
