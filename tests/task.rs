//! The `task` library: coroutines across frames, with deterministic game time.

mod common;

use bevy_asset::AssetServer;
use bevy_luau::prelude::*;
use common::{FRAME, Harness};

fn names(h: &Harness) -> Vec<String> {
    h.seen().events.iter().map(|e| e.name.clone()).collect()
}

fn number(value: &ScriptValue) -> f64 {
    value.as_number().expect("a number")
}

#[test]
fn wait_resumes_in_the_next_step_with_the_elapsed_time() {
    let mut h = Harness::new(&[(
        "scripts/t.luau",
        r#"
        task.spawn(function()
            events.emit("before", time.frame())
            local slept = task.wait()
            events.emit("after", {slept = slept, frame = time.frame()})
        end)
        "#,
    )])
    .scripts(&["scripts/t.luau"]);
    h.run_until_event("before");
    h.update();
    h.assert_no_errors();
    let before = number(&h.payloads("before")[0]);
    let after = h.payloads("after")[0].as_map().cloned().expect("table");
    assert_eq!(number(&after["frame"]), before + 1.0);
    assert!(
        (number(&after["slept"]) - FRAME.as_secs_f64()).abs() < 1e-6,
        "{after:?}"
    );
}

#[test]
fn wait_for_seconds_counts_game_time() {
    let mut h = Harness::new(&[(
        "scripts/t.luau",
        r#"
        task.spawn(function()
            local start = time.frame()
            local slept = task.wait(0.35)
            events.emit("woke", {frames = time.frame() - start, slept = slept})
        end)
        "#,
    )])
    .scripts(&["scripts/t.luau"]);
    h.run_until_event("woke");
    h.assert_no_errors();
    let woke = h.payloads("woke")[0].as_map().cloned().expect("table");
    // 100 ms frames: 0.35 s has passed after the fourth frame.
    assert_eq!(number(&woke["frames"]), 4.0);
    assert!((number(&woke["slept"]) - 0.4).abs() < 1e-6, "{woke:?}");
}

#[test]
fn delay_runs_a_function_with_its_arguments_later() {
    let mut h = Harness::new(&[(
        "scripts/t.luau",
        r#"
        local start = time.frame()
        task.delay(0.25, function(a, b) events.emit("delayed", {a = a, b = b, frames = time.frame() - start}) end, "x", 2)
        "#,
    )])
    .scripts(&["scripts/t.luau"]);
    h.run_until_event("delayed");
    h.assert_no_errors();
    let delayed = h.payloads("delayed")[0].as_map().cloned().expect("table");
    assert_eq!(delayed["a"], ScriptValue::from("x"));
    assert_eq!(number(&delayed["b"]), 2.0);
    assert_eq!(number(&delayed["frames"]), 3.0);
}

#[test]
fn defer_runs_at_the_end_of_the_step_in_order() {
    let mut h = Harness::new(&[(
        "scripts/t.luau",
        r#"
        hooks.on_update(function()
            if time.frame() > 3 then return end
            task.defer(function(n) events.emit("deferred", n) end, 1)
            events.emit("hook")
            task.defer(function(n)
                events.emit("deferred", n)
                task.defer(function() events.emit("nested") end)
            end, 2)
        end)
        events.on("hook", function() events.emit("handled") end)
        "#,
    )])
    .scripts(&["scripts/t.luau"]);
    h.run_until_event("nested");
    h.assert_no_errors();
    let order = names(&h);
    let first = &order[..5];
    assert_eq!(
        first,
        ["hook", "handled", "deferred", "deferred", "nested"],
        "{order:?}"
    );
    assert_eq!(
        h.payloads("deferred")[..2],
        [ScriptValue::Number(1.0), ScriptValue::Number(2.0)]
    );
}

#[test]
fn tasks_due_in_the_same_step_resume_in_the_order_they_were_scheduled() {
    let mut h = Harness::new(&[(
        "scripts/t.luau",
        r#"
        task.delay(0.25, function() events.emit("order", "first scheduled, due later") end)
        task.delay(0.21, function() events.emit("order", "second scheduled, due sooner") end)
        task.spawn(function() task.wait(0.22) events.emit("order", "third") end)
        "#,
    )])
    .scripts(&["scripts/t.luau"]);
    h.run_until("three tasks", |seen| {
        seen.events.iter().filter(|e| e.name == "order").count() == 3
    });
    let order: Vec<String> = h
        .payloads("order")
        .iter()
        .map(|v| v.as_str().unwrap_or("").to_owned())
        .collect();
    assert_eq!(
        order,
        [
            "first scheduled, due later",
            "second scheduled, due sooner",
            "third"
        ]
    );
}

#[test]
fn cancel_stops_a_task_for_good() {
    let mut h = Harness::new(&[(
        "scripts/t.luau",
        r#"
        local ticker = task.spawn(function()
            while true do events.emit("tick") task.wait() end
        end)
        local doomed = task.delay(0.15, function() events.emit("never") end)
        task.cancel(doomed)
        task.delay(0.25, function() task.cancel(ticker) events.emit("cancelled") end)
        "#,
    )])
    .scripts(&["scripts/t.luau"]);
    h.run_until_event("cancelled");
    let ticks = h.payloads("tick").len();
    for _ in 0..5 {
        h.update();
    }
    h.assert_no_errors();
    assert_eq!(h.payloads("tick").len(), ticks, "no tick after cancel");
    assert!(h.payloads("never").is_empty());
}

#[test]
fn an_error_in_a_task_is_reported_with_its_traceback_and_others_go_on() {
    let mut h = Harness::new(&[(
        "scripts/t.luau",
        "local function fail()\n    error('task broke')\nend\n\
         task.spawn(function() task.wait() fail() end)\n\
         task.spawn(function() for i = 1, 3 do task.wait() events.emit('alive', i) end end)\n",
    )])
    .scripts(&["scripts/t.luau"]);
    h.run_until("three ticks", |seen| {
        seen.events.iter().filter(|e| e.name == "alive").count() == 3
    });
    let errors = h.take_errors();
    assert_eq!(errors.len(), 1, "{errors:#?}");
    assert_eq!(errors[0].kind, ScriptErrorKind::Runtime);
    assert_eq!(errors[0].script, "scripts/t.luau");
    assert!(
        errors[0].message.contains("task broke"),
        "{}",
        errors[0].message
    );
    assert!(
        errors[0].message.contains("scripts/t.luau:2"),
        "{}",
        errors[0].message
    );
    assert!(
        errors[0].message.contains("stack traceback"),
        "{}",
        errors[0].message
    );
    assert!(
        errors[0].message.contains("scripts/t.luau:4"),
        "the traceback reaches the task: {}",
        errors[0].message
    );
}

#[test]
fn a_runaway_task_stops_at_the_instruction_limit_and_others_go_on() {
    let config = ScriptConfig {
        instruction_limit: 100_000,
        ..Default::default()
    };
    let mut h = Harness::with_config(
        config,
        &[(
            "scripts/t.luau",
            r#"
            task.spawn(function() task.wait() while true do end end)
            task.spawn(function() for i = 1, 3 do task.wait() events.emit("alive", i) end end)
            "#,
        )],
    )
    .scripts(&["scripts/t.luau"]);
    h.run_until("three ticks", |seen| {
        seen.events.iter().filter(|e| e.name == "alive").count() == 3
    });
    let errors = h.take_errors();
    assert_eq!(errors.len(), 1, "{errors:#?}");
    assert_eq!(errors[0].kind, ScriptErrorKind::InstructionLimit);
}

#[test]
fn waiting_outside_a_coroutine_is_a_clear_error() {
    let mut h = Harness::new(&[(
        "scripts/t.luau",
        "hooks.on_update(function()\n    task.wait(1)\nend)",
    )])
    .scripts(&["scripts/t.luau"]);
    h.run_until("an error", |seen| !seen.errors.is_empty());
    let error = &h.seen().errors[0];
    assert!(
        error.message.contains("only a coroutine can wait"),
        "{}",
        error.message
    );
    assert!(
        error.message.contains("scripts/t.luau:2"),
        "{}",
        error.message
    );
    assert!(
        !error.message.contains("C-call boundary"),
        "{}",
        error.message
    );
}

#[test]
fn bad_arguments_name_the_task_function() {
    let mut h = Harness::new(&[(
        "scripts/t.luau",
        r#"
        local ok, err = pcall(task.spawn, 42)
        assert(not ok and string.find(tostring(err), "task.spawn", 1, true), tostring(err))
        ok, err = pcall(task.delay, -1, function() end)
        assert(not ok and string.find(tostring(err), "task.delay", 1, true), tostring(err))
        ok, err = pcall(task.delay, 0 / 0, function() end)
        assert(not ok and string.find(tostring(err), "seconds", 1, true), tostring(err))
        ok, err = pcall(task.cancel, "thread")
        assert(not ok and string.find(tostring(err), "task.cancel", 1, true), tostring(err))
        events.emit("done")
        "#,
    )])
    .scripts(&["scripts/t.luau"]);
    h.run_until_done();
    h.assert_no_errors();
}

#[test]
fn despawning_an_entity_cancels_its_tasks_and_self_stays_valid() {
    let mut h = Harness::new(&[(
        "scripts/patrol.luau",
        r#"
        local Patrol = {}
        function Patrol:on_spawn()
            self.steps = 0
            task.spawn(function()
                while true do
                    task.wait()
                    self.steps += 1
                    events.emit("step", {entity = self.entity, steps = self.steps})
                end
            end)
        end
        return Patrol
        "#,
    )]);
    let handle = h
        .app
        .world()
        .resource::<AssetServer>()
        .load("scripts/patrol.luau");
    let a = h.app.world_mut().spawn(Script::new(handle.clone())).id();
    let b = h.app.world_mut().spawn(Script::new(handle)).id();
    h.run_until("a few steps", |seen| {
        seen.events.iter().filter(|e| e.name == "step").count() >= 4
    });
    h.app.world_mut().despawn(a);
    h.update();
    h.take_events();
    for _ in 0..3 {
        h.update();
    }
    h.assert_no_errors();
    let steps = h.payloads("step");
    assert_eq!(steps.len(), 3, "only b still steps: {steps:?}");
    for step in &steps {
        assert_eq!(step.as_map().and_then(|m| m["entity"].as_entity()), Some(b));
    }
}

#[test]
fn hot_reload_cancels_the_old_versions_tasks() {
    let version = |v: u32| {
        format!("task.spawn(function() while true do events.emit('tick', {v}) task.wait() end end)")
    };
    let mut h = Harness::new(&[("scripts/t.luau", &version(1))]).scripts(&["scripts/t.luau"]);
    h.run_until_event("tick");
    h.write("scripts/t.luau", &version(2));
    h.run_until("version 2", |seen| {
        seen.events
            .iter()
            .any(|e| e.name == "tick" && e.payload == ScriptValue::Number(2.0))
    });
    h.take_events();
    for _ in 0..3 {
        h.update();
    }
    assert_eq!(h.payloads("tick"), vec![ScriptValue::Number(2.0); 3]);
}

#[test]
fn ten_thousand_waiting_coroutines_all_resume_in_order() {
    let mut h = Harness::new(&[(
        "scripts/t.luau",
        r#"
        local N = 10000
        local resumed, last, in_order = 0, 0, true
        for i = 1, N do
            task.spawn(function()
                task.wait(0.05 + (i % 3) * 0.1)
                -- Within one step, tasks resume in the order they were scheduled.
                if i % 3 == 0 then
                    if i < last then in_order = false end
                    last = i
                end
                resumed += 1
                if resumed == N then events.emit("all", {in_order = in_order}) end
            end)
        end
        "#,
    )])
    .scripts(&["scripts/t.luau"]);
    h.run_until_event("all");
    h.assert_no_errors();
    let all = h.payloads("all")[0].as_map().cloned().expect("table");
    assert_eq!(all["in_order"], ScriptValue::Bool(true));
}
