//! The worker pool: jobs from Rust and Lua, worker commands, backpressure, failures, reloads.

mod common;

use bevy_ecs::prelude::*;
use bevy_luau::prelude::*;
use common::Harness;
use serde::{Deserialize, Serialize};

#[derive(Component, Serialize, Deserialize, Debug, Clone, PartialEq)]
struct Tile {
    x: i32,
}

const WORKER: &str = r#"
jobs.define("double", function(x) return x * 2 end)
jobs.define("fail", function(reason) error("job failed: " .. tostring(reason)) end)
jobs.define("spin", function() while true do end end)
jobs.define("hog", function() local t = {} while true do t[#t + 1] = string.rep("x", 4096) .. #t end end)
jobs.define("tiles", function(args)
    for i = 1, args.n do
        commands.spawn({Tile = {x = args.base + i}})
    end
    commands.emit("tiles_done", args.base)
    return args.n
end)
"#;

fn harness(workers: usize, queue_capacity: usize, files: &[(&str, &str)]) -> Harness {
    let mut all = vec![("scripts/workers/main.luau", WORKER)];
    all.extend_from_slice(files);
    let plugin = LuauScriptingPlugin {
        workers: Some(workers),
        queue_capacity,
        config: ScriptConfig {
            instruction_limit: 200_000,
            memory_limit: 8 * 1024 * 1024,
            ..Default::default()
        },
        ..Default::default()
    };
    let mut h = Harness::with_plugin(plugin, &all);
    h.app
        .register_script_component::<Tile>()
        .add_worker_script("scripts/workers/main.luau");
    wait_for_workers(&mut h);
    h
}

/// Runs frames until the worker script has loaded (a probe job succeeds).
fn wait_for_workers(h: &mut Harness) {
    let deadline = common::Deadline::new();
    loop {
        deadline.check("the worker script to load");
        let id = runner(h).call("double", 1.0);
        h.run_until("the probe job", |seen| {
            seen.completed.iter().any(|c| c.id == id)
        });
        let done = h
            .seen()
            .completed
            .iter()
            .any(|c| c.id == id && c.result.is_ok());
        h.take_errors();
        h.app
            .world_mut()
            .resource_mut::<common::Seen>()
            .completed
            .clear();
        if done {
            return;
        }
    }
}

fn runner(h: &Harness) -> ScriptRunner {
    h.app.world().resource::<ScriptRunner>().clone()
}

fn result(h: &Harness, id: JobId) -> Result<ScriptValue, ScriptError> {
    let completed = h
        .seen()
        .completed
        .iter()
        .find(|c| c.id == id)
        .expect("completed");
    completed.result.clone()
}

fn run_until_completed(h: &mut Harness, ids: &[JobId]) {
    h.run_until("the jobs", |seen| {
        ids.iter()
            .all(|id| seen.completed.iter().any(|c| c.id == *id))
    });
}

#[test]
fn results_arrive_as_job_completed_messages() {
    let mut h = harness(2, 256, &[]);
    let runner = runner(&h);
    let double = runner.call("double", 21.0);
    let chunk = runner.run_chunk("local t = {} for i = 1, 3 do t[i] = i * i end return t");
    run_until_completed(&mut h, &[double, chunk]);
    assert_eq!(result(&h, double), Ok(ScriptValue::Number(42.0)));
    let squares = ScriptValue::List(vec![1.0.into(), 4.0.into(), 9.0.into()]);
    assert_eq!(result(&h, chunk), Ok(squares));
    h.assert_no_errors();
}

/// Found by fuzzing (`library_calls`): `jobs.run("")` reached the pool and came back as an error
/// whose script was the empty string.
#[test]
fn a_job_without_a_name_is_refused_and_its_error_still_names_something() {
    let script = r#"
        local ok, err = pcall(jobs.run, "")
        events.emit("refused", { ok = ok, err = tostring(err) })
    "#;
    let mut h = harness(1, 256, &[("scripts/empty.luau", script)]).scripts(&["scripts/empty.luau"]);
    let id = runner(&h).call("", 1.0);
    run_until_completed(&mut h, &[id]);
    let error = result(&h, id).unwrap_err();
    assert_eq!(error.script, "(unnamed job)");
    assert_eq!(error.kind, ScriptErrorKind::UnknownJob);

    h.run_until_event("refused");
    let refused = h.payloads("refused")[0].as_map().cloned().expect("a table");
    assert_eq!(refused["ok"], ScriptValue::Bool(false));
    let err = refused["err"].as_str().expect("a message").to_owned();
    assert!(
        err.contains("bad argument #1 to `jobs.run`: a job name cannot be empty"),
        "{err}"
    );
}

#[test]
fn lua_awaits_jobs_and_gets_callbacks() {
    let mut h = harness(
        2,
        256,
        &[(
            "scripts/main.luau",
            r#"
            local doubled = jobs.run("double", 5)
            doubled:on_complete(function(ok, result) events.emit("callback", {ok = ok, result = result}) end)
            task.spawn(function()
                events.emit("awaited", jobs.run("double", 8):await())
                local ok, err = pcall(function() return jobs.run("fail", "on purpose"):await() end)
                events.emit("failed", {ok = ok, err = tostring(err)})
                local late = jobs.run("double", 1)
                task.wait(0.5)
                assert(late.done and late.result == 2, "a finished job awaits without waiting")
                events.emit("late", late:await())
            end)
            local ok, err = pcall(function() return doubled:await() end)
            assert(not ok and string.find(tostring(err), "only a coroutine can wait", 1, true), tostring(err))
            "#,
        )],
    );
    h.app.add_script("scripts/main.luau");
    h.run_until_event("late");
    let callback = h.payloads("callback")[0].as_map().cloned().expect("table");
    assert_eq!(callback["ok"], ScriptValue::Bool(true));
    assert_eq!(callback["result"], ScriptValue::Number(10.0));
    assert_eq!(h.payloads("awaited"), vec![ScriptValue::Number(16.0)]);
    let failed = h.payloads("failed")[0].as_map().cloned().expect("table");
    assert_eq!(failed["ok"], ScriptValue::Bool(false));
    assert!(
        failed["err"]
            .as_str()
            .is_some_and(|e| e.contains("on purpose")),
        "{failed:?}"
    );
    assert_eq!(h.payloads("late"), vec![ScriptValue::Number(2.0)]);
    let errors = h.take_errors();
    assert_eq!(errors.len(), 1, "only the failing job: {errors:#?}");
    assert_eq!(errors[0].script, "fail");
}

#[test]
fn worker_commands_apply_in_order() {
    let mut h = harness(1, 256, &[]);
    let id = runner(&h).call(
        "tiles",
        ScriptValue::Map(
            [
                ("n".to_owned(), ScriptValue::Number(5.0)),
                ("base".to_owned(), ScriptValue::Number(100.0)),
            ]
            .into(),
        ),
    );
    run_until_completed(&mut h, &[id]);
    h.update();
    h.assert_no_errors();
    let mut tiles = h.app.world_mut().query::<&Tile>();
    let mut xs: Vec<i32> = tiles.iter(h.app.world()).map(|t| t.x).collect();
    xs.sort_unstable();
    assert_eq!(xs, vec![101, 102, 103, 104, 105]);
    assert_eq!(h.payloads("tiles_done"), vec![ScriptValue::Number(100.0)]);
}

#[test]
fn a_tiny_queue_applies_backpressure_and_loses_nothing() {
    let mut h = harness(2, 1, &[]);
    let runner = runner(&h);
    let ids: Vec<JobId> = (0..40)
        .map(|i| {
            let args = ScriptValue::Map(
                [
                    ("n".to_owned(), ScriptValue::Number(5.0)),
                    ("base".to_owned(), ScriptValue::Number(f64::from(i) * 10.0)),
                ]
                .into(),
            );
            runner.call("tiles", args)
        })
        .collect();
    run_until_completed(&mut h, &ids);
    h.update();
    h.assert_no_errors();
    let mut tiles = h.app.world_mut().query::<&Tile>();
    assert_eq!(tiles.iter(h.app.world()).count(), 200);
    assert_eq!(h.payloads("tiles_done").len(), 40);
    assert_eq!(
        h.app.world().resource::<ActionQueue>().overflowed(),
        0,
        "producers waited instead"
    );
}

#[test]
fn a_misspelled_job_fails_at_jobs_run_with_a_suggestion() {
    let script = r#"
        local ok, err = pcall(jobs.run, "doubel", 2)
        events.emit("refused", { ok = ok, err = tostring(err) })
        local job = jobs.run("double", 2)
        job:on_complete(function(ok, result) events.emit("doubled", result) end)
    "#;
    let mut h = harness(1, 256, &[("scripts/typo.luau", script)]).scripts(&["scripts/typo.luau"]);
    h.run_until_event("doubled");
    let refused = h.payloads("refused")[0].as_map().cloned().expect("a table");
    assert_eq!(refused["ok"], ScriptValue::Bool(false));
    let err = refused["err"].as_str().expect("a message");
    assert!(
        err.contains("jobs.run: no job named `doubel`; did you mean `double`?"),
        "{err}"
    );
    assert_eq!(h.payloads("doubled"), [ScriptValue::Number(4.0)]);
    h.assert_no_errors();
}

#[test]
fn failing_and_runaway_jobs_report_errors_and_return_their_vms() {
    let mut h = harness(2, 256, &[]);
    let runner = runner(&h);
    let fail = runner.call("fail", "boom");
    let spin = runner.call("spin", ScriptValue::Nil);
    let hog = runner.call("hog", ScriptValue::Nil);
    let unknown = runner.call("no_such_job", ScriptValue::Nil);
    let chunk = runner.run_chunk("return (");
    run_until_completed(&mut h, &[fail, spin, hog, unknown, chunk]);
    let kind = |id| result(&h, id).expect_err("failed").kind;
    assert_eq!(kind(fail), ScriptErrorKind::Runtime);
    assert_eq!(kind(spin), ScriptErrorKind::InstructionLimit);
    assert_eq!(kind(hog), ScriptErrorKind::MemoryLimit);
    assert_eq!(kind(unknown), ScriptErrorKind::UnknownJob);
    assert_eq!(kind(chunk), ScriptErrorKind::Compile);
    for id in [fail, spin, hog, unknown, chunk] {
        let error = result(&h, id).expect_err("failed");
        assert_eq!(error.origin, ErrorOrigin::Job, "{error}");
        assert!(error.to_string().contains(" in job `"), "{error}");
    }
    assert!(result(&h, fail).unwrap_err().message.contains("boom"));
    assert_eq!(
        h.take_errors().len(),
        5,
        "each failure is also a ScriptError message"
    );
    let pool = h.app.world().resource::<StatePool>();
    assert_eq!(pool.idle(), pool.size(), "no VM leaked");
    // The VMs still work.
    let after = runner.call("double", 2.0);
    run_until_completed(&mut h, &[after]);
    assert_eq!(result(&h, after), Ok(ScriptValue::Number(4.0)));
}

#[test]
fn ten_thousand_jobs_with_a_tenth_failing_leave_the_pool_full() {
    let mut h = harness(2, 256, &[]);
    let runner = runner(&h);
    let ids: Vec<JobId> = (0..10_000)
        .map(|i| {
            if i % 10 == 0 {
                runner.call("fail", i)
            } else {
                runner.call("double", i)
            }
        })
        .collect();
    let last = *ids.last().expect("jobs");
    h.run_until("ten thousand jobs", |seen| {
        seen.completed.len() >= ids.len() && seen.completed.iter().any(|c| c.id == last)
    });
    let failed = h
        .seen()
        .completed
        .iter()
        .filter(|c| c.result.is_err())
        .count();
    assert_eq!(failed, 1000);
    let pool = h.app.world().resource::<StatePool>();
    assert_eq!(pool.idle(), pool.size());
}

#[test]
fn hot_reload_of_worker_scripts_reaches_every_vm() {
    let mut h = harness(2, 256, &[]);
    h.write(
        "scripts/workers/main.luau",
        &WORKER.replace("return x * 2", "return x * 3"),
    );
    let deadline = common::Deadline::new();
    loop {
        deadline.check("the new worker version");
        let ids: Vec<JobId> = (0..4).map(|_| runner(&h).call("double", 10.0)).collect();
        run_until_completed(&mut h, &ids);
        let results: Vec<_> = ids.iter().map(|id| result(&h, *id)).collect();
        if results.iter().all(|r| *r == Ok(ScriptValue::Number(30.0))) {
            break;
        }
        assert!(
            results
                .iter()
                .all(|r| matches!(r, Ok(ScriptValue::Number(n)) if *n == 20.0 || *n == 30.0)),
            "{results:?}"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    // A broken version keeps the working one.
    h.write(
        "scripts/workers/main.luau",
        "jobs.define('double', function(x) return x * end)",
    );
    h.run_until("a compile error", |seen| !seen.errors.is_empty());
    assert_eq!(h.take_errors()[0].kind, ScriptErrorKind::Compile);
    let id = runner(&h).call("double", 10.0);
    run_until_completed(&mut h, &[id]);
    assert_eq!(result(&h, id), Ok(ScriptValue::Number(30.0)));
}

#[test]
fn scripts_wait_for_worker_scripts_before_their_first_run() {
    let files = [
        ("scripts/workers/main.luau", WORKER),
        (
            "scripts/main.luau",
            "jobs.run('double', 4):on_complete(function(ok, r) events.emit('first', {ok = ok, r = r}) end)",
        ),
    ];
    let plugin = LuauScriptingPlugin {
        workers: Some(1),
        ..Default::default()
    };
    let mut h = Harness::with_plugin(plugin, &files);
    h.app
        .add_worker_script("scripts/workers/main.luau")
        .add_script("scripts/main.luau");
    h.run_until_event("first");
    h.assert_no_errors();
    let first = h.payloads("first")[0].as_map().cloned().expect("table");
    assert_eq!(first["ok"], ScriptValue::Bool(true));
    assert_eq!(first["r"], ScriptValue::Number(8.0));
}

#[test]
fn bad_arguments_to_jobs_name_the_function() {
    let mut h = harness(
        1,
        256,
        &[(
            "scripts/main.luau",
            r#"
            local ok, err = pcall(jobs.run, "double", function() end)
            assert(not ok and string.find(tostring(err), "jobs.run", 1, true), tostring(err))
            ok, err = pcall(jobs.run, {})
            assert(not ok and string.find(tostring(err), "jobs.run", 1, true), tostring(err))
            local job = jobs.run("double", 1)
            ok, err = pcall(job.on_complete, job, "not a function")
            assert(not ok and string.find(tostring(err), "on_complete", 1, true), tostring(err))
            ok, err = pcall(job.on_complete, {}, function() end)
            assert(not ok and string.find(tostring(err), "jobs.run", 1, true), tostring(err))
            events.emit("done")
            "#,
        )],
    );
    h.app.add_script("scripts/main.luau");
    h.run_until_done();
    h.assert_no_errors();
}

/// Calls job `name` with `arg` until it returns `expected`, for changes that reach the
/// workers a few frames later.
fn call_until(h: &mut Harness, name: &str, arg: f64, expected: f64) {
    let deadline = common::Deadline::new();
    loop {
        deadline.check(&format!("{name}({arg}) to return {expected}"));
        let id = runner(h).call(name, arg);
        run_until_completed(h, &[id]);
        if result(h, id) == Ok(ScriptValue::Number(expected)) {
            return;
        }
        // Until the change arrives, the job may not exist yet: that error is expected.
        h.take_errors();
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

#[test]
fn worker_scripts_require_modules_and_reload_when_one_changes() {
    let mut h = harness(
        2,
        256,
        &[
            ("scripts/workers/lib/scale.luau", "return {factor = 5}"),
            (
                "scripts/workers/scaled.luau",
                "local scale = require('./lib/scale')\njobs.define('scaled', function(x) return x * scale.factor end)",
            ),
        ],
    );
    h.app.add_worker_script("scripts/workers/scaled.luau");
    call_until(&mut h, "scaled", 10.0, 50.0);
    // A chunk resolves modules from the asset folder's root.
    let id = runner(&h).run_chunk("return require('scripts/workers/lib/scale').factor");
    run_until_completed(&mut h, &[id]);
    assert_eq!(result(&h, id), Ok(ScriptValue::Number(5.0)));

    h.write("scripts/workers/lib/scale.luau", "return {factor = 7}");
    call_until(&mut h, "scaled", 10.0, 70.0);
    // A module that stops compiling keeps the workers as they were.
    h.write("scripts/workers/lib/scale.luau", "return {factor = }");
    h.run_until("the compile error", |seen| !seen.errors.is_empty());
    let error = &h.take_errors()[0];
    assert!(error.message.contains("scale.luau"), "{error}");
    call_until(&mut h, "scaled", 10.0, 70.0);
    h.assert_no_errors();
}

#[test]
fn worker_require_stays_inside_the_asset_folder() {
    let mut h = harness(
        1,
        256,
        &[("scripts/workers/escape.luau", "require('../../../outside')")],
    );
    h.app.add_worker_script("scripts/workers/escape.luau");
    h.run_until("the error", |seen| !seen.errors.is_empty());
    let error = &h.take_errors()[0];
    assert!(
        error.message.contains("outside the asset folder"),
        "{error}"
    );
    // The other worker script still serves its jobs.
    call_until(&mut h, "double", 4.0, 8.0);
}
