//! The game's own Lua functions: systems and closures registered with `add_script_function`
//! and `add_worker_script_function`, called from every kind of script, with bad input.

mod common;

use bevy_app::App;
use bevy_ecs::prelude::*;
use bevy_luau::prelude::*;
use bevy_math::{Quat, Vec3};
use common::{Harness, LUA_PRELUDE};
use std::collections::HashMap;

#[derive(Component, Debug, Clone, Copy, PartialEq)]
struct Position(Vec3);

#[derive(Component, serde::Serialize, serde::Deserialize)]
struct Monster;

#[derive(Resource, Default)]
struct Spawned(u32);

#[derive(Message, Debug)]
struct Shout(String);

/// The nearest monster to `at`, and its distance.
fn nearest(
    In(at): In<Vec3>,
    monsters: Query<(Entity, &Position), With<Monster>>,
) -> Option<(Entity, f32)> {
    monsters
        .iter()
        .map(|(entity, position)| (entity, position.0.distance(at)))
        .min_by(|a, b| a.1.total_cmp(&b.1))
}

/// Spawns a monster at `at` and counts it.
fn spawn_monster(In(at): In<Vec3>, mut commands: Commands, mut spawned: ResMut<Spawned>) -> Entity {
    spawned.0 += 1;
    commands.spawn((Monster, Position(at))).id()
}

/// Counts its own calls.
fn counter(_: In<()>, mut calls: Local<u32>) -> u32 {
    *calls += 1;
    *calls
}

fn position(In(entity): In<Entity>, positions: Query<&Position>) -> Result<Vec3, String> {
    positions
        .get(entity)
        .map(|p| p.0)
        .map_err(|error| error.to_string())
}

fn shout(In(text): In<String>, mut shouts: MessageWriter<Shout>) {
    shouts.write(Shout(text));
}

/// One argument of every kind the crate converts.
type Everything = (
    u8,
    i64,
    bool,
    String,
    Option<Entity>,
    Vec<f32>,
    HashMap<String, u16>,
    Quat,
);

/// Every argument type the crate converts, echoed back.
fn echo(In(args): In<Everything>) -> Everything {
    args
}

fn app_functions(app: &mut App) {
    app.init_resource::<Spawned>()
        .add_message::<Shout>()
        .add_script_function("game.add_one", |In(x): In<f64>| x + 1.0)
        .add_script_function(
            "game.nearest",
            nearest.doc("The nearest monster and its distance."),
        )
        .add_script_function("game.spawn_monster", spawn_monster)
        .add_script_function("game.counter", counter)
        .add_script_function("game.position", position)
        .add_script_function("game.shout", shout)
        .add_script_function("game.echo", echo)
        .add_script_function("game.no_input", |spawned: Res<Spawned>| spawned.0)
        .add_script_function("game.panics", |In(x): In<f64>| -> f64 {
            assert!(x < 0.0, "x must be negative");
            x
        })
        .add_worker_script_function("util.hypot", |(a, b): (f64, f64)| a.hypot(b))
        .add_worker_script_function("util.answer", || 42);
}

fn harness(files: &[(&str, &str)]) -> Harness {
    let mut h = Harness::set_up_before_plugin(LuauScriptingPlugin::default(), files, app_functions);
    h.app
        .world_mut()
        .spawn((Monster, Position(Vec3::new(10.0, 0.0, 0.0))));
    h
}

/// Runs `body` in a global script after the test prelude, until it emits `done`.
fn run(body: &str) -> Harness {
    let source = format!("{LUA_PRELUDE}\n{body}\nevents.emit('done')\n");
    let mut h = harness(&[("scripts/t.luau", &source)]).scripts(&["scripts/t.luau"]);
    h.run_until_done();
    h
}

#[test]
fn closures_and_systems_answer_inside_the_calling_script() {
    let h = run(r#"
        assert(game.add_one(41) == 42)
        local monster, distance = game.nearest(vector.create(7, 0, 0))
        assert(distance == 3, distance)
        assert(game.position(monster) == vector.create(10, 0, 0))
        -- The script sees the entity the system just spawned, with its components.
        local spawned = game.spawn_monster(vector.create(1, 0, 0))
        assert(ecs.exists(spawned))
        local near, d = game.nearest(vector.create(0, 0, 0))
        assert(near == spawned and d == 1)
        -- Local keeps its value between calls.
        assert(game.counter() == 1 and game.counter() == 2)
        assert(game.no_input() == 1)
        game.shout("hello")
        assert(util.answer() == 42 and util.hypot(3, 4) == 5)
    "#);
    h.assert_no_errors();
    let world = h.app.world();
    assert_eq!(world.resource::<Spawned>().0, 1);
    let shouts: Vec<_> = world
        .resource::<Messages<Shout>>()
        .iter_current_update_messages()
        .map(|s| s.0.clone())
        .collect();
    assert_eq!(shouts, ["hello"]);
}

#[test]
fn every_argument_type_round_trips() {
    let h = run(r#"
        local e = ecs.spawn()
        local a, b, c, d, f, list, map, q = game.echo(255, -2^53, true, "text", e, {1.5, 2}, {hp = 7}, {x = 0, y = 0, z = 0, w = 1})
        assert(a == 255 and b == -2^53 and c == true and d == "text" and f == e)
        assert(#list == 2 and list[1] == 1.5 and list[2] == 2 and map.hp == 7)
        assert(q.w == 1 and q.x == 0)
        -- nil for an Option, and entity bits as a number, are accepted too.
        local _, _, _, _, none = game.echo(0, 0, false, "", nil, {}, {}, q)
        assert(none == nil)
        -- Extra arguments are ignored.
        assert(game.add_one(1, "extra", {}) == 2)
    "#);
    h.assert_no_errors();
}

#[test]
fn local_state_lives_across_frames_and_change_detection_sees_writes() {
    #[derive(Resource, Default)]
    struct ChangedPositions(usize);
    fn move_it(In((e, x)): In<(Entity, f32)>, mut positions: Query<&mut Position>) {
        if let Ok(mut p) = positions.get_mut(e) {
            p.0.x = x;
        }
    }
    fn count_changed(q: Query<(), Changed<Position>>, mut seen: ResMut<ChangedPositions>) {
        seen.0 += q.iter().count();
    }
    let script = r#"
        local e = ecs.spawn()
        hooks.on_update(function()
            events.emit("count", game.counter())
        end)
        events.on("move", function(p) game.move_it(p, 5) end)
    "#;
    let mut h = Harness::set_up_before_plugin(
        LuauScriptingPlugin::default(),
        &[("scripts/t.luau", script)],
        |app| {
            app.add_script_function("game.counter", counter)
                .add_script_function("game.move_it", move_it)
                .init_resource::<ChangedPositions>()
                .add_systems(bevy_app::Update, count_changed.after(ScriptingSystem));
        },
    )
    .scripts(&["scripts/t.luau"]);
    h.run_until("three frames", |seen| {
        seen.events.iter().filter(|e| e.name == "count").count() >= 3
    });
    let counts: Vec<f64> = h
        .payloads("count")
        .iter()
        .filter_map(|v| v.as_number())
        .collect();
    assert_eq!(counts[..3], [1.0, 2.0, 3.0]);
    // Settle the spawns, then move one entity from Lua and check Changed<Position> saw it.
    let target = h.app.world_mut().spawn(Position(Vec3::ZERO)).id();
    h.update();
    h.update();
    h.app.world_mut().resource_mut::<ChangedPositions>().0 = 0;
    h.app.world_mut().write_message(ScriptEvent {
        name: "move".into(),
        payload: ScriptValue::Entity(target),
    });
    h.update();
    assert_eq!(h.app.world().get::<Position>(target).unwrap().0.x, 5.0);
    assert_eq!(h.app.world().resource::<ChangedPositions>().0, 1);
    h.assert_no_errors();
}

#[test]
fn entity_scripts_tasks_and_console_lines_call_them() {
    let enemy = r#"
        local Enemy = {}
        function Enemy:on_spawn()
            self.next = game.add_one(1)
            task.spawn(function()
                task.wait(0.1)
                events.emit("from_task", game.add_one(self.next))
            end)
        end
        return Enemy
    "#;
    let mut h = harness(&[("scripts/enemy.luau", enemy)]);
    let handle = h
        .app
        .world()
        .resource::<bevy_asset::AssetServer>()
        .load("scripts/enemy.luau");
    h.app.world_mut().spawn(Script::new(handle));
    h.run_until_event("from_task");
    assert_eq!(h.payloads("from_task"), [ScriptValue::Number(3.0)]);
    h.assert_no_errors();
    let out = Console::execute(h.app.world_mut(), "lua game.add_one(1), util.hypot(6, 8)");
    assert_eq!(out, Ok("2\t10".into()));
}

#[test]
fn worker_jobs_call_worker_functions_and_are_told_where_systems_run() {
    let worker = r#"
        jobs.define("hyp", function(args) return util.hypot(args[1], args[2]) end)
        jobs.define("main_only", function() return game.add_one(1) end)
    "#;
    let main = r#"
        task.spawn(function()
            events.emit("hyp", jobs.run("hyp", {5, 12}):await())
            local job = jobs.run("main_only")
            local ok, err = pcall(function() return job:await() end)
            events.emit("main_only", tostring(err))
        end)
    "#;
    let mut h = harness(&[("scripts/workers/w.luau", worker), ("scripts/t.luau", main)])
        .scripts(&["scripts/t.luau"]);
    h.app.add_worker_script("scripts/workers/w.luau");
    h.run_until_event("main_only");
    assert_eq!(h.payloads("hyp"), [ScriptValue::Number(13.0)]);
    let message = h.payloads("main_only")[0].to_string();
    assert!(
        message.contains(
            "`game.add_one` is a function of the main VM's scripts (add_script_function)"
        ),
        "{message}"
    );
}

#[test]
fn bad_arguments_are_type_mismatches_that_name_the_function_and_position() {
    let h = run(r#"
        fails("bad argument #1 to `game.add_one`: expected a number, got boolean true", game.add_one, true)
        fails("bad argument #1 to `game.add_one`: expected a number, got nil", game.add_one)
        fails("bad argument #1 to `game.nearest`: expected a vector, got number 3", game.nearest, 3)
        fails("bad argument #1 to `game.position`: expected an Entity, got string \"orc\"", game.position, "orc")
        local q = {x = 0, y = 0, z = 0, w = 1}
        fails("bad argument #1 to `game.echo`: 256 is out of range for u8", game.echo, 256, 0, true, "", nil, {}, {}, q)
        fails("bad argument #1 to `game.echo`: NaN is not a whole number", game.echo, 0/0, 0, true, "", nil, {}, {}, q)
        fails("bad argument #2 to `game.echo`: 0.5 is not a whole number", game.echo, 1, 0.5, true, "", nil, {}, {}, q)
        fails("bad argument #2 to `game.echo`: 1e20 is out of range for i64", game.echo, 1, 1e20, true, "", nil, {}, {}, q)
        fails("bad argument #3 to `game.echo`: expected a boolean, got number 1", game.echo, 1, 1, 1, "", nil, {}, {}, q)
        fails("bad argument #4 to `game.echo`: expected a string, got nil", game.echo, 1, 1, true, nil, nil, {}, {}, q)
        fails("bad argument #5 to `game.echo`: expected an Entity, got boolean false", game.echo, 1, 1, true, "", false, {}, {}, q)
        fails("bad argument #6 to `game.echo`: [2]: expected a number, got string \"x\"", game.echo, 1, 1, true, "", nil, {1, "x"}, {}, q)
        fails("bad argument #7 to `game.echo`: hp: expected a number, got boolean true", game.echo, 1, 1, true, "", nil, {}, {hp = true}, q)
        fails("bad argument #7 to `game.echo`: expected string keys, got number 1", game.echo, 1, 1, true, "", nil, {}, {5}, q)
        fails("bad argument #8 to `game.echo`: w: expected a number, got nil", game.echo, 1, 1, true, "", nil, {}, {}, {x = 0, y = 0, z = 0})
        -- The error is a TypeMismatch that pcall catches; the next call works.
        assert(game.add_one(0) == 1)
    "#);
    h.assert_no_errors();
}

#[test]
fn errors_panics_and_unrunnable_systems_are_lua_errors_naming_the_function() {
    #[derive(Resource)]
    struct Missing;
    let script = format!(
        "{LUA_PRELUDE}\n{}",
        r#"
        -- A despawned entity: the system's own Err, raised in the script.
        local gone = ecs.spawn()
        ecs.despawn(gone)
        fails("game.position: ", game.position, gone)
        fails("`game.panics` panicked: x must be negative", game.panics, 1)
        assert(game.panics(-1) == -1, "a function that panicked still works")
        fails("`game.needs_missing` could not run", game.needs_missing)
        events.emit("done")
        game.panics(2)
        "#
    );
    let mut h = Harness::set_up_before_plugin(
        LuauScriptingPlugin::default(),
        &[("scripts/t.luau", &script)],
        |app| {
            app_functions(app);
            app.add_script_function("game.needs_missing", |_: Res<Missing>| ());
        },
    )
    .scripts(&["scripts/t.luau"]);
    h.run_until("the uncaught panic's error", |seen| !seen.errors.is_empty());
    let errors = h.take_errors();
    assert_eq!(errors.len(), 1, "{errors:#?}");
    assert_eq!(errors[0].kind, ScriptErrorKind::Runtime);
    assert!(
        errors[0]
            .message
            .contains("`game.panics` panicked: x must be negative"),
        "{}",
        errors[0].message
    );
    assert_eq!(h.payloads("done").len(), 1);
    // The frame goes on, and later calls work.
    h.update();
    assert_eq!(
        Console::execute(h.app.world_mut(), "lua game.add_one(2)"),
        Ok("3".into())
    );
}

#[test]
fn reentering_lua_from_a_system_function_is_a_clear_error() {
    fn emits(In(()): In<()>, world: &mut World) -> Result<(), String> {
        ScriptEngine::emit(world, "ping", ScriptValue::Nil)
            .map(|_| ())
            .map_err(|e| e.message)
    }
    fn runs_console(In(()): In<()>, world: &mut World) -> Result<String, String> {
        Console::execute(world, "lua 1 + 1").map_err(|e| e.to_string())
    }
    let script = format!(
        "{LUA_PRELUDE}\n{}",
        r#"
        fails("ScriptEngine::emit was called inside the script function `game.emits`", game.emits)
        fails("Console::execute was called inside the script function `game.runs_console`", game.runs_console)
        -- A game function inside an ecs.each loop.
        local n = 0
        for e in ecs.each("Monster") do
            n += 1
            game.spawn_monster(vector.create(n, 0, 0))
        end
        assert(n >= 1)
        events.emit("done")
        "#
    );
    let mut h = Harness::set_up_before_plugin(
        LuauScriptingPlugin::default(),
        &[("scripts/t.luau", &script)],
        |app| {
            app_functions(app);
            app.add_script_function("game.emits", emits)
                .add_script_function("game.runs_console", runs_console)
                .register_script_component::<Monster>();
        },
    );
    h.app.world_mut().spawn((Monster, Position(Vec3::ZERO)));
    let mut h = h.scripts(&["scripts/t.luau"]);
    h.run_until_done();
    h.assert_no_errors();
}

#[test]
fn game_libraries_are_read_only_and_one_script_cannot_replace_them_for_another() {
    let first = format!(
        "{LUA_PRELUDE}\n{}",
        r#"
        fails("readonly", function() game.add_one = function() return 0 end end)
        fails("readonly", function() game.extra = 1 end)
        game = { add_one = function() return 0 end }   -- this script's own global only
        assert(game.add_one(1) == 0)
        events.emit("first")
        "#
    );
    let second = "assert(game.add_one(1) == 2) events.emit('done')";
    let mut h = harness(&[("scripts/a.luau", &first), ("scripts/b.luau", second)])
        .scripts(&["scripts/a.luau", "scripts/b.luau"]);
    h.run_until_done();
    h.assert_no_errors();
    assert_eq!(h.payloads("first").len(), 1);
}

#[test]
fn a_system_function_outside_the_step_says_it_needs_the_world_and_a_plain_one_runs() {
    let h = harness(&[]);
    let lua = h.app.world().resource::<ScriptEngine>().lua().clone();
    let error = lua
        .load("return game.counter()")
        .exec()
        .unwrap_err()
        .to_string();
    assert!(
        error.contains(
            "`game.counter` needs the world, which scripts reach only while the scripting step runs"
        ),
        "{error}"
    );
    // A function of its arguments alone needs no world, nor does a worker function.
    assert_eq!(
        lua.load("return game.add_one(1)").eval::<f64>().unwrap(),
        2.0
    );
    assert_eq!(
        lua.load("return util.hypot(3, 4)").eval::<f64>().unwrap(),
        5.0
    );
}

#[test]
#[should_panic(
    expected = "add_script_function(\"game.add_one\"): `game.add_one` is registered already, by add_script_function"
)]
fn a_name_registered_twice_is_refused() {
    let mut app = App::new();
    app.add_script_function("game.add_one", |In(x): In<f64>| x)
        .add_worker_script_function("game.add_one", |x: f64| x);
}

#[test]
#[should_panic(expected = "`ecs` is one of the libraries scripts have already")]
fn a_crate_library_is_refused() {
    App::new().add_script_function("ecs.get2", |In(x): In<f64>| x);
}

#[test]
#[should_panic(expected = "`math` is one of the libraries scripts have already")]
fn a_luau_library_is_refused() {
    App::new().add_worker_script_function("math.tau", || std::f64::consts::TAU);
}

#[test]
#[should_panic(expected = "a game function's name is `library.function`")]
fn a_name_without_a_library_is_refused() {
    App::new().add_worker_script_function("tau", || std::f64::consts::TAU);
}

#[test]
#[should_panic(expected = "`end` is not a Lua name")]
fn a_keyword_is_refused() {
    App::new().add_worker_script_function("game.end", || 1);
}

#[test]
#[should_panic(expected = "the script VMs are made already")]
fn registration_after_the_vms_are_made_is_refused() {
    let mut h = harness(&[]);
    h.app.add_script_function("late.one", |In(x): In<f64>| x);
}

#[test]
fn definitions_and_help_show_the_game_functions() {
    let mut h = harness(&[]);
    let main = bevy_luau::typedefs::generate(h.app.world());
    let game = &main[main.find("declare game: {").expect("the game library")..];
    let game = &game[..game.find("}\n").expect("its end")];
    assert!(
        game.contains("    -- The nearest monster and its distance.\n    nearest: (vector) -> (Entity?, number?),"),
        "{game}"
    );
    assert!(game.contains("    add_one: (number) -> number,"), "{game}");
    assert!(game.contains("    position: (Entity) -> vector,"), "{game}");
    assert!(game.contains("    shout: (string) -> (),"), "{game}");
    assert!(main.contains("declare util: {"), "{main}");
    let workers = bevy_luau::typedefs::generate_workers(h.app.world());
    assert!(
        workers.contains("    hypot: (number, number) -> number,"),
        "{workers}"
    );
    assert!(workers.contains("    answer: () -> number,"), "{workers}");
    assert!(!workers.contains("declare game"), "{workers}");

    let help = Console::execute(h.app.world_mut(), "help").unwrap();
    assert!(
        help.contains("script functions: game.add_one, game.nearest"),
        "{help}"
    );
    let help = Console::execute(h.app.world_mut(), "help game.nearest").unwrap();
    assert_eq!(
        help,
        "game.nearest (vector) -> (Entity?, number?): The nearest monster and its distance."
    );
}

/// `ScriptEngine::lua()` hands out the VM, which another thread can run. While a step lends the
/// world to Lua, that thread waits for the VM, and when it gets it the world is no longer lent:
/// it never reaches the world the step holds.
#[test]
fn another_thread_never_reaches_the_world_lent_to_scripts() {
    use std::sync::Mutex;
    use std::thread::JoinHandle;
    #[derive(Resource)]
    struct Vm(mlua::Lua);
    #[derive(Resource, Default)]
    struct Other(Mutex<Option<JoinHandle<Result<bool, String>>>>);
    fn start_other(In(()): In<()>, vm: Res<Vm>, other: Res<Other>) {
        let lua = vm.0.clone();
        let thread = std::thread::spawn(move || {
            lua.load("return ecs.exists(ecs.spawn())")
                .eval::<bool>()
                .map_err(|e| e.to_string())
        });
        if let Ok(mut slot) = other.0.lock() {
            *slot = Some(thread);
        }
    }
    let script = "game.start_other() events.emit('done')";
    let mut h = Harness::set_up_before_plugin(
        LuauScriptingPlugin::default(),
        &[("scripts/t.luau", script)],
        |app| {
            app.init_resource::<Other>()
                .add_script_function("game.start_other", start_other);
        },
    );
    let lua = h.app.world().resource::<ScriptEngine>().lua().clone();
    h.app.insert_resource(Vm(lua));
    let mut h = h.scripts(&["scripts/t.luau"]);
    h.run_until_done();
    let thread = h
        .app
        .world()
        .resource::<Other>()
        .0
        .lock()
        .unwrap()
        .take()
        .expect("the thread started");
    let outcome = thread.join().expect("the thread ran");
    let error = outcome.expect_err("the other thread found no world");
    assert!(
        error.contains("the world can only be reached while the scripting step runs"),
        "{error}"
    );
}
