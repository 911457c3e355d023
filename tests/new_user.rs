//! A newcomer's first hour, as a test: a small headless game built from the README's snippets
//! alone, with no call the README does not show. Enemies chase the player through entity
//! scripts, a CVar sets their speed, a worker job adds numbers up, an actor script watches its
//! health, and a reflected component and Bevy's `Transform` reach Lua with no `register_type`.

#![cfg(feature = "transform")]

mod common;

use bevy_app::{App, TaskPoolPlugin};
use bevy_asset::{AssetPlugin, AssetServer};
use bevy_ecs::message::MessageReader;
use bevy_ecs::prelude::*;
use bevy_luau::prelude::*;
use bevy_luau::typedefs::{write_actor_typedefs, write_typedefs, write_worker_typedefs};
use bevy_reflect::Reflect;
use bevy_time::{TimePlugin, TimeUpdateStrategy};
use bevy_transform::components::Transform;
use std::path::Path;
use std::time::{Duration, Instant};

/// The README's reflected component: never passed to `register_type`.
#[derive(Component, Reflect, Default)]
#[reflect(Component)]
struct Health {
    current: f32,
    max: f32,
}

/// A reflected resource the scripts write their findings to, so the test reads the world.
#[derive(Resource, Reflect, Default)]
#[reflect(Resource)]
struct Report {
    chased: u32,
    sum: f64,
    speed: f64,
}

/// Every `ScriptError` the app reported.
#[derive(Resource, Default)]
struct Errors(Vec<ScriptError>);

fn collect_errors(mut reader: MessageReader<ScriptError>, mut errors: ResMut<Errors>) {
    errors.0.extend(reader.read().cloned());
}

const GAME: &str = r#"
cvar.register("chase_speed", 2, { description = "how fast enemies chase", min = 0, max = 10 })

task.spawn(function()
    local sum = jobs.run("sum_squares", { 1, 2, 3 }):await()
    local report = ecs.resource("Report")
    if report then
        report.sum = sum
        ecs.set_resource("Report", report)
    end
end)
"#;

const ENEMY: &str = r#"
local Enemy = {}

function Enemy:on_update(dt: number)
    local player = ecs.find("player")
    local t = ecs.ref(self.entity, "Transform")
    local hp = ecs.ref(self.entity, "Health")
    if player == nil or t == nil or hp == nil then return end
    local speed = cvar.get("chase_speed") :: number
    local to_player = transform.position(player) - ecs.value(t.translation)
    if vector.magnitude(to_player) > 0.01 then
        t.translation += vector.normalize(to_player) * speed * dt
    end
    hp.current = math.max(hp.current - 1, 0)
    local report = ecs.resource("Report")
    if report then
        report.chased += 1
        report.speed = cvar.get("chase_speed") :: number
        ecs.set_resource("Report", report)
    end
end

return Enemy
"#;

const WORKER: &str = r#"
jobs.define("sum_squares", function(args)
    local sum = 0
    for _, n in args do
        sum += n * n
    end
    return sum
end)
"#;

const ACTOR: &str = r#"
type Self = { entity: Entity }
local Watcher = {}

function Watcher.on_update(self: Self, dt: number)
    local health = ecs.get(self.entity, "Health")
    if health and health.current <= 0 then
        task.synchronize()
        ecs.despawn(self.entity)
    end
end

return Watcher
"#;

fn write(root: &Path, path: &str, contents: &str) {
    let path = root.join(path);
    std::fs::create_dir_all(path.parent().expect("a parent")).expect("create the folder");
    std::fs::write(path, contents).expect("write the script");
}

fn spawn_enemies(mut commands: Commands, server: Res<AssetServer>) {
    commands.spawn((Name::new("player"), Transform::from_xyz(10.0, 0.0, 0.0)));
    for x in [-5.0, 0.0, 5.0] {
        commands.spawn((
            Script::new(server.load("scripts/enemy.luau")),
            Transform::from_xyz(x, 0.0, 5.0),
            Health {
                current: 100.0,
                max: 100.0,
            },
        ));
    }
    commands.spawn((
        Script::new(server.load("scripts/actors/watcher.luau")),
        ScriptActor,
        Health {
            current: 100.0,
            max: 100.0,
        },
    ));
}

/// Runs `app` until the scripts' `Report` says so, failing on any script error.
fn run_until(app: &mut App, what: &str, done: impl Fn(&Report) -> bool) {
    let start = Instant::now();
    loop {
        app.update();
        if done(app.world().resource::<Report>()) {
            return;
        }
        let errors = &app.world().resource::<Errors>().0;
        assert!(errors.is_empty(), "{errors:#?}");
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "timed out waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// An app as the README's quick start builds it, over an asset folder holding `files`, with
/// the scaffolding of these tests (a fixed frame time, the `Report`, the errors kept).
fn app(dir: &Path, files: &[(&str, &str)]) -> App {
    for (path, source) in files {
        write(dir, path, source);
    }
    let mut app = App::new();
    app.add_plugins((
        TaskPoolPlugin::default(),
        TimePlugin,
        AssetPlugin {
            file_path: dir.to_string_lossy().into_owned(),
            ..Default::default()
        },
    ))
    .add_plugins(LuauScriptingPlugin)
    .insert_resource(TimeUpdateStrategy::ManualDuration(Duration::from_millis(
        50,
    )))
    .init_resource::<Report>()
    .init_resource::<Errors>()
    .add_systems(bevy_app::Update, collect_errors.after(ScriptingSystem));
    app
}

#[test]
fn reflected_components_and_transform_reach_lua_with_no_register_type() {
    let script = r#"
        local e = ecs.spawn({ Health = { current = 7, max = 10 } })
        local health = ecs.get(e, "Health")
        assert(health and health.current == 7 and health.max == 10)
        local live = ecs.ref(e, "Health")
        assert(live ~= nil)
        live.current -= 2
        assert((ecs.get(e, "Health") :: Health).current == 5)

        local mover = ecs.find("player")
        assert(mover ~= nil)
        local t = ecs.get(mover, "Transform")
        assert(t and t.translation == vector.create(10, 0, 0))
        local r = ecs.ref(mover, "Transform")
        assert(r ~= nil)
        r.translation += vector.create(0, 1, 0)

        local report = ecs.resource("Report")
        assert(report ~= nil)
        report.chased = 1
        ecs.set_resource("Report", report)
    "#;
    let dir = tempfile::tempdir().expect("a temporary folder");
    let mut app = app(dir.path(), &[("scripts/reach.luau", script)]);
    app.world_mut()
        .spawn((Name::new("player"), Transform::from_xyz(10.0, 0.0, 0.0)));
    app.add_script("scripts/reach.luau");
    run_until(&mut app, "the script", |report| report.chased == 1);
    let mut query = app.world_mut().query::<(&Name, &Transform)>();
    let (_, transform) = query.single(app.world()).expect("the player");
    assert_eq!(
        transform.translation.y, 1.0,
        "written through the reference"
    );
}

#[test]
fn a_game_built_from_the_readme_runs_and_its_scripts_pass_strict_luau_lsp() {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let assets = common::readme::project(dir.path());
    let files = [
        ("scripts/game.luau", GAME),
        ("scripts/enemy.luau", ENEMY),
        ("scripts/workers/sum.luau", WORKER),
        ("scripts/actors/watcher.luau", ACTOR),
    ];
    let mut app = app(&assets, &files);
    app.add_script("scripts/game.luau")
        .add_worker_script("scripts/workers/sum.luau")
        .add_systems(
            bevy_app::Startup,
            (
                spawn_enemies,
                write_typedefs(assets.join("bevy_luau.d.luau")),
                write_worker_typedefs(assets.join("workers.d.luau")),
                write_actor_typedefs(assets.join("actors.d.luau")),
            ),
        );
    run_until(&mut app, "the game to get going", |report| {
        report.sum > 0.0 && report.chased >= 30
    });
    let report = app.world().resource::<Report>();
    assert_eq!(report.sum, 14.0, "the worker job's result");
    assert_eq!(report.speed, 2.0, "the CVar's default");
    let mut enemies = app.world_mut().query::<(&Transform, &Health)>();
    for (transform, health) in enemies.iter(app.world()) {
        assert!(health.current < 100.0, "every enemy script ran");
        assert!(
            transform.translation.z < 5.0,
            "enemies moved towards the player: {:?}",
            transform.translation
        );
    }

    // The README's editor setup: the definitions the game wrote, its three luau-lsp commands.
    let Some(lsp) = common::luau_lsp() else {
        println!("skipped the type check: luau-lsp was not found (set LUAU_LSP to its path)");
        return;
    };
    let markdown = common::readme::readme();
    let reports = common::readme::run_commands(&lsp, &markdown, dir.path());
    assert!(reports.is_empty(), "{}", reports.join("\n\n"));
}
