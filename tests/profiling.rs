//! Per-script accounting: time, calls, errors and memory per script, the `scripts` and
//! `profile` console commands, Lua's `profiler` library, the frame budget, Bevy diagnostics
//! and jobs.

mod common;

use bevy_asset::AssetServer;
use bevy_diagnostic::DiagnosticsStore;
use bevy_ecs::prelude::*;
use bevy_luau::prelude::*;
use bevy_luau::{ScriptBudgetExceeded, ScriptProfile, ScriptProfileReport};
use common::Harness;
use std::time::Duration;

/// A global script whose hook does some work every frame and whose handler answers `ping`.
const BUSY: &str = r#"
hooks.on_update(function()
    local n = 0
    for i = 1, 20000 do n += i end
end)
events.on("ping", function() events.emit("pong", 1) end)
"#;

/// A global script that does almost nothing.
const IDLE: &str = r#"
hooks.on_update(function() end)
"#;

/// An entity script.
const MOVER: &str = r#"
local M = {}
function M.on_spawn(self) self.n = 0 end
function M.on_update(self) self.n += 1 end
return M
"#;

/// Every message of type `M` the app wrote, kept past Bevy's two-frame buffer.
#[derive(Resource)]
struct Kept<M: Message>(Vec<M>);

fn keep<M: Message + Clone>(h: &mut Harness) {
    h.app.insert_resource(Kept::<M>(Vec::new())).add_systems(
        bevy_app::Last,
        |mut read: MessageReader<M>, mut kept: ResMut<Kept<M>>| {
            kept.0.extend(read.read().cloned());
        },
    );
}

fn kept<M: Message + Clone>(h: &Harness) -> Vec<M> {
    h.app.world().resource::<Kept<M>>().0.clone()
}

fn profiles(h: &Harness) -> &ScriptProfiles {
    h.app.world().resource::<ScriptProfiles>()
}

fn spawn_scripted(h: &mut Harness, path: &str, n: usize) {
    let handle = h
        .app
        .world()
        .resource::<AssetServer>()
        .load(path.to_owned());
    for _ in 0..n {
        h.app.world_mut().spawn(Script::new(handle.clone()));
    }
}

fn run_until_profiled(h: &mut Harness, paths: &[&str]) {
    h.run_until("every script to be accounted", |_| true);
    let deadline = common::Deadline::new();
    while !paths.iter().all(|p| {
        h.app
            .world()
            .resource::<ScriptProfiles>()
            .script(p)
            .is_some_and(|s| s.calls > 1)
    }) {
        deadline.check("every script to be accounted");
        h.update();
    }
}

#[test]
fn each_script_is_timed_and_counted_by_hook() {
    let mut h = Harness::new(&[
        ("scripts/busy.luau", BUSY),
        ("scripts/idle.luau", IDLE),
        ("scripts/mover.luau", MOVER),
    ])
    .scripts(&["scripts/busy.luau", "scripts/idle.luau"]);
    spawn_scripted(&mut h, "scripts/mover.luau", 5);
    run_until_profiled(
        &mut h,
        &[
            "scripts/busy.luau",
            "scripts/idle.luau",
            "scripts/mover.luau",
        ],
    );
    ScriptEngine::emit(h.app.world_mut(), "ping", ScriptValue::Nil).expect("ping");
    for _ in 0..5 {
        h.update();
    }
    h.assert_no_errors();
    let profiles = profiles(&h);
    let busy = profiles.script("scripts/busy.luau").expect("busy");
    let idle = profiles.script("scripts/idle.luau").expect("idle");
    assert!(busy.frame_time > idle.frame_time, "{busy:?}\n{idle:?}");
    assert!(busy.peak >= busy.frame_time);
    assert_eq!(profiles.by_time()[0].path, "scripts/busy.luau");
    let site = |script: &ScriptProfile, kind: &str, name: &str| {
        script
            .sites
            .iter()
            .find(|s| s.kind == kind && s.name == name)
            .cloned()
            .unwrap_or_else(|| panic!("no {kind} {name} in {script:?}"))
    };
    assert_eq!(site(busy, "load", "top level").calls, 1);
    assert_eq!(site(busy, "event", "ping").calls, 1);
    let hook = site(busy, "hook", "on_update");
    assert!(hook.calls >= 6, "{hook:?}");
    assert_eq!(
        busy.calls,
        hook.calls + 2,
        "load, the hook's calls and ping"
    );
    // Entity scripts: one call per instance, each frame.
    let mover = profiles.script("scripts/mover.luau").expect("mover");
    assert_eq!(site(mover, "method", "on_spawn").calls, 5);
    let updates = site(mover, "method", "on_update").calls;
    assert!(updates >= 30 && updates % 5 == 0, "{updates}");
    assert!(profiles.step > Duration::ZERO && profiles.step_peak >= profiles.step_average);
}

#[test]
fn memory_is_attributed_to_the_script_that_allocated_it() {
    let hoarder = r#"
        hoard = {}
        hooks.on_update(function()
            if #hoard < 20000 then
                for i = 1, 1000 do table.insert(hoard, { i }) end
            end
        end)
    "#;
    let mut h = Harness::new(&[
        ("scripts/hoarder.luau", hoarder),
        ("scripts/idle.luau", IDLE),
    ])
    .scripts(&["scripts/hoarder.luau", "scripts/idle.luau"]);
    run_until_profiled(&mut h, &["scripts/hoarder.luau", "scripts/idle.luau"]);
    // Memory is measured once a second.
    let deadline = common::Deadline::new();
    loop {
        deadline.check("the hoard to be measured");
        h.update();
        std::thread::sleep(Duration::from_millis(20));
        let hoard = profiles(&h)
            .script("scripts/hoarder.luau")
            .and_then(|s| s.memory)
            .unwrap_or_default();
        if hoard > 1_000_000 {
            break;
        }
    }
    let profiles = profiles(&h);
    let idle = profiles
        .script("scripts/idle.luau")
        .and_then(|s| s.memory)
        .expect("measured");
    assert!(idle < 64 * 1024, "the idle script holds {idle} bytes");
    let hoard = profiles
        .script("scripts/hoarder.luau")
        .and_then(|s| s.memory)
        .expect("measured");
    assert!(profiles.memory >= hoard + idle, "{profiles:?}");
    assert_eq!(profiles.shared_memory, profiles.memory - hoard - idle);
}

#[test]
fn scripts_past_the_category_limit_share_one() {
    // 260 scripts: Luau has 254 categories for them.
    let sources: Vec<(String, String)> = (0..260)
        .map(|i| (format!("scripts/s{i:03}.luau"), format!("n{i} = {{}}")))
        .collect();
    let files: Vec<(&str, &str)> = sources
        .iter()
        .map(|(p, s)| (p.as_str(), s.as_str()))
        .collect();
    let paths: Vec<&str> = files.iter().map(|(p, _)| *p).collect();
    let mut h = Harness::new(&files).scripts(&paths);
    let deadline = common::Deadline::new();
    while profiles(&h).scripts.len() < 260
        || profiles(&h)
            .scripts
            .iter()
            .any(|s| s.memory.is_none() && s.path.as_str() < "scripts/s254")
    {
        deadline.check("every script to load and be measured");
        h.update();
        std::thread::sleep(Duration::from_millis(10));
    }
    h.assert_no_errors();
    let profiles = profiles(&h);
    let measured = profiles
        .scripts
        .iter()
        .filter(|s| s.memory.is_some())
        .count();
    assert_eq!(measured, 254, "one category each for the first 254");
    for script in &profiles.scripts[254..] {
        assert_eq!(
            script.memory, None,
            "{} shares the main category",
            script.path
        );
    }
    let table = Console::execute(h.app.world_mut(), "scripts").expect("scripts");
    assert!(table.contains("shared"), "{table}");
}

#[test]
fn the_console_lists_scripts_and_profiles_them() {
    let mut h = Harness::new(&[("scripts/busy.luau", BUSY), ("scripts/idle.luau", IDLE)])
        .scripts(&["scripts/busy.luau", "scripts/idle.luau"]);
    keep::<ScriptProfileReport>(&mut h);
    run_until_profiled(&mut h, &["scripts/busy.luau", "scripts/idle.luau"]);
    let table = Console::execute(h.app.world_mut(), "scripts").expect("scripts");
    let lines: Vec<&str> = table.lines().collect();
    assert!(lines[0].starts_with("scripting step"), "{table}");
    assert!(
        lines[1].contains("ms/frame") && lines[1].contains("script"),
        "{table}"
    );
    assert!(
        lines[2].ends_with("scripts/busy.luau"),
        "busiest first:\n{table}"
    );
    assert!(lines[3].ends_with("scripts/idle.luau"), "{table}");

    let one = Console::execute(h.app.world_mut(), "scripts busy.luau").expect("one script");
    assert!(one.starts_with("scripts/busy.luau:"), "{one}");
    assert!(one.contains("hook") && one.contains("on_update"), "{one}");
    let error = Console::execute(h.app.world_mut(), "scripts nope.luau").unwrap_err();
    assert!(
        error.to_string().contains("no script `nope.luau`"),
        "{error}"
    );

    let error = Console::execute(h.app.world_mut(), "profile").unwrap_err();
    assert!(error.to_string().contains("no profile yet"), "{error}");
    let error = Console::execute(h.app.world_mut(), "profile soon").unwrap_err();
    assert!(
        error.to_string().contains("not a number of seconds"),
        "{error}"
    );
    let started = Console::execute(h.app.world_mut(), "profile 0.5").expect("profile");
    assert!(started.contains("profiling for 0.5 s"), "{started}");
    // Test frames are 0.1 s of game time each.
    h.update();
    let progress = Console::execute(h.app.world_mut(), "profile").expect("progress");
    assert!(progress.contains("left"), "{progress}");
    for _ in 0..6 {
        h.update();
    }
    let report = Console::execute(h.app.world_mut(), "profile").expect("report");
    assert!(report.starts_with("profile of 0.5 s"), "{report}");
    let top = report.lines().nth(2).expect("a first script");
    assert!(top.ends_with("scripts/busy.luau"), "{report}");
    let reports = kept::<ScriptProfileReport>(&h);
    assert_eq!(reports.len(), 1);
    assert_eq!(reports[0].scripts[0].0, "scripts/busy.luau");
    assert!(reports[0].steps >= 5, "{:?}", reports[0]);
}

#[test]
fn errors_are_counted_per_script() {
    let failing = r#"
        hooks.on_update(function() error("broken") end)
    "#;
    let mut h =
        Harness::new(&[("scripts/failing.luau", failing)]).scripts(&["scripts/failing.luau"]);
    h.run_until("errors", |seen| seen.errors.len() >= 3);
    let errors = h.seen().errors.len() as u64;
    let counted = profiles(&h)
        .script("scripts/failing.luau")
        .expect("failing")
        .errors;
    assert_eq!(counted, errors);
}

#[test]
fn lua_reads_the_figures() {
    let reader = r#"
        hooks.on_update(function()
            local scripts = profiler.scripts()
            local step = profiler.step()
            if #scripts >= 2 and step.mean_ms > 0 then
                local first = scripts[1]
                assert(type(first.path) == "string" and type(first.frame_ms) == "number")
                assert(type(first.calls) == "number" and first.errors == 0)
                assert(type(step.memory) == "number" and step.memory > 0)
                events.emit("read", { first = first.path, count = #scripts })
            end
        end)
        assert(not pcall(function() (profiler :: any).scripts = nil end), "read-only")
    "#;
    let mut h = Harness::new(&[("scripts/busy.luau", BUSY), ("scripts/reader.luau", reader)])
        .scripts(&["scripts/busy.luau", "scripts/reader.luau"]);
    h.run_until_event("read");
    h.assert_no_errors();
}

#[test]
fn the_frame_budget_reports_at_most_once_a_second_and_stops_nothing() {
    let config = ScriptConfig {
        frame_budget: Some(Duration::from_nanos(1)),
        ..Default::default()
    };
    let mut h = Harness::with_config(config, &[("scripts/busy.luau", BUSY)])
        .scripts(&["scripts/busy.luau"]);
    keep::<ScriptBudgetExceeded>(&mut h);
    run_until_profiled(&mut h, &["scripts/busy.luau"]);
    let calls = profiles(&h)
        .script("scripts/busy.luau")
        .expect("busy")
        .calls;
    let started = std::time::Instant::now();
    while started.elapsed() < Duration::from_millis(300) {
        h.update();
    }
    // Every step is over a budget of 1 ns, but a report comes at most once a second: the
    // whole test runs in a few hundred milliseconds, so one or two (a second may have
    // passed since the first step, while the script loaded).
    let reports = kept::<ScriptBudgetExceeded>(&h);
    assert!((1..=2).contains(&reports.len()), "{reports:?}");
    let report = reports.last().expect("a report");
    assert_eq!(report.budget, Duration::from_nanos(1));
    assert!(report.step > report.budget);
    if let Some((path, time)) = report.scripts.first() {
        assert_eq!(path, "scripts/busy.luau");
        assert!(*time <= report.step);
    }
    let after = profiles(&h)
        .script("scripts/busy.luau")
        .expect("busy")
        .calls;
    assert!(
        after > calls + 2,
        "the script kept running: {calls} -> {after}"
    );
    h.assert_no_errors();
}

#[test]
fn diagnostics_report_the_step_memory_and_jobs() {
    let mut h = Harness::set_up_before_plugin(
        LuauScriptingPlugin::default(),
        &[("scripts/busy.luau", BUSY)],
        |app| {
            app.add_plugins(ScriptDiagnosticsPlugin);
        },
    )
    .scripts(&["scripts/busy.luau"]);
    run_until_profiled(&mut h, &["scripts/busy.luau"]);
    let store = h.app.world().resource::<DiagnosticsStore>();
    let step = store
        .get(&ScriptDiagnosticsPlugin::STEP_TIME)
        .and_then(|d| d.value())
        .expect("a step time");
    assert!(step > 0.0);
    let memory = store
        .get(&ScriptDiagnosticsPlugin::MEMORY)
        .and_then(|d| d.value())
        .expect("memory");
    assert!(memory > 100_000.0, "{memory}");
    let queue = store
        .get(&ScriptDiagnosticsPlugin::JOB_QUEUE)
        .and_then(|d| d.value())
        .expect("queue");
    assert_eq!(queue, 0.0);
}

#[test]
fn jobs_are_counted_by_name_with_their_wait_and_run_time() {
    let worker = r#"
        jobs.define("sum", function(n) local s = 0 for i = 1, n do s += i end return s end)
        jobs.define("nope", function() error("nope") end)
    "#;
    let main = r#"
        task.spawn(function()
            for _ = 1, 3 do jobs.run("sum", 1000):await() end
            local ok = pcall(function() jobs.run("nope", 1):await() end)
            events.emit("done", ok)
        end)
    "#;
    let mut h = Harness::new(&[("workers/sum.luau", worker), ("scripts/main.luau", main)]);
    h.app.add_worker_script("workers/sum.luau");
    let mut h = h.scripts(&["scripts/main.luau"]);
    h.run_until_event("done");
    let profiles = profiles(&h);
    let sum = profiles.job("sum").expect("sum");
    assert_eq!((sum.completed, sum.failed), (3, 0));
    assert!(sum.run_time > Duration::ZERO && sum.mean_run_time() <= sum.run_time);
    let nope = profiles.job("nope").expect("nope");
    assert_eq!((nope.completed, nope.failed), (1, 1));
    assert_eq!(profiles.queued_jobs, 0);
    assert!(
        profiles.script("nope").is_none(),
        "a job's error is not a script's"
    );
    let table = Console::execute(h.app.world_mut(), "scripts").expect("scripts");
    assert!(table.contains("job sum: 3 done (0 failed)"), "{table}");
}

#[test]
fn accounting_off_records_nothing() {
    let config = ScriptConfig {
        profiling: false,
        ..Default::default()
    };
    let mut h = Harness::with_config(config, &[("scripts/busy.luau", BUSY)])
        .scripts(&["scripts/busy.luau"]);
    h.run_until("a few frames", |_| true);
    for _ in 0..5 {
        h.update();
    }
    assert!(profiles(&h).scripts.is_empty());
    let table = Console::execute(h.app.world_mut(), "scripts").expect("scripts");
    assert_eq!(table.lines().count(), 2, "only the header: {table}");
}
