//! The script debugger over real TCP: a client attaches to a headless app with the Debug
//! Adapter Protocol, stops at breakpoints, reads `self` and locals, evaluates, steps, and
//! lets the game go on; and bad input from the client never stops the game.

mod common;

use bevy_asset::AssetServer;
use bevy_luau::prelude::*;
use bevy_luau::{ScriptDebugger, ScriptDebuggerPlugin};
use common::dap::{Dap, value_of};
use common::{Deadline, Harness};
use serde_json::{Value as Json, json};
use std::net::SocketAddr;
use std::thread::JoinHandle;
use std::time::Duration;

const WALKER: &str = "local Walker = {}

function Walker:on_spawn()
    self.steps = 0
end

function Walker:on_update(dt)
    local before = self.steps
    local after = before + 1
    self.steps = after
    events.emit(\"walked\", after)
end

return Walker
";

/// An app with the debugger on a free port, and `files` in its asset folder.
fn debugged(files: &[(&str, &str)]) -> (Harness, SocketAddr) {
    let h = Harness::set_up_before_plugin(LuauScriptingPlugin::default(), files, |app| {
        app.add_plugins(ScriptDebuggerPlugin::on_port(0));
    });
    let address = h.app.world().resource::<ScriptDebugger>().address();
    assert!(
        address.ip().is_loopback(),
        "the loopback address by default"
    );
    (h, address)
}

/// Spawns an entity running walker.luau: in the main VM, or as an actor.
fn spawn_walker(h: &mut Harness, actor: bool) {
    let handle = h
        .app
        .world()
        .resource::<AssetServer>()
        .load("scripts/walker.luau");
    let mut entity = h.app.world_mut().spawn(Script::new(handle));
    if actor {
        entity.insert(ScriptActor);
    }
}

fn disk_path(h: &Harness, asset: &str) -> String {
    h.dir.path().join(asset).to_string_lossy().into_owned()
}

/// Runs frames until the client says it attached.
fn run_until_attached(h: &mut Harness, attached: &std::sync::mpsc::Receiver<()>) {
    let deadline = Deadline::new();
    while attached.try_recv().is_err() {
        h.update();
        deadline.check("the client to attach");
    }
}

/// A client on a thread of its own, as an editor is: it attaches with `breakpoints` in the
/// file at `path`, runs `at_stop` once a script stops there (which returns the thread to go
/// on with), then clears the breakpoints, continues and detaches. Returns once the client
/// attached, running frames meanwhile; [`run_with`] runs the rest.
fn client(
    h: &mut Harness,
    address: SocketAddr,
    path: &str,
    breakpoints: Json,
    at_stop: impl FnOnce(&mut Dap) -> Json + Send + 'static,
) -> JoinHandle<()> {
    let path = path.to_owned();
    let (attached, attach) = std::sync::mpsc::channel();
    let client = std::thread::spawn(move || {
        let mut dap = Dap::connect(address);
        dap.attach(&path, breakpoints);
        attached.send(()).unwrap();
        let thread = at_stop(&mut dap);
        dap.set_breakpoints(&path, json!([]));
        dap.ok("continue", json!({"threadId": thread}));
        dap.ok("disconnect", json!({}));
    });
    run_until_attached(h, &attach);
    client
}

/// Runs frames until `client` finishes, and returns what it returned.
fn run_with<T>(h: &mut Harness, client: JoinHandle<T>) -> T {
    let deadline = Deadline::new();
    while !client.is_finished() {
        h.update();
        std::thread::sleep(Duration::from_millis(1));
        deadline.check("the debugger client");
    }
    client.join().expect("the client's checks")
}

fn walked(h: &mut Harness) -> usize {
    h.take_events()
        .iter()
        .filter(|e| e.name == "walked")
        .count()
}

#[test]
fn a_client_stops_at_a_breakpoint_reads_self_and_locals_evaluates_steps_and_continues() {
    let (mut h, address) = debugged(&[("scripts/walker.luau", WALKER)]);
    let path = disk_path(&h, "scripts/walker.luau");
    let client = client(&mut h, address, &path, json!([{"line": 9}]), move |dap| {
        let stopped = dap.stopped();
        assert_eq!(stopped["reason"], "breakpoint", "{stopped}");
        let thread = stopped["threadId"].clone();
        let threads = dap.ok("threads", json!({}));
        assert!(
            threads["threads"]
                .as_array()
                .unwrap()
                .iter()
                .any(|t| t["id"] == thread)
        );

        let frame = dap.top_frame(&thread);
        assert_eq!(frame["line"], 9, "{frame}");
        let source = frame["source"]["path"].as_str().unwrap();
        assert!(source.ends_with("scripts/walker.luau"), "{source}");

        let this = dap.scope(&frame["id"], "Self");
        assert_eq!(value_of(&this, "steps"), "0");
        let locals = dap.scope(&frame["id"], "Locals");
        assert_eq!(value_of(&locals, "before"), "0");
        assert_eq!(value_of(&locals, "dt"), "0.1");

        let evaluated = dap.ok(
            "evaluate",
            json!({"expression": "before + 41", "frameId": frame["id"], "context": "repl"}),
        );
        assert_eq!(evaluated["result"], "41");
        // Evaluate sees the script's globals and libraries, and errors come back as errors.
        let evaluated = dap.ok(
            "evaluate",
            json!({"expression": "math.max(before, 7)", "frameId": frame["id"]}),
        );
        assert_eq!(evaluated["result"], "7");
        for expression in [
            "nothing.here",
            "local = = 1",
            "(function() while true do end end)()",
        ] {
            let failed = dap.ask(
                "evaluate",
                json!({"expression": expression, "frameId": frame["id"]}),
            );
            assert_eq!(failed["success"], false, "{expression}: {failed}");
        }
        let no_frame = dap.ask("scopes", json!({"frameId": 99}));
        assert_eq!(no_frame["success"], false);
        let no_reference = dap.ask("variables", json!({"variablesReference": 999}));
        assert_eq!(no_reference["success"], false);

        dap.ok("next", json!({"threadId": thread}));
        let stopped = dap.stopped();
        assert_eq!(stopped["reason"], "step");
        let frame = dap.top_frame(&thread);
        assert_eq!(
            frame["line"], 10,
            "step over goes to the next line: {frame}"
        );
        let locals = dap.scope(&frame["id"], "Locals");
        assert_eq!(value_of(&locals, "after"), "1");

        // A local set from the client is what the script goes on with.
        let locals = dap_locals_ref(dap, &frame);
        let set = dap.ok(
            "setVariable",
            json!({"variablesReference": locals, "name": "after", "value": "100"}),
        );
        assert_eq!(set["value"], "100");
        let unknown = dap.ask(
            "setVariable",
            json!({"variablesReference": locals, "name": "nope", "value": "1"}),
        );
        assert_eq!(unknown["success"], false, "{unknown}");

        thread.clone()
    });
    spawn_walker(&mut h, false);
    run_with(&mut h, client);
    // The game goes on, with the value the client set.
    for _ in 0..3 {
        h.update();
    }
    let payloads = h.payloads("walked");
    assert!(payloads.len() >= 3, "{payloads:?}");
    assert_eq!(payloads[0].as_number(), Some(100.0), "{payloads:?}");
    assert_eq!(payloads[1].as_number(), Some(101.0));
    h.assert_no_errors();
}

fn dap_locals_ref(dap: &mut Dap, frame: &Json) -> Json {
    let scopes = dap.ok("scopes", json!({"frameId": frame["id"]}));
    scopes["scopes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "Locals")
        .unwrap()["variablesReference"]
        .clone()
}

const COUNTING: &str = "local n = 0
hooks.on_update(function()
    n += 1
    local doubled = n * 2
    events.emit(\"counted\", doubled)
end)
";

#[test]
fn logpoints_write_output_and_conditional_breakpoints_stop_when_true() {
    let (mut h, address) = debugged(&[("scripts/count.luau", COUNTING)]);
    let path = disk_path(&h, "scripts/count.luau");
    let (attached, attach) = std::sync::mpsc::channel();
    let client = std::thread::spawn(move || {
        let mut dap = Dap::connect(address);
        dap.attach(
            &path,
            json!([
                {"line": 4, "logMessage": "n is {n}"},
                {"line": 5, "condition": "doubled == 6"},
            ]),
        );
        attached.send(()).unwrap();
        let stopped = dap.stopped();
        assert_eq!(stopped["reason"], "breakpoint");
        let thread = stopped["threadId"].clone();
        let frame = dap.top_frame(&thread);
        assert_eq!(frame["line"], 5);
        let locals = dap.scope(&frame["id"], "Locals");
        assert_eq!(value_of(&locals, "doubled"), "6", "the condition held");
        let upvalues = dap.scope(&frame["id"], "Upvalues");
        assert_eq!(value_of(&upvalues, "n"), "3");
        // The logpoint wrote for the hits before the stop, and did not stop.
        let logged: Vec<String> = dap
            .events
            .iter()
            .filter(|e| e["event"] == "output")
            .filter_map(|e| e["body"]["output"].as_str().map(str::to_owned))
            .collect();
        for n in 1..=3 {
            assert!(logged.contains(&format!("n is {n}\n")), "{logged:?}");
        }
        // A hit condition: stop on the second hit from now.
        dap.set_breakpoints(&path, json!([{"line": 5, "hitCondition": "2"}]));
        dap.ok("continue", json!({"threadId": thread}));
        let stopped = dap.stopped();
        let frame = dap.top_frame(&stopped["threadId"]);
        let locals = dap.scope(&frame["id"], "Locals");
        assert_eq!(
            value_of(&locals, "doubled"),
            "10",
            "the second hit after the change"
        );
        dap.ok("disconnect", json!({}));
    });
    run_until_attached(&mut h, &attach);
    h.app.add_script("scripts/count.luau");
    run_with(&mut h, client);
    h.update();
    h.assert_no_errors();
}

#[test]
fn the_exception_filter_stops_where_the_error_is_raised_and_the_error_still_reports() {
    let source = "hooks.on_update(function()
    local reason = \"out of mana\"
    error(reason)
end)
";
    let (h, address) = debugged(&[("scripts/fails.luau", source)]);
    let mut h = h.scripts(&["scripts/fails.luau"]);
    let client = std::thread::spawn(move || {
        let mut dap = Dap::connect(address);
        dap.ok("initialize", json!({}));
        dap.ok("setExceptionBreakpoints", json!({"filters": ["error"]}));
        dap.ok("configurationDone", json!({}));
        let stopped = dap.stopped();
        assert_eq!(stopped["reason"], "exception");
        assert!(
            stopped["text"].as_str().unwrap().contains("out of mana"),
            "{stopped}"
        );
        let frame = dap.top_frame(&stopped["threadId"]);
        assert_eq!(
            frame["line"], 3,
            "stopped where the error was raised: {frame}"
        );
        let locals = dap.scope(&frame["id"], "Locals");
        assert_eq!(value_of(&locals, "reason"), "\"out of mana\"");
        dap.ok("setExceptionBreakpoints", json!({"filters": []}));
        dap.ok("continue", json!({"threadId": stopped["threadId"]}));
        dap.ok("disconnect", json!({}));
    });
    run_with(&mut h, client);
    h.update();
    let errors = h.take_errors();
    assert!(!errors.is_empty(), "the error still becomes a ScriptError");
    assert!(
        errors[0].message.contains("out of mana"),
        "{}",
        errors[0].message
    );
    assert!(
        errors[0].message.contains("fails.luau:3"),
        "{}",
        errors[0].message
    );
}

#[test]
fn a_breakpoint_survives_a_hot_reload() {
    let (h, address) = debugged(&[("scripts/count.luau", COUNTING)]);
    let mut h = h.scripts(&["scripts/count.luau"]);
    h.run_until_event("counted");
    let path = disk_path(&h, "scripts/count.luau");
    let (attached, attach) = std::sync::mpsc::channel();
    let (reloaded, reload) = std::sync::mpsc::channel::<()>();
    let client = std::thread::spawn(move || {
        let mut dap = Dap::connect(address);
        dap.attach(&path, json!([{"line": 5, "condition": "doubled < 0"}]));
        attached.send(()).unwrap();
        reload.recv().unwrap();
        // The new version emits a negative number on line 5: the same breakpoint stops there.
        let stopped = dap.stopped();
        let frame = dap.top_frame(&stopped["threadId"]);
        assert_eq!(frame["line"], 5);
        let locals = dap.scope(&frame["id"], "Locals");
        assert!(value_of(&locals, "doubled").starts_with('-'), "{locals:?}");
        dap.set_breakpoints(&path, json!([]));
        dap.ok("continue", json!({"threadId": stopped["threadId"]}));
        dap.ok("disconnect", json!({}));
    });
    let deadline = Deadline::new();
    while attach.try_recv().is_err() {
        h.update();
        deadline.check("the client to attach");
    }
    for _ in 0..3 {
        h.update();
    }
    h.write("scripts/count.luau", &COUNTING.replace("n * 2", "n * -2"));
    reloaded.send(()).unwrap();
    run_with(&mut h, client);
    h.assert_no_errors();
}

#[test]
fn pause_stops_a_running_script() {
    let (h, address) = debugged(&[("scripts/count.luau", COUNTING)]);
    let mut h = h.scripts(&["scripts/count.luau"]);
    let client = std::thread::spawn(move || {
        let mut dap = Dap::connect(address);
        dap.ok("initialize", json!({}));
        dap.ok("configurationDone", json!({}));
        dap.ok("pause", json!({"threadId": 1}));
        let stopped = dap.stopped();
        assert_eq!(stopped["reason"], "pause");
        let frame = dap.top_frame(&stopped["threadId"]);
        assert!(
            frame["source"]["path"]
                .as_str()
                .unwrap()
                .ends_with("count.luau")
        );
        dap.ok("continue", json!({"threadId": stopped["threadId"]}));
        dap.ok("disconnect", json!({}));
    });
    run_with(&mut h, client);
    h.update();
    h.assert_no_errors();
}

#[test]
fn bad_input_gets_an_error_or_a_closed_connection_and_the_game_goes_on() {
    let (h, address) = debugged(&[("scripts/count.luau", COUNTING)]);
    let mut h = h.scripts(&["scripts/count.luau"]);
    h.run_until_event("counted");
    let client = std::thread::spawn(move || {
        // Invalid JSON: an error response, and the connection goes on.
        let mut dap = Dap::connect(address);
        dap.send_raw(b"Content-Length: 5\r\n\r\n{oops");
        let error = dap.read().expect("an answer to invalid JSON");
        let error = if error["type"] == "event" {
            dap.read().unwrap()
        } else {
            error
        };
        assert_eq!(error["success"], false, "{error}");
        assert!(
            error["message"].as_str().unwrap().contains("invalid JSON"),
            "{error}"
        );
        // An unknown command: an error response naming it.
        let launch = dap.ask("launch", json!({}));
        assert_eq!(launch["success"], false);
        assert!(
            launch["message"].as_str().unwrap().contains("attach"),
            "{launch}"
        );
        let unknown = dap.ask("fly", json!({}));
        assert_eq!(unknown["success"], false);
        assert!(
            unknown["message"].as_str().unwrap().contains("fly"),
            "{unknown}"
        );
        // Requests that need a stopped script, while none is.
        let trace = dap.ask("stackTrace", json!({"threadId": 1}));
        assert_eq!(trace["success"], false);
        let missing = dap.ask("setBreakpoints", json!({}));
        assert_eq!(missing["success"], false);
        // A second client is refused while this one is attached.
        let mut second = Dap::connect(address);
        let told = second.read().expect("the refusal");
        assert!(
            told["body"]["output"]
                .as_str()
                .unwrap()
                .contains("another debugger client")
        );
        assert_eq!(second.read().unwrap()["event"], "terminated");
        assert!(second.read().is_none(), "the second connection is closed");
        drop(dap);

        // A malformed header: the connection is closed.
        let mut dap = Dap::connect(address);
        dap.send_raw(b"Nonsense without a colon\r\n\r\n");
        while dap.read().is_some() {}
        // A bad Content-Length: the connection is closed.
        let mut dap = Dap::connect(address);
        dap.send_raw(b"Content-Length: lots\r\n\r\n{}");
        while dap.read().is_some() {}
    });
    run_with(&mut h, client);
    h.take_events();
    h.update();
    assert!(
        !h.payloads("counted").is_empty() || {
            h.update();
            !h.payloads("counted").is_empty()
        }
    );
    h.assert_no_errors();
}

#[test]
fn a_client_that_disconnects_while_stopped_lets_the_script_go_on() {
    let (mut h, address) = debugged(&[("scripts/walker.luau", WALKER)]);
    spawn_walker(&mut h, false);
    let path = disk_path(&h, "scripts/walker.luau");
    let client = std::thread::spawn(move || {
        let mut dap = Dap::connect(address);
        dap.attach(&path, json!([{"line": 8}]));
        dap.stopped();
        // Gone without a word.
        drop(dap);
    });
    run_with(&mut h, client);
    // The stopped frame resumed, and the breakpoints went with the client.
    h.take_events();
    for _ in 0..3 {
        h.update();
    }
    assert!(walked(&mut h) >= 3);
    h.assert_no_errors();
    let debugger = h.app.world().resource::<ScriptDebugger>();
    assert!(!debugger.stopped());
}

#[test]
fn a_breakpoint_in_a_job_stops_that_job_on_its_worker_thread() {
    let worker = "jobs.define(\"double\", function(x)
    local doubled = x * 2
    return doubled
end)
";
    let (mut h, address) = debugged(&[("scripts/workers/double.luau", worker)]);
    h.app.add_worker_script("scripts/workers/double.luau");
    let path = disk_path(&h, "scripts/workers/double.luau");
    let client = client(&mut h, address, &path, json!([{"line": 3}]), move |dap| {
        let thread = dap.stopped_on_thread("worker");
        let frame = dap.top_frame(&thread);
        assert_eq!(frame["line"], 3);
        let locals = dap.scope(&frame["id"], "Locals");
        assert_eq!(value_of(&locals, "doubled"), "42");
        thread.clone()
    });
    // Until the worker script loads, the job is unknown; ask until it runs.
    let deadline = Deadline::new();
    let result = loop {
        h.app.world().resource::<ScriptRunner>().call("double", 21);
        h.update();
        let completed =
            std::mem::take(&mut h.app.world_mut().resource_mut::<common::Seen>().completed);
        if let Some(done) = completed.into_iter().find_map(|c| c.result.ok()) {
            break done;
        }
        deadline.check("the job");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(result.as_number(), Some(42.0));
    run_with(&mut h, client);
}

#[test]
fn a_breakpoint_in_an_actor_script_stops_its_actor_vm() {
    let (mut h, address) = debugged(&[("scripts/walker.luau", WALKER)]);
    let path = disk_path(&h, "scripts/walker.luau");
    let client = client(&mut h, address, &path, json!([{"line": 9}]), move |dap| {
        let thread = dap.stopped_on_thread("actor");
        let frame = dap.top_frame(&thread);
        assert_eq!(frame["line"], 9);
        let this = dap.scope(&frame["id"], "Self");
        assert_eq!(value_of(&this, "steps"), "0");
        thread.clone()
    });
    spawn_walker(&mut h, true);
    run_with(&mut h, client);
    h.update();
    h.assert_no_errors();
}

const NESTED: &str = "local M = {}
function M.inner(x)
    local y = x + 1
    return y
end
hooks.on_update(function()
    local a = M.inner(1)
    local b = a + 1
    events.emit(\"nested\", b)
end)
";

#[test]
fn step_in_enters_a_call_and_step_out_returns_to_the_caller() {
    let (mut h, address) = debugged(&[("scripts/nested.luau", NESTED)]);
    let path = disk_path(&h, "scripts/nested.luau");
    let (attached, attach) = std::sync::mpsc::channel();
    let client = std::thread::spawn(move || {
        let mut dap = Dap::connect(address);
        dap.attach(&path, json!([{"line": 7}]));
        attached.send(()).unwrap();
        let thread = dap.stopped()["threadId"].clone();
        dap.set_breakpoints(&path, json!([]));
        dap.ok("stepIn", json!({"threadId": thread}));
        assert_eq!(dap.stopped()["reason"], "step");
        let trace = dap.ok("stackTrace", json!({"threadId": thread}));
        assert_eq!(
            trace["stackFrames"][0]["line"], 3,
            "inside `inner`: {trace}"
        );
        assert_eq!(trace["stackFrames"][0]["name"], "inner");
        assert_eq!(
            trace["stackFrames"][1]["line"], 7,
            "called from line 7: {trace}"
        );
        // A page of the stack, as editors ask for deep ones.
        let page = dap.ok(
            "stackTrace",
            json!({"threadId": thread, "startFrame": 1, "levels": 1}),
        );
        assert_eq!(page["stackFrames"].as_array().unwrap().len(), 1, "{page}");
        assert_eq!(page["stackFrames"][0]["id"], 1);
        assert_eq!(page["stackFrames"][0]["line"], 7);
        assert_eq!(page["totalFrames"], 2);
        dap.ok("stepOut", json!({"threadId": thread}));
        assert_eq!(dap.stopped()["reason"], "step");
        let frame = dap.top_frame(&thread);
        assert!(
            frame["line"] == 7 || frame["line"] == 8,
            "back in the caller: {frame}"
        );
        let locals = dap.scope(&frame["id"], "Locals");
        if frame["line"] == 8 {
            assert_eq!(value_of(&locals, "a"), "2");
        }
        dap.ok("continue", json!({"threadId": thread}));
        dap.ok("disconnect", json!({}));
    });
    run_until_attached(&mut h, &attach);
    h.app.add_script("scripts/nested.luau");
    run_with(&mut h, client);
    h.update();
    h.assert_no_errors();
    assert!(!h.payloads("nested").is_empty());
}

#[test]
fn a_stop_does_not_spend_the_time_limit_of_the_stopped_call() {
    let config = ScriptConfig {
        time_limit: Some(Duration::from_millis(200)),
        ..ScriptConfig::default()
    };
    let h = Harness::set_up_before_plugin(
        LuauScriptingPlugin {
            config,
            ..Default::default()
        },
        &[("scripts/count.luau", COUNTING)],
        |app| {
            app.add_plugins(ScriptDebuggerPlugin::on_port(0));
        },
    );
    let address = h.app.world().resource::<ScriptDebugger>().address();
    let mut h = h;
    let path = disk_path(&h, "scripts/count.luau");
    let client = client(&mut h, address, &path, json!([{"line": 4}]), move |dap| {
        let thread = dap.stopped()["threadId"].clone();
        // Stand stopped for longer than the call's time limit and the step's.
        std::thread::sleep(Duration::from_millis(1000));
        // An evaluated loop gets limits of its own, not what the stopped call has left.
        let spun = dap.ok(
            "evaluate",
            json!({"expression": "(function() local s = 0 for i = 1, 1e5 do s += i end return s end)()", "frameId": 0}),
        );
        assert_eq!(spun["result"], "5000050000");
        thread.clone()
    });
    h.app.add_script("scripts/count.luau");
    run_with(&mut h, client);
    for _ in 0..2 {
        h.update();
    }
    h.assert_no_errors();
}

#[test]
fn the_exception_filter_stops_in_a_failed_task_and_an_entity_shows_its_components() {
    let source = "task.spawn(function()
    local me = ecs.spawn({Name = \"hero\"})
    task.wait()
    error(\"task failed\")
end)
";
    let (mut h, address) = debugged(&[("scripts/task.luau", source)]);
    let (attached, attach) = std::sync::mpsc::channel();
    let client = std::thread::spawn(move || {
        let mut dap = Dap::connect(address);
        dap.ok("initialize", json!({}));
        dap.ok("setExceptionBreakpoints", json!({"filters": ["error"]}));
        dap.ok("configurationDone", json!({}));
        attached.send(()).unwrap();
        let stopped = dap.stopped();
        assert_eq!(stopped["reason"], "exception");
        let frame = dap.top_frame(&stopped["threadId"]);
        assert_eq!(frame["line"], 4, "{frame}");
        let locals = dap.scope(&frame["id"], "Locals");
        let me = locals
            .iter()
            .find(|(n, _, _)| n == "me")
            .expect("the entity local");
        assert!(me.2 > 0, "an entity expands: {me:?}");
        let components = dap.variables(&json!(me.2));
        assert_eq!(value_of(&components, "Name"), "\"hero\"", "{components:?}");
        dap.ok("continue", json!({"threadId": stopped["threadId"]}));
        dap.ok("disconnect", json!({}));
    });
    run_until_attached(&mut h, &attach);
    h.app.add_script("scripts/task.luau");
    run_with(&mut h, client);
    h.update();
    let errors = h.take_errors();
    assert!(
        errors.iter().any(|e| e.message.contains("task failed")),
        "{errors:?}"
    );
}

/// A function compiled to native code runs interpreted once it has a breakpoint, so it stops.
#[cfg(feature = "luau-jit")]
#[test]
fn a_breakpoint_stops_in_natively_compiled_code() {
    let config = ScriptConfig {
        native_codegen: true,
        ..ScriptConfig::default()
    };
    let mut h = Harness::set_up_before_plugin(
        LuauScriptingPlugin {
            config,
            ..Default::default()
        },
        &[("scripts/count.luau", COUNTING)],
        |app| {
            app.add_plugins(ScriptDebuggerPlugin::on_port(0));
        },
    );
    let address = h.app.world().resource::<ScriptDebugger>().address();
    // Loaded and run natively before any breakpoint exists.
    h.app.add_script("scripts/count.luau");
    h.run_until_event("counted");
    let path = disk_path(&h, "scripts/count.luau");
    let client = std::thread::spawn(move || {
        let mut dap = Dap::connect(address);
        dap.attach(&path, json!([{"line": 5}]));
        let stopped = dap.stopped();
        let frame = dap.top_frame(&stopped["threadId"]);
        assert_eq!(frame["line"], 5);
        dap.set_breakpoints(&path, json!([]));
        dap.ok("continue", json!({"threadId": stopped["threadId"]}));
        dap.ok("disconnect", json!({}));
    });
    run_with(&mut h, client);
    h.assert_no_errors();
}

#[test]
fn a_breakpoint_in_a_required_module_stops_and_print_goes_to_the_client() {
    let module = "local M = {}
function M.greet(name)
    local text = \"hello, \" .. name
    return text
end
return M
";
    let main = "local greeter = require(\"./lib/greeter\")
hooks.on_update(function()
    print(greeter.greet(\"ada\"))
end)
";
    let (mut h, address) = debugged(&[
        ("scripts/lib/greeter.luau", module),
        ("scripts/main.luau", main),
    ]);
    let path = disk_path(&h, "scripts/lib/greeter.luau");
    let (attached, attach) = std::sync::mpsc::channel();
    let client = std::thread::spawn(move || {
        let mut dap = Dap::connect(address);
        dap.attach(&path, json!([{"line": 4}]));
        attached.send(()).unwrap();
        let stopped = dap.stopped();
        let frame = dap.top_frame(&stopped["threadId"]);
        assert_eq!(frame["line"], 4);
        assert_eq!(frame["source"]["path"], path.as_str());
        let locals = dap.scope(&frame["id"], "Locals");
        assert_eq!(value_of(&locals, "text"), "\"hello, ada\"");
        let sources = dap.ok("loadedSources", json!({}));
        let paths: Vec<&str> = sources["sources"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|s| s["path"].as_str())
            .collect();
        assert!(
            paths.iter().any(|p| p.ends_with("scripts/main.luau")),
            "{paths:?}"
        );
        assert!(
            paths
                .iter()
                .any(|p| p.ends_with("scripts/lib/greeter.luau")),
            "{paths:?}"
        );
        dap.set_breakpoints(&path, json!([]));
        dap.ok("continue", json!({"threadId": stopped["threadId"]}));
        // `print` reaches the client while it is attached.
        loop {
            let output = dap.event("output");
            if output["body"]["output"] == "hello, ada\n" {
                break;
            }
        }
        dap.ok("disconnect", json!({}));
    });
    run_until_attached(&mut h, &attach);
    h.app.add_script("scripts/main.luau");
    run_with(&mut h, client);
    h.assert_no_errors();
}

#[test]
fn the_client_hears_continued_and_terminated_when_the_game_exits() {
    let (mut h, address) = debugged(&[("scripts/count.luau", COUNTING)]);
    let path = disk_path(&h, "scripts/count.luau");
    let (attached, attach) = std::sync::mpsc::channel();
    let client = std::thread::spawn(move || {
        let mut dap = Dap::connect(address);
        dap.attach(&path, json!([{"line": 4}]));
        attached.send(()).unwrap();
        let thread = dap.stopped()["threadId"].clone();
        dap.set_breakpoints(&path, json!([]));
        dap.ok("continue", json!({"threadId": thread}));
        assert_eq!(dap.event("continued")["body"]["threadId"], thread);
        dap.event("terminated");
    });
    run_until_attached(&mut h, &attach);
    h.app.add_script("scripts/count.luau");
    // The first frame stops at the breakpoint, and returns once the client continued.
    h.run_until_event("counted");
    h.app.world_mut().write_message(bevy_app::AppExit::Success);
    run_with(&mut h, client);
}
