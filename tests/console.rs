//! The console: built-in commands, quoting, files, Lua, and Rust and Lua commands.

mod common;

use bevy_ecs::prelude::*;
use bevy_luau::prelude::*;
use common::Harness;

#[derive(Resource, Default)]
struct Gold(u32);

fn harness(source: &str) -> Harness {
    let mut h = Harness::new(&[
        ("scripts/t.luau", source),
        (
            "console/setup.cfg",
            "# a console file\nset r_fov 100\n\n// comments too\nset name \"Ada Lovelace\"\nset r_fov nope\nget name\n",
        ),
    ]);
    h.app
        .register_cvar("r_fov", 75.0, "field of view", CVarFlags::ARCHIVE)
        .register_cvar("name", "player", "your name", CVarFlags::empty())
        .register_cvar("vsync", true, "wait for the display", CVarFlags::empty())
        .init_resource::<Gold>()
        .add_console_command("give_gold", "give_gold <amount>", |world, args| {
            let amount: u32 = args
                .first()
                .ok_or("give_gold: how much?")?
                .parse()
                .map_err(|_| "give_gold: not a number".to_owned())?;
            world.resource_mut::<Gold>().0 += amount;
            Ok(format!("gold: {}", world.resource::<Gold>().0))
        })
        .add_script("scripts/t.luau");
    h.run_until_event("ready");
    h
}

/// Runs a console line, with the error as the text the console shows.
fn exec(h: &mut Harness, line: &str) -> Result<String, String> {
    Console::execute(h.app.world_mut(), line).map_err(|e| e.to_string())
}

#[test]
fn console_errors_are_typed() {
    let mut h = harness("events.emit('ready')");
    let world = h.app.world_mut();
    match Console::execute(world, "gte r_fov") {
        Err(ConsoleError::Unknown { name, suggestions }) => {
            assert_eq!(name, "gte");
            assert!(suggestions.contains(&"get".to_owned()), "{suggestions:?}");
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        Console::execute(world, "set"),
        Err(ConsoleError::MissingArgument {
            what: "the CVar name",
            ..
        })
    ));
    match Console::execute(world, "set r_fov wide") {
        Err(ConsoleError::Script(error)) => {
            assert_eq!(error.kind, ScriptErrorKind::TypeMismatch);
            assert_eq!(error.origin, ErrorOrigin::CVar);
            assert_eq!(error.script, "r_fov");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        Console::execute(world, r#"set name "open"#),
        Err(ConsoleError::UnclosedQuote)
    );
    assert_eq!(
        Console::execute(world, "give_gold lots"),
        Err(ConsoleError::Failed("give_gold: not a number".into()))
    );
    match Console::execute(world, "lua error('no')") {
        Err(ConsoleError::Script(error)) => {
            assert_eq!(error.origin, ErrorOrigin::Console);
            assert!(error.message.contains("no"), "{error}");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn every_built_in_command_works() {
    let mut h = harness("events.emit('ready')");
    assert_eq!(exec(&mut h, "set r_fov 90"), Ok("r_fov = 90".into()));
    assert_eq!(
        exec(&mut h, "get r_fov"),
        Ok("r_fov = 90 (default 75)".into())
    );
    assert_eq!(exec(&mut h, "toggle vsync"), Ok("vsync = false".into()));
    assert_eq!(exec(&mut h, "reset r_fov"), Ok("r_fov = 75".into()));
    let list = exec(&mut h, "list r_").expect("list");
    assert!(
        list.contains("r_fov = 75 [float, archive] field of view"),
        "{list}"
    );
    assert!(!list.contains("vsync"), "filtered by prefix: {list}");
    let help = exec(&mut h, "help").expect("help");
    for command in [
        "set",
        "get",
        "toggle",
        "reset",
        "list",
        "help",
        "exec",
        "lua",
        "give_gold",
    ] {
        assert!(help.contains(command), "{command} in {help}");
    }
    assert!(
        exec(&mut h, "help set")
            .expect("help")
            .starts_with("set <name> <value>")
    );
    assert!(
        exec(&mut h, "help r_fov")
            .expect("help")
            .contains("field of view")
    );
    assert_eq!(exec(&mut h, "   "), Ok(String::new()));
}

#[test]
fn bad_input_is_a_clear_error_and_keeps_the_old_value() {
    let mut h = harness("events.emit('ready')");
    assert!(
        exec(&mut h, "set r_fov wide")
            .unwrap_err()
            .contains("not a finite number")
    );
    assert!(
        exec(&mut h, "set r_fov")
            .unwrap_err()
            .contains("missing the value")
    );
    assert!(
        exec(&mut h, "toggle name")
            .unwrap_err()
            .contains("only a bool CVar toggles")
    );
    assert!(
        exec(&mut h, "set name \"open")
            .unwrap_err()
            .contains("quote")
    );
    assert_eq!(
        exec(&mut h, "get r_fov"),
        Ok("r_fov = 75 (default 75)".into())
    );
    let unknown = exec(&mut h, "sett r_fov 1").unwrap_err();
    assert!(
        unknown.contains("did you mean") && unknown.contains("set"),
        "{unknown}"
    );
    assert!(exec(&mut h, "get r_fvo").unwrap_err().contains("r_fov"));
}

#[test]
fn quoted_arguments_keep_their_spaces() {
    let mut h = harness("events.emit('ready')");
    assert_eq!(
        exec(&mut h, r#"set name "Ada Lovelace""#),
        Ok("name = Ada Lovelace".into())
    );
    assert_eq!(
        exec(&mut h, r#"set name "say \"hi\"""#),
        Ok(r#"name = say "hi""#.into())
    );
}

#[test]
fn exec_runs_a_file_of_console_lines() {
    let mut h = harness("events.emit('ready')");
    let output = exec(&mut h, "exec console/setup.cfg").expect("runs");
    assert!(output.contains("r_fov = 100"), "{output}");
    assert!(
        output.contains("console/setup.cfg:6: error"),
        "errors name the line: {output}"
    );
    assert!(
        output.contains("name = Ada Lovelace (default player)"),
        "{output}"
    );
    assert!(
        exec(&mut h, "exec ../../etc/passwd")
            .unwrap_err()
            .contains("outside")
    );
    assert!(
        exec(&mut h, "exec console/missing.cfg")
            .unwrap_err()
            .contains("no file")
    );
}

#[test]
fn lua_runs_sandboxed_code_in_the_main_vm() {
    let mut h = harness("events.emit('ready')");
    assert_eq!(exec(&mut h, "lua 1 + 2"), Ok("3".into()));
    assert_eq!(exec(&mut h, "lua x = 40"), Ok(String::new()));
    assert_eq!(
        exec(&mut h, "lua x + 2"),
        Ok("42".into()),
        "the console keeps its globals"
    );
    assert_eq!(exec(&mut h, "lua cvar.get('r_fov')"), Ok("75".into()));
    assert_eq!(
        exec(&mut h, "lua io == nil and os.execute == nil"),
        Ok("true".into())
    );
    assert!(
        exec(&mut h, "lua error('nope')")
            .unwrap_err()
            .contains("nope")
    );
    assert!(
        exec(&mut h, "lua while true do end")
            .unwrap_err()
            .contains("instruction limit")
    );
}

#[test]
fn rust_and_lua_commands_run_and_lua_calls_the_console() {
    let mut h = harness(
        r#"
        console.register("greet", function(args)
            return "hello " .. (args[1] or "nobody")
        end, "greet <name>")
        local out, ok = console.execute("give_gold 5")
        assert(ok and out == "gold: 5", out)
        out, ok = console.execute("nope")
        assert(not ok and string.find(out, "unknown", 1, true), out)
        local ok2, err = pcall(console.register, "set", function() end)
        assert(not ok2, "built-in names are taken")
        console.log("info", "console ready")
        ok2, err = pcall(console.log, "loud", "x")
        assert(not ok2 and string.find(tostring(err), "console.log", 1, true), tostring(err))
        events.emit("ready")
        "#,
    );
    h.assert_no_errors();
    assert_eq!(
        exec(&mut h, r#"greet "Grace Hopper""#),
        Ok("hello Grace Hopper".into())
    );
    assert_eq!(exec(&mut h, "give_gold 7"), Ok("gold: 12".into()));
    assert!(
        exec(&mut h, "give_gold lots")
            .unwrap_err()
            .contains("not a number")
    );
    assert!(
        exec(&mut h, "help greet")
            .expect("help")
            .contains("greet <name>")
    );
}

#[test]
fn console_changes_reach_lua_in_the_next_step() {
    let mut h = harness(
        r#"
        cvar.on_change("r_fov", function(_, _, new) events.emit("fov", new) end)
        events.emit("ready")
        "#,
    );
    exec(&mut h, "set r_fov 65").expect("set");
    assert!(
        h.payloads("fov").is_empty(),
        "handlers run in the scripting step"
    );
    h.update();
    assert_eq!(h.payloads("fov"), vec![ScriptValue::Number(65.0)]);
}

/// Lua app data is borrowed only between calls into Lua, never across one: a command that runs
/// the console, which runs Lua that registers and runs more commands, cannot find a borrow
/// still held by the call above it.
#[test]
fn re_entrant_console_calls_do_not_trip_a_held_borrow() {
    let mut h = harness(
        r#"
        console.register("inner", function(args)
            -- Registers a command while the console is running one, then runs Lua.
            console.register("late", function() return "late" end)
            local out, ok = console.execute("lua 1 + " .. args[1])
            assert(ok, out)
            return "inner(" .. out .. ")"
        end)
        console.register("outer", function(args)
            local out, ok = console.execute("inner " .. args[1])
            assert(ok, out)
            local late = console.execute("late")
            return "outer(" .. out .. "," .. late .. ")"
        end)
        cvar.on_change("r_fov", function(_, _, new)
            -- A handler that changes another CVar and runs the console from inside the change.
            cvar.set("name", "fov " .. tostring(new))
            events.emit("changed", console.execute("get name"))
        end)
        hooks.on_update(function()
            -- A hook that registers a hook while the hooks run.
            hooks.on_update(function() end)
        end)
        events.emit("ready")
        "#,
    );
    // From Rust, through a Lua command, through Lua again.
    assert_eq!(exec(&mut h, "outer 41"), Ok("outer(inner(42),late)".into()));
    // From Lua, through the same chain.
    assert_eq!(
        exec(&mut h, "lua (console.execute('outer 1'))"),
        Ok("outer(inner(2),late)".into())
    );
    assert_eq!(exec(&mut h, "set r_fov 90"), Ok("r_fov = 90".into()));
    h.run_until_event("changed");
    h.assert_no_errors();
    let changed = h.payloads("changed");
    assert_eq!(changed[0].as_str(), Some("name = fov 90 (default player)"));
}

/// Found by fuzzing: `lua` code that starts with a control byte was taken for Luau bytecode,
/// and the bytecode loader, which trusts its input, crashed the process. Now it is refused.
#[test]
fn lua_code_that_looks_like_bytecode_is_refused() {
    let mut h = harness("events.emit('ready')");
    for line in ["lua \u{3}\0m\u{FFFD}n", "lua \u{6}\u{3}\0\0\0\0"] {
        let answer = exec(&mut h, line).unwrap_err();
        assert!(answer.contains("binary chunk"), "{answer}");
    }
    assert_eq!(exec(&mut h, "lua 1 + 2"), Ok("3".into()));
}

/// A value whose `__tostring` never returns, as the result of a Lua command, of a `lua` line
/// and as an error value: it becomes text under the call's limits, so the console returns.
#[test]
fn results_become_text_under_the_call_limits() {
    let source = r#"
        local forever = setmetatable({}, { __tostring = function() while true do end end })
        console.register("forever", function() return forever end, "never prints")
        hooks.on_update(function()
            error(forever)
        end)
        _G_forever = forever
        events.emit("ready")
    "#;
    let mut h = harness(source);
    let error = exec(&mut h, "forever").unwrap_err();
    assert!(error.contains("instruction limit"), "{error}");
    let lua = "lua setmetatable({}, { __tostring = function() while true do end end })";
    let error = exec(&mut h, lua).unwrap_err();
    assert!(error.contains("instruction limit"), "{error}");
    // An error value whose __tostring loops: the hook's error is still reported.
    h.take_errors();
    h.update();
    let errors = h.take_errors();
    assert_eq!(errors.len(), 1, "{errors:#?}");
}

/// Names and texts a script hands the console and the CVars are bounded, so that neither Rust's
/// memory nor the "did you mean" search grows with what a script passes.
#[test]
fn long_names_and_texts_are_refused_before_they_cost_anything() {
    let source = format!(
        "{}\n{}",
        common::LUA_PRELUDE,
        r#"
        local long = string.rep("x", 2e6)
        fails("is not a CVar name", cvar.register, long, 1)
        fails("cannot be a command name", console.register, long, function() end)
        fails("the help is longer than 4096 bytes", console.register, "ok", function() end, long)
        cvar.register("motd", "hello")
        fails("longer than the 4096 a CVar holds", cvar.set, "motd", long)
        assert(cvar.get("motd") == "hello")
        local out, ok = console.execute(long)
        assert(not ok and not string.find(out, "did you mean"), out)
        assert(cvar.get(long) == nil)
        events.emit("ready")
        "#
    );
    let h = harness(&source);
    h.assert_no_errors();
}
