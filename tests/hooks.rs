//! Global hooks, events and the `time` library.

mod common;

use bevy_app::Update;
use bevy_ecs::prelude::*;
use bevy_luau::prelude::*;
use common::{FRAME, Harness};

#[test]
fn hooks_run_every_frame_with_dt() {
    let mut h = Harness::new(&[(
        "scripts/tick.luau",
        r#"
        local calls = 0
        hooks.on_update(function(dt)
            calls += 1
            events.emit("tick", {calls = calls, dt = dt})
        end)
        "#,
    )])
    .scripts(&["scripts/tick.luau"]);
    h.run_until_event("tick");
    for _ in 0..3 {
        h.update();
    }
    h.assert_no_errors();
    let ticks = h.payloads("tick");
    assert_eq!(ticks.len(), 4, "one call per frame: {ticks:?}");
    for (i, tick) in ticks.iter().enumerate() {
        let map = tick.as_map().expect("table payload");
        assert_eq!(map["calls"], ScriptValue::Number(i as f64 + 1.0));
    }
    // dt is the frame's delta time (the first frame after start may be shorter).
    let last = ticks[3].as_map().unwrap()["dt"].as_number().unwrap();
    assert!((last - FRAME.as_secs_f64()).abs() < 1e-6, "dt = {last}");
}

#[test]
fn disconnect_stops_a_hook() {
    let mut h = Harness::new(&[(
        "scripts/once.luau",
        r#"
        local connection
        local calls = 0
        connection = hooks.on_update(function()
            calls += 1
            events.emit("call", calls)
            if calls == 2 then
                connection:disconnect()
                assert(connection.connected == false)
            end
        end)
        assert(connection.connected == true)
        hooks.on_update(function() events.emit("other") end)
        "#,
    )])
    .scripts(&["scripts/once.luau"]);
    h.run_until_event("call");
    for _ in 0..5 {
        h.update();
    }
    h.assert_no_errors();
    assert_eq!(
        h.payloads("call"),
        vec![ScriptValue::Number(1.0), ScriptValue::Number(2.0)]
    );
    assert_eq!(h.payloads("other").len(), 6, "the other hook keeps running");
}

#[test]
fn erroring_hook_reports_each_frame_and_other_hooks_still_run() {
    let mut h = Harness::new(&[
        (
            "scripts/bad.luau",
            "hooks.on_update(function()\n    error('boom')\nend)\n",
        ),
        (
            "scripts/good.luau",
            "hooks.on_update(function() events.emit('good') end)",
        ),
    ])
    .scripts(&["scripts/bad.luau", "scripts/good.luau"]);
    h.run_until("both scripts loaded", |seen| {
        seen.events.iter().any(|e| e.name == "good")
    });
    h.take_errors();
    h.take_events();
    for _ in 0..3 {
        h.update();
    }
    let errors = h.take_errors();
    assert_eq!(errors.len(), 3, "one error per frame: {errors:#?}");
    for error in &errors {
        assert_eq!(error.kind, ScriptErrorKind::Runtime);
        assert_eq!(error.script, "scripts/bad.luau");
        assert!(
            error.message.contains("scripts/bad.luau:2"),
            "file:line in {}",
            error.message
        );
        assert!(error.message.contains("boom"));
    }
    assert_eq!(h.payloads("good").len(), 3);
}

#[test]
fn lua_events_reach_rust_and_rust_events_reach_lua_in_the_same_step() {
    #[derive(Resource, Default)]
    struct Frame(u32);

    fn send_ping(mut frame: ResMut<Frame>, mut writer: MessageWriter<ScriptEvent>) {
        frame.0 += 1;
        writer.write(ScriptEvent::new("ping", frame.0));
    }

    let mut h = Harness::new(&[(
        "scripts/pong.luau",
        r#"
        events.on("ping", function(n)
            events.emit("pong", {n = n, frame = time.frame()})
        end)
        "#,
    )])
    .scripts(&["scripts/pong.luau"]);
    h.app
        .init_resource::<Frame>()
        .add_systems(Update, send_ping.before(ScriptingSystem));
    h.run_until_event("pong");
    h.take_events();
    h.update();
    h.update();
    h.assert_no_errors();
    let pongs = h.payloads("pong");
    assert_eq!(pongs.len(), 2, "{pongs:?}");
    let frame = h.app.world().resource::<Frame>().0;
    assert_eq!(
        pongs[1].as_map().unwrap()["n"],
        ScriptValue::Number(f64::from(frame))
    );
}

#[test]
fn a_handler_returning_true_consumes_the_event() {
    let mut h = Harness::new(&[(
        "scripts/handlers.luau",
        r#"
        events.on("action", function(payload)
            events.emit("first", payload.verb)
            return payload.verb == "look"
        end)
        events.on("action", function(payload)
            events.emit("second", payload.verb)
        end)
        events.emit("ready")
        "#,
    )])
    .scripts(&["scripts/handlers.luau"]);
    h.run_until_event("ready");
    let world = h.app.world_mut();
    let look = ScriptValue::Map([("verb".to_owned(), ScriptValue::from("look"))].into());
    let jump = ScriptValue::Map([("verb".to_owned(), ScriptValue::from("jump"))].into());
    assert_eq!(ScriptEngine::emit(world, "action", look), Ok(true));
    assert_eq!(ScriptEngine::emit(world, "action", jump), Ok(false));
    assert_eq!(
        ScriptEngine::emit(world, "nobody_listens", ScriptValue::Nil),
        Ok(false)
    );
    h.update();
    h.assert_no_errors();
    assert_eq!(
        h.payloads("first"),
        vec![ScriptValue::from("look"), ScriptValue::from("jump")]
    );
    assert_eq!(h.payloads("second"), vec![ScriptValue::from("jump")]);
}

#[test]
fn emit_returns_the_handler_error_when_nothing_consumed_the_event() {
    let mut h = Harness::new(&[(
        "scripts/fails.luau",
        r#"
        events.on("hit", function(payload) return payload.damage > 0 end)
        events.emit("ready")
        "#,
    )])
    .scripts(&["scripts/fails.luau"]);
    h.run_until_event("ready");
    let world = h.app.world_mut();
    let error =
        ScriptEngine::emit(world, "hit", "not a table").expect_err("indexing a string field fails");
    assert_eq!(error.kind, ScriptErrorKind::Runtime);
    assert!(
        error.message.contains("scripts/fails.luau:2"),
        "{}",
        error.message
    );
    let hit = ScriptValue::Map([("damage".to_owned(), ScriptValue::Number(3.0))].into());
    assert_eq!(ScriptEngine::emit(world, "hit", hit), Ok(true));
    // The failure was also reported as a message.
    h.update();
    assert_eq!(h.seen().errors.len(), 1);
}

#[test]
fn emit_without_the_plugin_is_an_error_not_a_panic() {
    let mut world = World::new();
    let error = ScriptEngine::emit(&mut world, "anything", ScriptValue::Nil).unwrap_err();
    assert_eq!(error.kind, ScriptErrorKind::MissingPlugin);
    assert_eq!(error.origin, ErrorOrigin::Crate);
    assert_eq!(error.script, "bevy_luau");
}

#[test]
fn bad_arguments_name_the_function() {
    let mut h = Harness::new(&[(
        "scripts/bad_args.luau",
        r#"
        local ok, err = pcall(events.emit, "")
        assert(not ok and string.find(tostring(err), "events.emit"), tostring(err))
        ok, err = pcall(hooks.on_update, 42)
        assert(not ok and string.find(tostring(err), "on_update"), tostring(err))
        ok, err = pcall(events.emit, "x", function() end)
        assert(not ok and string.find(tostring(err), "function"), tostring(err))
        events.emit("done")
        "#,
    )])
    .scripts(&["scripts/bad_args.luau"]);
    h.run_until_event("done");
    h.assert_no_errors();
}

#[test]
fn time_reports_frames_and_elapsed_time() {
    let mut h = Harness::new(&[(
        "scripts/time.luau",
        r#"
        local first
        hooks.on_update(function(dt)
            assert(time.delta() == dt)
            first = first or time.frame()
            events.emit("time", {frame = time.frame() - first, elapsed = time.elapsed()})
        end)
        "#,
    )])
    .scripts(&["scripts/time.luau"]);
    h.run_until_event("time");
    h.update();
    h.update();
    h.assert_no_errors();
    let times = h.payloads("time");
    let frames: Vec<f64> = times
        .iter()
        .map(|t| t.as_map().unwrap()["frame"].as_number().unwrap())
        .collect();
    assert_eq!(frames, vec![0.0, 1.0, 2.0]);
    let elapsed: Vec<f64> = times
        .iter()
        .map(|t| t.as_map().unwrap()["elapsed"].as_number().unwrap())
        .collect();
    assert!(
        (elapsed[2] - elapsed[1] - FRAME.as_secs_f64()).abs() < 1e-6,
        "{elapsed:?}"
    );
}

#[test]
fn a_missing_script_file_reports_an_io_error() {
    let mut h = Harness::new(&[]).scripts(&["scripts/nope.luau"]);
    h.run_until("a load error", |seen| !seen.errors.is_empty());
    let errors = h.take_errors();
    assert_eq!(errors[0].kind, ScriptErrorKind::Io);
    assert_eq!(errors[0].script, "scripts/nope.luau");
}

#[test]
fn scripts_start_in_the_order_they_were_added_whatever_order_their_files_arrive_in() {
    let files: Vec<(String, String)> = (0..4)
        .map(|i| {
            (
                format!("scripts/{i}.luau"),
                format!("events.emit('started', {i})"),
            )
        })
        .collect();
    let borrowed: Vec<(&str, &str)> = files
        .iter()
        .map(|(p, s)| (p.as_str(), s.as_str()))
        .collect();
    let (h, gate) = Harness::with_gated_files(&borrowed);
    let mut h = h.scripts(
        &files
            .iter()
            .map(|(p, _)| format!("gated://{p}"))
            .collect::<Vec<_>>()
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>(),
    );
    // The last files arrive first, and the first one last.
    for i in [3, 1, 2] {
        gate.open(&format!("scripts/{i}.luau"));
    }
    for _ in 0..20 {
        h.update();
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
    assert!(
        h.payloads("started").is_empty(),
        "{:?}",
        h.payloads("started")
    );
    gate.open("scripts/0.luau");
    h.run_until("every script to start", |seen| {
        seen.events.iter().filter(|e| e.name == "started").count() == 4
    });
    let expected: Vec<_> = (0..4).map(|i| ScriptValue::Number(f64::from(i))).collect();
    assert_eq!(h.payloads("started"), expected);
    h.assert_no_errors();
}

#[test]
fn a_script_that_fails_to_load_does_not_hold_back_the_next() {
    let mut h = Harness::new(&[
        ("scripts/broken.luau", "this is not Luau"),
        ("scripts/fine.luau", "events.emit('started', 'fine')"),
    ])
    .scripts(&[
        "scripts/missing.luau",
        "scripts/broken.luau",
        "scripts/fine.luau",
    ]);
    h.run_until("the last script to start", |seen| {
        seen.events.iter().any(|e| e.name == "started")
    });
    let kinds: Vec<_> = h.take_errors().into_iter().map(|e| e.kind).collect();
    assert!(kinds.contains(&ScriptErrorKind::Io), "{kinds:?}");
    assert!(kinds.contains(&ScriptErrorKind::Compile), "{kinds:?}");
}
