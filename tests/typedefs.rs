//! Luau type definitions (`bevy_luau::typedefs`): the generated files against checked-in
//! golden files, the environment scripts really get against what the files declare, luau-lsp
//! against the actor file, and writing the files, also where they cannot be written.
//!
//! The golden files are `tests/golden/typedefs.d.luau` (main) and `tests/golden/actors.d.luau`,
//! generated with every feature on. After an intended change to the Lua API or to the
//! generator, regenerate them and review the diff:
//!
//! ```sh
//! BLESS=1 cargo test --all-features --test typedefs
//! ```
//!
//! The luau-lsp tests use `$LUAU_LSP`, or `luau-lsp` on the `PATH`. Without luau-lsp they say
//! so and pass, unless `CI` is set.

mod common;

use bevy_app::{App, Startup};
use bevy_ecs::prelude::*;
use bevy_luau::prelude::*;
use bevy_luau::typedefs::{
    generate, generate_actors, generate_workers, write_actor_typedefs, write_typedefs,
    write_worker_typedefs,
};
use bevy_math::Vec3;
use bevy_reflect::Reflect;
use common::{Harness, luau_lsp};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeSet, HashMap};
use std::path::Path;

/// A serde component: declared as `any`, since reflection cannot see its fields.
#[derive(Component, Serialize, Deserialize)]
struct Health {
    current: f32,
    max: f32,
}

/// A serde component that is reflected too: described from its fields, as serde sends them.
#[derive(Component, Reflect, Serialize, Deserialize, Default)]
struct Inventory {
    items: Vec<String>,
    owner: Option<u64>,
}

/// A reflected component with most kinds of field.
#[derive(Component, Reflect, Default)]
#[reflect(Component)]
struct Velocity {
    value: Vec3,
    target: Option<Entity>,
    mode: Mode,
    tags: HashMap<String, i32>,
    path: Vec<Waypoint>,
}

#[derive(Reflect, Default)]
enum Mode {
    #[default]
    Walk,
    Run(f32),
    Jump {
        height: f32,
    },
}

#[derive(Reflect, Default)]
struct Waypoint {
    at: Vec3,
    wait: f64,
}

/// A reflected resource.
#[derive(Resource, Reflect, Default)]
#[reflect(Resource)]
struct Difficulty {
    level: u8,
}

/// A registered message.
#[derive(Message, Serialize, Deserialize)]
struct Damage {
    amount: f32,
}

fn register(h: &mut Harness) {
    h.app
        .register_script_component::<Health>()
        .register_script_component::<Inventory>()
        .register_type::<Inventory>()
        .register_type::<Velocity>()
        .register_type::<Difficulty>()
        .register_script_message::<Damage>()
        .register_cvar("r_fov", 75.0, "field of view", CVarFlags::ARCHIVE);
}

/// The game's own functions: a system, which only the main VM runs, and a plain function,
/// which every VM has. They are registered before the plugin makes its VMs.
fn register_functions(app: &mut App) {
    app.add_script_function(
        "game.spawn_wave",
        |In(size): In<u32>, mut commands: Commands| {
            for _ in 0..size {
                commands.spawn(Health {
                    current: 1.0,
                    max: 1.0,
                });
            }
        },
    )
    .add_worker_script_function("game.distance", |(a, b): (Vec3, Vec3)| a.distance(b));
}

/// A harness whose app has the game's functions of [`register_functions`].
fn harness_with_functions(plugin: LuauScriptingPlugin, files: &[(&str, &str)]) -> Harness {
    Harness::set_up_before_plugin(plugin, files, register_functions)
}

/// `generated` against the golden file `tests/golden/{name}`, or written there with `BLESS`.
fn check_golden(name: &str, generated: &str) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(name);
    if std::env::var_os("BLESS").is_some() {
        std::fs::write(&path, generated).expect("write the golden file");
        return;
    }
    let golden = std::fs::read_to_string(&path).unwrap_or_default();
    if let Some(difference) = common::first_difference(generated, &golden) {
        panic!(
            "the definitions differ from {} from {difference}\nIf the change is intended, \
             run `BLESS=1 cargo test --all-features --test typedefs`.",
            path.display()
        );
    }
}

#[cfg(all(feature = "transform", feature = "input"))]
#[test]
fn generated_definitions_match_the_golden_file() {
    let mut h = Harness::new(&[]);
    register(&mut h);
    check_golden("typedefs.d.luau", &generate(h.app.world()));
}

#[cfg(all(feature = "transform", feature = "input"))]
#[test]
fn generated_actor_definitions_match_the_golden_file() {
    let mut h = harness_with_functions(LuauScriptingPlugin::default(), &[]);
    register(&mut h);
    check_golden("actors.d.luau", &generate_actors(h.app.world()));
}

/// Lists a script environment's globals and the fields of its tables (`ecs.get`), its own
/// and those it reads through to (`_G` is those again).
const WALK: &str = r#"
local function walk(env)
    local names, seen = {}, {}
    local function add(name, value)
        if seen[name] then return end
        seen[name] = true
        table.insert(names, name)
        if type(value) == "table" and name ~= "_G" then
            for key in pairs(value) do
                if type(key) == "string" then table.insert(names, name .. "." .. key) end
            end
        end
    end
    for name, value in pairs(env) do add(name, value) end
    local meta = getmetatable(env)
    if meta and type(meta.__index) == "table" then
        for name, value in pairs(meta.__index) do add(name, value) end
    end
    return names
end
"#;

/// The globals of a plain sandboxed Luau VM and the fields of its tables: Luau's own library.
fn builtins() -> BTreeSet<String> {
    let lua = mlua::Lua::new();
    let mut names = BTreeSet::new();
    for pair in lua.globals().pairs::<String, mlua::Value>() {
        let (name, value) = pair.expect("a global");
        if let mlua::Value::Table(table) = &value {
            for key in table.pairs::<mlua::Value, mlua::Value>() {
                if let Ok((mlua::Value::String(key), _)) = key {
                    names.insert(format!("{name}.{}", key.to_string_lossy()));
                }
            }
        }
        names.insert(name);
    }
    names
}

/// What a definitions file declares: `name` for each global, `name.member` for each member.
fn declared(definitions: &str) -> BTreeSet<String> {
    let identifier = |s: &str| {
        !s.is_empty()
            && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
            && !s.starts_with(|c: char| c.is_ascii_digit())
    };
    let mut names = BTreeSet::new();
    let mut library: Option<String> = None;
    for line in definitions.lines() {
        if let Some(rest) = line.strip_prefix("declare ") {
            let name = rest.split(':').next().unwrap_or_default().to_owned();
            if identifier(&name) {
                if rest.ends_with('{') {
                    library = Some(name.clone());
                }
                names.insert(name);
            }
        } else if line == "}" {
            library = None;
        } else if let (Some(library), Some(member)) = (&library, line.strip_prefix("    "))
            && let Some((name, _)) = member.split_once(':')
            && identifier(name)
        {
            names.insert(format!("{library}.{name}"));
        }
    }
    names
}

#[test]
fn every_global_and_library_function_of_a_script_is_declared() {
    let worker = format!("{WALK}\njobs.define(\"walk\", function() return walk(getfenv(1)) end)\n");
    let main = format!(
        "{WALK}\nevents.emit(\"main_names\", walk(getfenv(1)))\n\
         jobs.run(\"walk\"):on_complete(function(ok, names)\n\
             assert(ok, names)\n\
             events.emit(\"worker_names\", names)\n\
         end)\n"
    );
    let mut h = Harness::new(&[
        ("scripts/worker.luau", worker.as_str()),
        ("scripts/main.luau", main.as_str()),
    ]);
    register(&mut h);
    h.app.add_worker_script("scripts/worker.luau");
    h.app.add_script("scripts/main.luau");
    h.run_until_event("worker_names");
    h.assert_no_errors();

    let builtins = builtins();
    let seen = |event: &str| -> BTreeSet<String> {
        let payloads = h.payloads(event);
        let names = payloads
            .first()
            .and_then(|p| p.as_list())
            .unwrap_or_else(|| panic!("{event}: {payloads:?}"));
        names
            .iter()
            .filter_map(|n| n.as_str())
            .filter(|n| !builtins.contains(*n))
            .map(str::to_owned)
            .collect()
    };
    let (main, worker) = (seen("main_names"), seen("worker_names"));
    for (names, expected) in [
        (
            &main,
            &["ecs.get", "task.wait", "jobs.run", "cvar.on_change"][..],
        ),
        (&worker, &["jobs.define", "cvar.get", "commands.set"][..]),
    ] {
        for expected in expected {
            assert!(
                names.contains(*expected),
                "the walk missed {expected}: {names:?}"
            );
        }
    }

    for (vm, seen, definitions) in [
        ("main", &main, generate(h.app.world())),
        ("worker", &worker, generate_workers(h.app.world())),
    ] {
        let declared = declared(&definitions);
        let undeclared: Vec<&String> = seen.difference(&declared).collect();
        assert!(
            undeclared.is_empty(),
            "{vm} scripts see these, but their definitions do not declare them: {undeclared:?}"
        );
        let stale: Vec<&String> = declared.difference(seen).collect();
        assert!(
            stale.is_empty(),
            "the {vm} definitions declare these, but no {vm} script sees them: {stale:?}"
        );
    }
}

/// What an actor VM has that the actor definitions leave out on purpose: the global callbacks,
/// which the engine dispatches from the main VM only, and the stand-in of the game's system
/// function. Sorted.
const REFUSED_IN_ACTORS: &[&str] = &[
    "console.register",
    "cvar.on_change",
    "events.on",
    "game.spawn_wave",
    "hooks",
    "hooks.on_update",
];

#[test]
fn every_global_of_an_actor_script_is_declared_unless_refused_there() {
    let walker = format!(
        "{WALK}\nlocal Walker = {{}}\n\
         function Walker:on_spawn()\n\
             events.emit(\"actor_names\", walk(getfenv(1)))\n\
         end\n\
         return Walker\n"
    );
    let plugin = LuauScriptingPlugin {
        actors: Some(1),
        ..Default::default()
    };
    let mut h = harness_with_functions(plugin, &[("scripts/walker.luau", walker.as_str())]);
    register(&mut h);
    let script = h
        .app
        .world()
        .resource::<bevy_asset::AssetServer>()
        .load("scripts/walker.luau");
    h.app.world_mut().spawn((Script::new(script), ScriptActor));
    h.run_until_event("actor_names");
    h.assert_no_errors();
    assert_eq!(
        h.app.world().resource::<ScriptEngine>().actor_instances(),
        vec![1],
        "the walk ran in an actor VM"
    );

    let builtins = builtins();
    let payloads = h.payloads("actor_names");
    let seen: BTreeSet<String> = payloads
        .first()
        .and_then(|p| p.as_list())
        .unwrap_or_else(|| panic!("actor_names: {payloads:?}"))
        .iter()
        .filter_map(|n| n.as_str())
        .filter(|n| !builtins.contains(*n))
        .map(str::to_owned)
        .collect();
    for expected in ["ecs.get", "task.wait", "jobs.run", "game.distance"] {
        assert!(
            seen.contains(expected),
            "the walk missed {expected}: {seen:?}"
        );
    }
    let declared = declared(&generate_actors(h.app.world()));
    let stale: Vec<&String> = declared.difference(&seen).collect();
    assert!(
        stale.is_empty(),
        "the actor definitions declare these, but no actor script sees them: {stale:?}"
    );
    let undeclared: Vec<&str> = seen.difference(&declared).map(String::as_str).collect();
    assert_eq!(
        undeclared, REFUSED_IN_ACTORS,
        "what actor scripts see but their definitions do not declare"
    );
}

/// Runs luau-lsp in strict mode over `scripts` (`(file, source)`) against `definitions`:
/// whether it passed with no diagnostic, and what it printed. `None`, after saying so, when
/// luau-lsp is not there.
fn analyze(definitions: &str, scripts: &[(&str, &str)]) -> Option<(bool, String)> {
    let Some(lsp) = luau_lsp() else {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI is set, but luau-lsp is not there: set LUAU_LSP to its path"
        );
        println!("skipped: luau-lsp was not found (set LUAU_LSP to its path)");
        return None;
    };
    let dir = tempfile::tempdir().expect("a temporary folder");
    let root = dir.path();
    std::fs::write(root.join("defs.d.luau"), definitions).expect("write the definitions");
    std::fs::create_dir(root.join("scripts")).expect("create the scripts folder");
    std::fs::write(
        root.join("scripts/.luaurc"),
        r#"{ "languageMode": "strict" }"#,
    )
    .expect("write .luaurc");
    for (file, source) in scripts {
        std::fs::write(root.join("scripts").join(file), source).expect("write a script");
    }
    let run = common::run_luau_lsp(
        &lsp,
        [
            "analyze",
            "--platform=standard",
            "--definitions=@bevy_luau=defs.d.luau",
            "scripts",
        ],
        root,
    );
    Some((run.clean(), run.diagnostics.join("\n")))
}

/// The definitions of an app with the test's types and game functions, by flavour.
fn flavours() -> [(&'static str, String); 3] {
    let mut h = harness_with_functions(LuauScriptingPlugin::default(), &[]);
    register(&mut h);
    let world = h.app.world();
    [
        ("main", generate(world)),
        ("actor", generate_actors(world)),
        ("worker", generate_workers(world)),
    ]
}

#[test]
fn every_definitions_file_loads_in_luau_lsp() {
    // A definitions file that luau-lsp cannot read is reported even when no script uses it.
    for (flavour, definitions) in flavours() {
        let Some((clean, output)) = analyze(&definitions, &[("a.luau", "log.info(\"hi\")\n")])
        else {
            return;
        };
        assert!(clean, "the {flavour} definitions:\n{output}");
    }
}

/// An actor script that uses what actor VMs have: the world, the phases of `task`, events,
/// CVars, jobs and the game's plain function.
const ACTOR: &str = r#"
local Mover = {}
type Self = { entity: Entity, steps: number }

function Mover.on_spawn(self: Self)
    self.steps = 0
end

function Mover.on_update(self: Self, dt: number)
    local velocity = ecs.get(self.entity, "Velocity")
    if velocity and velocity.target then
        local away = game.distance(velocity.value, vector.zero) * dt
        task.synchronize()
        -- The serial part: one actor at a time, with the world to itself.
        ecs.set_resource("Difficulty", { level = math.floor(away) })
        events.emit("Damage", { amount = away })
        task.desynchronize()
    end
    local fov: number = cvar.get("r_fov")
    self.steps += fov // fov
    jobs.run("plan", { steps = self.steps }):on_complete(function(ok: boolean, result: any)
        log.info(ok, result, time.frame())
    end)
end

return Mover
"#;

#[test]
fn a_strict_actor_script_type_checks_against_the_actor_definitions() {
    let [_, (_, actors), _] = flavours();
    let Some((clean, output)) = analyze(&actors, &[("mover.luau", ACTOR)]) else {
        return;
    };
    assert!(clean, "{output}");
}

#[test]
fn main_only_calls_are_reported_against_the_actor_definitions() {
    let calls: [(&str, &str); 5] = [
        (
            "hooks.luau",
            "hooks.on_update(function(dt: number) log.info(dt) end)\n",
        ),
        (
            "events_on.luau",
            "events.on(\"Damage\", function(payload) log.info(payload.amount) end)\n",
        ),
        (
            "cvar_on_change.luau",
            "cvar.on_change(\"r_fov\", function(name: string) log.info(name) end)\n",
        ),
        (
            "console_register.luau",
            "console.register(\"roll\", function(args: {string}) return #args end)\n",
        ),
        ("spawn_wave.luau", "game.spawn_wave(3)\n"),
    ];
    let [(_, main), (_, actors), _] = flavours();
    // Each call is fine in a main-VM script, so what is reported below is the actor file's.
    let Some((clean, output)) = analyze(&main, &calls) else {
        return;
    };
    assert!(clean, "{output}");
    let Some((clean, output)) = analyze(&actors, &calls) else {
        return;
    };
    assert!(!clean, "the actor definitions let main-only calls through");
    for (file, _) in calls {
        let at = format!("scripts/{file}(1,");
        assert!(
            output
                .lines()
                .any(|line| line.starts_with(&at) && line.contains("TypeError")),
            "{file} is not reported:\n{output}"
        );
    }
}

#[test]
fn write_typedefs_writes_the_generated_file_at_startup() {
    let mut h = Harness::new(&[]);
    register(&mut h);
    let path = h.dir.path().join("types/bevy_luau.d.luau");
    std::fs::create_dir_all(path.parent().expect("a parent")).expect("create dir");
    h.app.add_systems(Startup, write_typedefs(path.clone()));
    h.update();
    h.assert_no_errors();
    let written = std::fs::read_to_string(&path).expect("the file was written");
    assert_eq!(written, generate(h.app.world()));
}

#[test]
fn write_worker_typedefs_writes_the_worker_file() {
    let mut h = Harness::new(&[]);
    register(&mut h);
    let path = h.dir.path().join("bevy_luau.d.luau");
    h.app
        .add_systems(Startup, write_worker_typedefs(path.clone()));
    h.update();
    h.assert_no_errors();
    let written = std::fs::read_to_string(&path).expect("the file was written");
    assert_eq!(written, generate_workers(h.app.world()));
    assert!(written.contains("declare jobs: {"), "{written}");
    for absent in [
        "declare ecs",
        "declare task",
        "declare events",
        "run: (name",
    ] {
        assert!(!written.contains(absent), "{absent} in {written}");
    }
}

#[test]
fn write_actor_typedefs_writes_the_actor_file() {
    let mut h = Harness::new(&[]);
    register(&mut h);
    let path = h.dir.path().join("actors.d.luau");
    h.app
        .add_systems(Startup, write_actor_typedefs(path.clone()));
    h.update();
    h.assert_no_errors();
    let written = std::fs::read_to_string(&path).expect("the file was written");
    assert_eq!(written, generate_actors(h.app.world()));
    assert!(written.contains("    synchronize: () -> (),"), "{written}");
    for absent in ["declare hooks", "    on: ", "    on_change: "] {
        assert!(!written.contains(absent), "{absent} in {written}");
    }
}

#[test]
fn a_path_that_cannot_be_written_is_an_io_error_not_a_panic() {
    let mut h = Harness::new(&[("not_a_dir", "a file")]);
    let path = h.dir.path().join("not_a_dir/bevy_luau.d.luau");
    h.app.add_systems(Startup, write_typedefs(path));
    h.update();
    h.update();
    let errors = &h.seen().errors;
    assert_eq!(errors.len(), 1, "{errors:#?}");
    assert_eq!(errors[0].kind, ScriptErrorKind::Io);
    assert!(
        errors[0].script.ends_with("bevy_luau.d.luau"),
        "{errors:#?}"
    );
    assert!(errors[0].message.contains("could not write"), "{errors:#?}");
}
