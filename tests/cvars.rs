//! Console variables: types, ranges, flags, on_change handlers, persistence and workers.

mod common;

use bevy_luau::CVar;
use bevy_luau::SV_CHEATS;
use bevy_luau::prelude::*;
use common::Harness;

fn harness(source: &str) -> Harness {
    let mut h = Harness::new(&[("scripts/t.luau", source)]);
    h.app
        .register_cvar("r_fov", 75.0, "field of view", CVarFlags::ARCHIVE)
        .register_cvar("name", "player", "your name", CVarFlags::ARCHIVE)
        .register_cvar("god", false, "invulnerable", CVarFlags::CHEAT)
        .register_cvar("build", 7, "build number", CVarFlags::READ_ONLY)
        .add_script("scripts/t.luau");
    h
}

fn registry(h: &mut Harness) -> bevy_ecs::world::Mut<'_, CVarRegistry> {
    h.app.world_mut().resource_mut::<CVarRegistry>()
}

#[test]
fn lua_reads_and_writes_typed_cvars() {
    let mut h = harness(
        r#"
        assert(cvar.get("r_fov") == 75)
        cvar.set("r_fov", 90)
        assert(cvar.get("r_fov") == 90)
        local ok, err = pcall(cvar.set, "r_fov", "wide")
        assert(not ok and string.find(tostring(err), "expected a float", 1, true), tostring(err))
        ok, err = pcall(cvar.set, "build", 8)
        assert(not ok and string.find(tostring(err), "read-only", 1, true), tostring(err))
        ok, err = pcall(cvar.set, "god", true)
        assert(not ok and string.find(tostring(err), "sv_cheats", 1, true), tostring(err))
        ok, err = pcall(cvar.set, "r_fvo", 1)
        assert(not ok and string.find(tostring(err), "r_fov", 1, true), "suggests the close name: " .. tostring(err))
        ok, err = pcall(cvar.set, "r_fov", {})
        assert(not ok and string.find(tostring(err), "cvar.set", 1, true), tostring(err))
        assert(cvar.get("r_fov") == 90, "failed sets keep the old value")
        assert(cvar.get("nope") == nil)
        events.emit("done")
        "#,
    );
    h.run_until_done();
    h.assert_no_errors();
    assert_eq!(registry(&mut h).get("r_fov"), Some(&CVarValue::Float(90.0)));
}

#[test]
fn cvar_get_reads_every_type_and_names_itself_in_errors() {
    // Registered names are answered by the fast path; the rest by the safe one.
    let mut h = harness(
        r#"
        assert(cvar.get("r_fov") == 75 and type(cvar.get("r_fov")) == "number")
        assert(cvar.get("name") == "player")
        assert(cvar.get("god") == false)
        assert(cvar.get("build") == 7)
        assert(cvar.get("sv_cheats") == false)
        assert(cvar.get("r_fov", "extra") == 75, "extra arguments are ignored")
        assert(cvar.get("nope") == nil and cvar.get("") == nil)
        local ok, err = pcall(cvar.get, {})
        assert(not ok and string.find(tostring(err), "bad argument #1 to `cvar.get`", 1, true), tostring(err))
        ok, err = pcall(cvar.get)
        assert(not ok and string.find(tostring(err), "cvar.get", 1, true), tostring(err))
        cvar.set("name", "hero")
        assert(cvar.get("name") == "hero", "a set is seen at once")
        events.emit("done")
        "#,
    );
    h.run_until_done();
    h.assert_no_errors();
}

#[test]
fn lua_registers_cvars_with_ranges_and_flags() {
    let mut h = harness(
        r#"
        cvar.register("spawn_rate", 2, {description = "enemies per second", flags = {"archive"}, min = 0, max = 10})
        cvar.set("spawn_rate", 5)
        local ok, err = pcall(cvar.set, "spawn_rate", 11)
        assert(not ok and string.find(tostring(err), "maximum", 1, true), tostring(err))
        ok, err = pcall(cvar.register, "bad name", 1)
        assert(not ok, "names without spaces")
        ok, err = pcall(cvar.register, "x", 1, {flags = {"sparkly"}})
        assert(not ok and string.find(tostring(err), "sparkly", 1, true), tostring(err))
        ok, err = pcall(cvar.register, "r_fov", "now a string")
        assert(not ok and string.find(tostring(err), "cannot become", 1, true), tostring(err))
        events.emit("done")
        "#,
    );
    h.run_until_done();
    h.assert_no_errors();
    let registry = registry(&mut h);
    let rate = registry.cvar("spawn_rate").expect("registered");
    assert_eq!(rate.value, CVarValue::Int(5));
    assert!(rate.flags.contains(CVarFlags::ARCHIVE));
    assert_eq!(rate.max, Some(10.0));
}

#[test]
fn lua_numbers_register_int_or_float_cvars() {
    let mut h = harness(
        r#"
        cvar.register("speed", 2, {type = "float"})
        cvar.set("speed", 2.5)
        cvar.register("r_fov", 60, {description = "wider"})
        cvar.register("count", 3.0, {type = "int"})
        local ok, err = pcall(cvar.register, "half", 1.5, {type = "int"})
        assert(not ok and string.find(tostring(err), "type \"int\"", 1, true), tostring(err))
        ok, err = pcall(cvar.register, "word", "x", {type = "float"})
        assert(not ok and string.find(tostring(err), "expected a float", 1, true), tostring(err))
        ok, err = pcall(cvar.register, "odd", 1, {type = "number"})
        assert(not ok and string.find(tostring(err), "not \"number\"", 1, true), tostring(err))
        events.emit("done")
        "#,
    );
    h.run_until_done();
    h.assert_no_errors();
    let registry = registry(&mut h);
    assert_eq!(registry.get("speed"), Some(&CVarValue::Float(2.5)));
    assert_eq!(registry.get("count"), Some(&CVarValue::Int(3)));
    let fov = registry.cvar("r_fov").expect("registered");
    assert_eq!(
        (&fov.default, fov.description.as_str()),
        (&CVarValue::Float(60.0), "wider"),
        "a whole number registers a float CVar again as a float"
    );
    assert_eq!(registry.get("half"), None);
}

#[test]
fn changes_reach_on_change_handlers_by_function_and_by_global_name() {
    let mut h = harness(
        r#"
        cvar.on_change("r_fov", function(name, old, new)
            events.emit("by_function", {name = name, old = old, new = new})
        end)
        function OnNameChanged(name, old, new) events.emit("by_name", new) end
        cvar.on_change("name", "OnNameChanged")
        events.emit("ready")
        "#,
    );
    h.run_until_event("ready");
    registry(&mut h).set("r_fov", 100.0).expect("in range");
    registry(&mut h).set("name", "Ada").expect("a string");
    // Changes travel through the action queue: handlers run in the next step.
    h.update();
    h.assert_no_errors();
    let change = h.payloads("by_function")[0]
        .as_map()
        .cloned()
        .expect("table");
    assert_eq!(change["name"], ScriptValue::from("r_fov"));
    assert_eq!(change["old"], ScriptValue::Number(75.0));
    assert_eq!(change["new"], ScriptValue::Number(100.0));
    assert_eq!(h.payloads("by_name"), vec![ScriptValue::from("Ada")]);
    // Setting the same value again is no change.
    registry(&mut h).set("name", "Ada").expect("same");
    h.update();
    assert_eq!(h.payloads("by_name").len(), 1);
}

#[test]
fn cvar_changed_messages_reach_rust() {
    let mut h = harness("events.emit('ready')");
    h.run_until_event("ready");
    let mut reader = bevy_ecs::message::MessageCursor::<CVarChanged>::default();
    registry(&mut h).set("r_fov", 60).expect("in range");
    h.update();
    let messages = h
        .app
        .world()
        .resource::<bevy_ecs::message::Messages<CVarChanged>>();
    let changes: Vec<_> = reader.read(messages).cloned().collect();
    assert_eq!(
        changes,
        vec![CVarChanged {
            name: "r_fov".into(),
            old: CVarValue::Float(75.0),
            new: CVarValue::Float(60.0)
        }]
    );
}

#[test]
fn a_hot_reloaded_script_replaces_its_handlers() {
    let script = |tag: &str| {
        format!(
            "cvar.on_change('r_fov', function() events.emit('heard', '{tag}') end) events.emit('loaded', '{tag}')"
        )
    };
    let mut h = harness(&script("v1"));
    h.run_until_event("loaded");
    h.write("scripts/t.luau", &script("v2"));
    h.run_until("v2", |seen| {
        seen.events
            .iter()
            .any(|e| e.payload == ScriptValue::from("v2"))
    });
    registry(&mut h).set("r_fov", 80.0).expect("in range");
    h.update();
    assert_eq!(h.payloads("heard"), vec![ScriptValue::from("v2")]);
}

#[test]
fn archive_cvars_round_trip_through_a_real_file() {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("config/cvars.toml");
    let mut h = harness("events.emit('ready')");
    registry(&mut h)
        .load(&file)
        .expect("a missing file is fine");
    h.run_until_event("ready");
    registry(&mut h).set("r_fov", 95.0).expect("in range");
    registry(&mut h).set("name", "Grace").expect("a string");
    registry(&mut h).set(SV_CHEATS, true).expect("a bool");
    h.update();
    h.assert_no_errors();
    let text = std::fs::read_to_string(&file).expect("saved");
    assert!(
        text.contains("r_fov = 95.0") && text.contains("name = \"Grace\""),
        "{text}"
    );
    assert!(
        !text.contains("sv_cheats"),
        "only ARCHIVE CVars are saved: {text}"
    );
    assert!(
        !file.with_extension("toml.tmp").exists(),
        "the temporary file was renamed"
    );

    let mut fresh = CVarRegistry::new(None);
    fresh
        .register("name", CVar::new("player", "", CVarFlags::ARCHIVE))
        .expect("registers");
    fresh.load(&file).expect("loads");
    assert_eq!(fresh.get("name"), Some(&CVarValue::String("Grace".into())));
    // A value for a CVar registered later waits for it.
    fresh
        .register("r_fov", CVar::new(75.0, "", CVarFlags::ARCHIVE))
        .expect("registers");
    assert_eq!(fresh.get("r_fov"), Some(&CVarValue::Float(95.0)));
}

#[test]
fn a_malformed_file_keeps_the_defaults_and_is_never_overwritten() {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("cvars.toml");
    let broken = "r_fov = 90\nname = \"unclosed\n";
    std::fs::write(&file, broken).expect("write");
    let mut h = harness("events.emit('ready')");
    let error = registry(&mut h).load(&file).expect_err("malformed");
    assert_eq!(error.kind, ScriptErrorKind::Config);
    assert!(
        error.message.contains("cvars.toml:2:"),
        "line and column: {}",
        error.message
    );
    assert_eq!(
        registry(&mut h).get("r_fov"),
        Some(&CVarValue::Float(75.0)),
        "defaults stay"
    );
    h.run_until_event("ready");
    registry(&mut h).set("r_fov", 80.0).expect("in range");
    h.update();
    let errors = h.take_errors();
    assert_eq!(errors.len(), 1, "{errors:#?}");
    assert!(
        errors[0].message.contains("not saving"),
        "{}",
        errors[0].message
    );
    assert_eq!(std::fs::read_to_string(&file).expect("still there"), broken);
}

#[test]
fn workers_read_a_cvar_snapshot() {
    let plugin = LuauScriptingPlugin {
        workers: Some(1),
        ..Default::default()
    };
    let mut h = Harness::with_plugin(
        plugin,
        &[(
            "scripts/workers/w.luau",
            "jobs.define('fov', function() return cvar.get('r_fov') end)",
        )],
    );
    h.app
        .register_cvar("r_fov", 75.0, "field of view", CVarFlags::empty())
        .add_worker_script("scripts/workers/w.luau");
    registry(&mut h).set("r_fov", 110.0).expect("in range");
    let runner = h.app.world().resource::<ScriptRunner>().clone();
    let deadline = common::Deadline::new();
    loop {
        deadline.check("the worker script");
        let id = runner.call("fov", ScriptValue::Nil);
        h.run_until("the job", |seen| seen.completed.iter().any(|c| c.id == id));
        let result = h
            .seen()
            .completed
            .iter()
            .find(|c| c.id == id)
            .map(|c| c.result.clone());
        if let Some(Ok(value)) = result {
            assert_eq!(value, ScriptValue::Number(110.0));
            break;
        }
        h.take_errors();
    }
}

#[test]
fn bad_on_change_handlers_are_clear_errors() {
    let mut h = harness(
        r#"
        local ok, err = pcall(cvar.on_change, "r_fov", 42)
        assert(not ok and string.find(tostring(err), "cvar.on_change", 1, true), tostring(err))
        NotAFunction = 3
        cvar.on_change("r_fov", "NotAFunction")
        events.emit("ready")
        "#,
    );
    h.run_until_event("ready");
    h.assert_no_errors();
    registry(&mut h).set("r_fov", 70.0).expect("in range");
    h.update();
    let errors = h.take_errors();
    assert_eq!(errors.len(), 1, "{errors:#?}");
    assert!(
        errors[0]
            .message
            .contains("`NotAFunction` is not a function"),
        "{}",
        errors[0].message
    );
    assert_eq!(errors[0].script, "scripts/t.luau");
}
