//! The sandbox and the failure model: closed host access, per-script globals, limits, `require`.

mod common;

use bevy_luau::prelude::*;
use common::Harness;

/// Runs `source` as the top level of one script and returns the errors it reported, after it
/// emitted `done` or failed.
fn run(source: &str) -> Harness {
    let mut h = Harness::new(&[("scripts/test.luau", source)]).scripts(&["scripts/test.luau"]);
    h.run_until_done();
    h
}

#[test]
fn host_access_is_unavailable() {
    let h = run(r#"
        assert(io == nil, "io")
        assert(loadfile == nil, "loadfile")
        assert(dofile == nil, "dofile")
        assert(load == nil, "load")
        assert(os.execute == nil and os.exit == nil and os.getenv == nil and os.remove == nil, "os")
        assert(package == nil, "package")
        assert(debug == nil or debug.getregistry == nil, "debug registry")
        events.emit("done")
    "#);
    h.assert_no_errors();
}

#[test]
fn bytecode_is_refused_by_loadstring() {
    let bytecode = mlua::chunk::Compiler::new()
        .compile("return 1")
        .expect("compiles");
    let escaped: String = bytecode.iter().map(|b| format!("\\x{b:02x}")).collect();
    let h = run(&format!(
        r#"
        local f, err = loadstring("{escaped}")
        assert(f == nil, "bytecode loaded")
        assert(string.find(err, "binary"), err)
        local g = assert(loadstring("return 20 + 22"))
        assert(g() == 42)
        events.emit("done")
        "#
    ));
    h.assert_no_errors();
}

#[test]
fn globals_are_per_script() {
    let mut h = Harness::new(&[
        ("scripts/a.luau", "counter = 'a'\nfunction greet() return 'a' end\nevents.emit('a', counter)"),
        (
            "scripts/b.luau",
            "assert(counter == nil and greet == nil, 'saw globals of a')\ncounter = 'b'\nevents.emit('b', counter)",
        ),
        ("scripts/c.luau", "assert(counter == nil, 'saw globals of a or b')\nevents.emit('c')"),
    ])
    .scripts(&["scripts/a.luau", "scripts/b.luau", "scripts/c.luau"]);
    h.run_until("three scripts", |seen| {
        ["a", "b", "c"]
            .iter()
            .all(|n| seen.events.iter().any(|e| e.name == *n))
    });
    h.assert_no_errors();
}

#[test]
fn builtin_libraries_are_read_only() {
    let h = run(r#"
        local function fails(f, what)
            local ok, err = pcall(f)
            assert(not ok, what .. " was writable")
            assert(string.find(tostring(err), "readonly"), tostring(err))
        end
        fails(function() math.floor = nil end, "math")
        fails(function() string.upper = nil end, "string")
        fails(function() table.insert = print end, "table")
        fails(function() events.emit = nil end, "events")
        fails(function() hooks.on_update = nil end, "hooks")
        fails(function() time.delta = nil end, "time")
        fails(function() getfenv(0).leak = true end, "the shared environment")
        fails(function() getmetatable("").__index.upper = nil end, "the string metatable")
        -- A script may shadow a library in its own globals without touching anyone else's.
        math = {floor = function() return 0 end}
        assert(math.floor(1.5) == 0)
        events.emit("done")
    "#);
    h.assert_no_errors();
}

#[test]
fn per_script_functions_are_not_shadowed_by_builtins() {
    let h = run(r#"
        assert(print == log.info, "print is the script's log.info")
        assert(type(require) == "function" and type(loadstring) == "function")
        local function nested() return print end
        assert(nested() == log.info)
        events.emit("done")
    "#);
    h.assert_no_errors();
}

#[test]
fn loadstring_runs_in_the_scripts_own_globals() {
    let h = run(r#"
        mine = 7
        local f = assert(loadstring("return mine"))
        assert(f() == 7)
        assert(loadstring("theirs = 1"))()
        assert(theirs == 1)
        local g, err = loadstring("this is not lua")
        assert(g == nil and type(err) == "string")
        events.emit("done")
    "#);
    h.assert_no_errors();
}

#[test]
fn infinite_loop_stops_at_instruction_limit() {
    let config = ScriptConfig {
        instruction_limit: 100_000,
        ..Default::default()
    };
    let mut h = Harness::with_config(
        config,
        &[
            (
                "scripts/spin.luau",
                "hooks.on_update(function()\n    while true do end\nend)",
            ),
            (
                "scripts/ok.luau",
                "hooks.on_update(function() events.emit('alive') end)",
            ),
        ],
    )
    .scripts(&["scripts/spin.luau", "scripts/ok.luau"]);
    h.run_until_event("alive");
    h.take_errors();
    h.take_events();
    h.update();
    h.update();
    let errors = h.take_errors();
    assert_eq!(
        errors.len(),
        2,
        "the spinning hook stays registered: {errors:#?}"
    );
    for error in &errors {
        assert_eq!(error.kind, ScriptErrorKind::InstructionLimit);
        assert_eq!(error.script, "scripts/spin.luau");
        assert!(
            error.message.contains("scripts/spin.luau:2"),
            "{}",
            error.message
        );
    }
    assert_eq!(h.payloads("alive").len(), 2, "the frame goes on");
}

/// Found by fuzzing: a loop whose every step copies a large string passes only a few thousand
/// checkpoints a second, so under the instruction limit alone each call ran for about ten
/// seconds. The default time limit stops it, and the frame goes on.
#[test]
fn a_loop_of_slow_steps_stops_at_the_default_time_limit() {
    let mut h = Harness::new(&[
        (
            "scripts/slow.luau",
            r#"hooks.on_update(function()
    local t = {}
    for i = 0, 1e9 do t[i] = string.rep("xr\216wse", 9163) end
end)"#,
        ),
        (
            "scripts/ok.luau",
            "hooks.on_update(function() events.emit('alive') end)",
        ),
    ])
    .scripts(&["scripts/slow.luau", "scripts/ok.luau"]);
    h.run_until_event("alive");
    h.update();
    let errors = h.take_errors();
    assert!(!errors.is_empty(), "the slow hook was not stopped");
    for error in &errors {
        assert_eq!(error.kind, ScriptErrorKind::TimeLimit, "{error}");
        assert_eq!(error.script, "scripts/slow.luau");
        assert!(
            error.message.contains("time limit exceeded"),
            "{}",
            error.message
        );
    }
    assert!(h.payloads("alive").len() >= 2, "the frame goes on");
}

#[test]
fn runaway_top_level_stops_and_pcall_cannot_hide_it() {
    let config = ScriptConfig {
        instruction_limit: 50_000,
        ..Default::default()
    };
    let mut h = Harness::with_config(
        config,
        &[(
            "scripts/sneaky.luau",
            "while true do pcall(function() while true do end end) end",
        )],
    )
    .scripts(&["scripts/sneaky.luau"]);
    h.run_until("an error", |seen| !seen.errors.is_empty());
    assert_eq!(h.take_errors()[0].kind, ScriptErrorKind::InstructionLimit);
}

#[test]
fn allocation_bomb_stops_at_memory_limit_and_the_vm_stays_usable() {
    // No time limit: on a loaded machine a descheduled thread could meet it first.
    let config = ScriptConfig {
        memory_limit: 8 * 1024 * 1024,
        time_limit: None,
        ..Default::default()
    };
    let mut h = Harness::with_config(
        config,
        &[(
            "scripts/bomb.luau",
            r#"
            local armed = true
            hooks.on_update(function()
                if armed then
                    armed = false
                    local t = {}
                    while true do t[#t + 1] = string.rep("x", 4096) end
                end
                local fine = table.create(1000, "ok")
                events.emit("after", #fine)
            end)
            "#,
        )],
    )
    .scripts(&["scripts/bomb.luau"]);
    h.run_until("the memory error", |seen| !seen.errors.is_empty());
    let errors = h.take_errors();
    assert_eq!(errors[0].kind, ScriptErrorKind::MemoryLimit, "{errors:#?}");
    h.run_until_event("after");
    h.assert_no_errors();
    assert_eq!(h.payloads("after")[0], ScriptValue::Number(1000.0));
}

#[test]
fn deep_recursion_errors_without_crashing() {
    let mut h = Harness::new(&[(
        "scripts/deep.luau",
        r#"
        local function down(n) return down(n + 1) + 1 end
        local ok, err = pcall(down, 1)
        assert(not ok and string.find(tostring(err), "stack"), tostring(err))
        local function nest(n) return {nest = n > 0 and nest(n - 1) or nil} end
        events.emit("done")
        down(1)
        "#,
    )])
    .scripts(&["scripts/deep.luau"]);
    h.run_until("the recursion error", |seen| !seen.errors.is_empty());
    let errors = h.take_errors();
    assert_eq!(errors[0].kind, ScriptErrorKind::Runtime);
    assert!(
        errors[0].message.contains("stack overflow"),
        "{}",
        errors[0].message
    );
    assert_eq!(h.payloads("done").len(), 1);
}

#[test]
fn require_resolves_inside_the_asset_folder() {
    let mut h = Harness::new(&[
        (
            "scripts/main.luau",
            r#"
            local util = require("./lib/util")
            local again = require("lib/util.luau")
            assert(util == again, "modules are cached per script")
            assert(util.double(21) == 42)
            assert(util.shared_name() == "shared", "nested require relative to the module")
            assert(double == nil, "module globals stay in the module")
            local ok, err = pcall(require, "../../secret")
            assert(not ok and string.find(tostring(err), "outside the asset folder"), tostring(err))
            ok, err = pcall(require, "/etc/passwd")
            assert(not ok and string.find(tostring(err), "relative"), tostring(err))
            ok, err = pcall(require, "./missing")
            assert(not ok and string.find(tostring(err), "no module"), tostring(err))
            ok, err = pcall(require, "./lib/cycle_a")
            assert(not ok and string.find(tostring(err), "cycle"), tostring(err))
            ok, err = pcall(require, 42)
            assert(not ok and string.find(tostring(err), "require"), tostring(err))
            events.emit("done")
        "#,
        ),
        (
            "scripts/lib/util.luau",
            r#"
            local shared = require("../shared/init.luau")
            function double(x) return x * 2 end
            return { double = double, shared_name = function() return shared.name end }
        "#,
        ),
        ("scripts/shared/init.luau", "return { name = 'shared' }"),
        ("scripts/lib/cycle_a.luau", "return require('./cycle_b')"),
        ("scripts/lib/cycle_b.luau", "return require('./cycle_a')"),
        ("secret.luau", "return 'secret'"),
    ])
    .scripts(&["scripts/main.luau"]);
    h.run_until_done();
    h.assert_no_errors();
}

#[test]
fn errors_in_modules_name_the_module_file() {
    let mut h = Harness::new(&[
        ("scripts/main.luau", "require('./broken')"),
        ("scripts/broken.luau", "local x = 1\nerror('module failed')"),
    ])
    .scripts(&["scripts/main.luau"]);
    h.run_until("an error", |seen| !seen.errors.is_empty());
    let error = &h.seen().errors[0];
    assert_eq!(error.script, "scripts/main.luau");
    assert!(
        error.message.contains("scripts/broken.luau:2"),
        "{}",
        error.message
    );
}

#[test]
fn compile_errors_report_file_and_line() {
    let mut h = Harness::new(&[("scripts/syntax.luau", "local x = 1\nlocal = 2\n")])
        .scripts(&["scripts/syntax.luau"]);
    h.run_until("an error", |seen| !seen.errors.is_empty());
    let error = &h.seen().errors[0];
    assert_eq!(error.kind, ScriptErrorKind::Compile);
    assert!(
        error.message.contains("scripts/syntax.luau:2"),
        "{}",
        error.message
    );
}

/// Calls nested in a call (tasks it spawns, console lines it runs, the `on_despawn` of an
/// entity it despawns) share its budget: each gets what the caller has left, and what it spends
/// is charged to the caller. Every loop below counts its iterations in one counter, each of
/// which passes at least one checkpoint, so the counter is bounded by one call's budget.
#[test]
fn nested_calls_share_their_callers_instruction_budget() {
    const LIMIT: u64 = 100_000;
    let config = ScriptConfig {
        instruction_limit: LIMIT,
        time_limit: None,
        ..Default::default()
    };
    let script = r#"
        local count = 0
        -- Each level spawns the next as a task, which starts at once, inside this call.
        local function runaway(depth: number)
            if depth > 0 then
                task.spawn(runaway, depth - 1)
            end
            while true do
                count += 1
            end
        end
        hooks.on_update(function()
            count = 0
            runaway(3)
        end)
        hooks.on_update(function()
            events.emit("count", count)
        end)
    "#;
    let mut h = Harness::with_config(config, &[("scripts/nest.luau", script)])
        .scripts(&["scripts/nest.luau"]);
    h.run_until_event("count");
    let count = h.payloads("count")[0].as_number().expect("a count");
    assert!(count > LIMIT as f64 / 2.0, "the loops ran: {count}");
    // The last iteration runs before the checkpoint that finds the budget empty.
    assert!(
        count <= (LIMIT + 1) as f64,
        "four runaway loops spent {count} iterations under a budget of {LIMIT} checkpoints"
    );
    let errors = h.take_errors();
    assert!(
        errors
            .iter()
            .all(|e| e.kind == ScriptErrorKind::InstructionLimit),
        "{errors:#?}"
    );
}

#[test]
fn a_console_line_or_an_on_despawn_cannot_outrun_its_caller() {
    let config = ScriptConfig {
        instruction_limit: 100_000,
        time_limit: None,
        ..Default::default()
    };
    let spinner = r#"
        local Spinner = {}
        function Spinner:on_spawn()
            events.emit("spinner_ready")
        end
        function Spinner:on_despawn()
            while true do end
        end
        return Spinner
    "#;
    let script = r#"
        events.on("console", function()
            for _ = 1, 3 do
                console.execute("lua while true do end")
            end
            events.emit("after_console")
        end)
        events.on("despawn", function(e: Entity)
            ecs.despawn(e)
            events.emit("after_despawn")
        end)
        events.emit("ready")
    "#;
    let mut h = Harness::with_config(
        config,
        &[
            ("scripts/caller.luau", script),
            ("scripts/spinner.luau", spinner),
        ],
    )
    .scripts(&["scripts/caller.luau"]);
    h.run_until_event("ready");
    let handle = h
        .app
        .world()
        .resource::<bevy_asset::AssetServer>()
        .load("scripts/spinner.luau");
    let spinner = h.app.world_mut().spawn(Script::new(handle)).id();
    h.run_until_event("spinner_ready");
    for (event, payload) in [
        ("console", ScriptValue::Nil),
        ("despawn", ScriptValue::Entity(spinner)),
    ] {
        h.take_errors();
        let done = ScriptEngine::emit(h.app.world_mut(), event, payload);
        assert!(
            done.is_err(),
            "{event}: the caller is stopped too: {done:?}"
        );
        assert_eq!(
            done.unwrap_err().kind,
            ScriptErrorKind::InstructionLimit,
            "{event}"
        );
    }
    h.update();
    assert!(h.payloads("after_console").is_empty());
    assert!(h.payloads("after_despawn").is_empty());
}

/// A string mentioned many times costs the VM one copy but Rust one per mention: conversions
/// count bytes, so a payload that would ask Rust for gigabytes is an error, whatever it goes
/// through (an event, a job's arguments, a serde or reflected component).
#[test]
fn shared_strings_cannot_make_a_conversion_ask_rust_for_gigabytes() {
    use bevy_ecs::prelude::*;
    use bevy_reflect::Reflect;
    #[derive(Component, serde::Serialize, serde::Deserialize)]
    struct Names(Vec<String>);
    #[derive(Component, Reflect)]
    #[reflect(Component)]
    struct Labels {
        all: Vec<String>,
    }
    let source = format!(
        "{}\n{}",
        common::LUA_PRELUDE,
        r#"
        local huge = table.create(2000, string.rep("x", 8e6))
        fails("value too large to convert", events.emit, "big", huge)
        fails("value too large to convert", jobs.run, "anything", huge)
        local e = ecs.spawn()
        fails("value too large to convert", ecs.set, e, "Names", huge)
        fails("value too large to convert", ecs.set, e, "Labels", { all = huge })
        huge = nil
        events.emit("done")
        "#
    );
    let mut h = Harness::set_up_before_plugin(
        LuauScriptingPlugin {
            config: ScriptConfig {
                memory_limit: 32 << 20,
                ..Default::default()
            },
            ..Default::default()
        },
        &[("scripts/big.luau", &source)],
        |app| {
            app.register_script_component::<Names>()
                .register_type::<Labels>();
        },
    )
    .scripts(&["scripts/big.luau"]);
    h.run_until_done();
    h.assert_no_errors();
}

/// Loops that are started and never finished keep their matched entities in VM memory, so a
/// script that starts them by the thousand meets the memory limit, not the host's.
#[test]
fn unfinished_each_loops_count_against_the_memory_limit() {
    use bevy_ecs::prelude::*;
    #[derive(Component, serde::Serialize, serde::Deserialize)]
    struct Dot;
    let source = format!(
        "{}\n{}",
        common::LUA_PRELUDE,
        r#"
        for _ = 1, 5000 do
            ecs.spawn({ Dot = {} })
        end
        local loops = {}
        fails("not enough memory", function()
            while true do
                table.insert(loops, ecs.each("Dot"))
            end
        end)
        loops = nil
        events.emit("done")
        "#
    );
    let mut h = Harness::set_up_before_plugin(
        LuauScriptingPlugin {
            config: ScriptConfig {
                memory_limit: 8 << 20,
                instruction_limit: 0,
                time_limit: None,
                ..Default::default()
            },
            ..Default::default()
        },
        &[("scripts/loops.luau", &source)],
        |app| {
            app.register_script_component::<Dot>();
        },
    )
    .scripts(&["scripts/loops.luau"]);
    h.run_until_done();
    h.assert_no_errors();
}

#[test]
fn a_step_of_many_runaways_stops_its_calls_after_a_few_time_limits() {
    // Every call has its own time limit, so 8 runaway instances would take 8 of them; the step
    // stops its calls once it has run for 4, and the later instances stop at once.
    let runaway = r#"
        local R = {}
        function R:on_spawn() events.emit("spawned") end
        function R:on_update() while true do end end
        return R
    "#;
    let config = ScriptConfig {
        instruction_limit: 0,
        time_limit: Some(std::time::Duration::from_millis(40)),
        ..Default::default()
    };
    let mut h = Harness::with_config(config, &[("scripts/runaway.luau", runaway)]);
    let handle = h
        .app
        .world()
        .resource::<bevy_asset::AssetServer>()
        .load("scripts/runaway.luau");
    for _ in 0..8 {
        h.app.world_mut().spawn(Script::new(handle.clone()));
    }
    h.run_until("the runaways to stop", |seen| seen.errors.len() >= 8);
    let errors = h.take_errors();
    let first_frame = &errors[..8];
    assert!(
        first_frame
            .iter()
            .all(|e| e.kind == ScriptErrorKind::TimeLimit),
        "{errors:#?}"
    );
    let by_step = first_frame
        .iter()
        .filter(|e| {
            e.message
                .contains("the scripting step has run for 4 time limits")
        })
        .count();
    assert!(
        by_step >= 3,
        "the later calls stop for the step: {errors:#?}"
    );
}

#[test]
fn a_huge_name_makes_a_short_error() {
    let h = run(r#"
        local huge = string.rep("H", 100000)
        local e = ecs.spawn()
        local messages = {}
        for _, call in {
            function() return ecs.get(e, huge) end,
            function() return ecs.resource(huge) end,
            function() return events.emit(huge, 1) end,
            function() return jobs.run(huge, 1) end,
            function() return commands.set(e, huge, 1) end,
        } do
            local ok, message = pcall(call)
            assert(not ok, "refused")
            message = tostring(message)
            assert(#message < 400, "short: " .. #message)
            assert(string.find(message, "64 bytes", 1, true), message)
        end
        events.emit("done")
    "#);
    h.assert_no_errors();
}

#[test]
fn events_of_one_step_are_bounded_in_rust_memory() {
    let h = run(r#"
        local payload = string.rep("x", 1000000)
        local sent = 0
        local ok, message = pcall(function()
            for _ = 1, 200 do
                events.emit("big", payload)
                sent += 1
            end
        end)
        assert(not ok, "the loop is stopped")
        assert(string.find(tostring(message), "more than 64 MiB", 1, true), tostring(message))
        assert(sent >= 60 and sent < 70, "about 64 events of 1 MB: " .. sent)
        events.emit("done")
    "#);
    h.assert_no_errors();
}
