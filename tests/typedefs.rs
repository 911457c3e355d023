//! Luau type definitions (`bevy_luau::typedefs`): the generated file against a checked-in
//! golden file, the environment scripts really get against what the file declares, and
//! writing the file, also where it cannot be written.
//!
//! The golden file is `tests/golden/typedefs.d.luau`, generated with every feature on. After
//! an intended change to the Lua API or to the generator, regenerate it and review the diff:
//!
//! ```sh
//! BLESS=1 cargo test --all-features --test typedefs
//! ```

mod common;

use bevy_app::Startup;
use bevy_ecs::prelude::*;
use bevy_luau::prelude::*;
use bevy_luau::typedefs::{generate, generate_workers, write_typedefs, write_worker_typedefs};
use bevy_math::Vec3;
use bevy_reflect::Reflect;
use common::Harness;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeSet, HashMap};

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

#[cfg(all(feature = "transform", feature = "input"))]
#[test]
fn generated_definitions_match_the_golden_file() {
    let mut h = Harness::new(&[]);
    register(&mut h);
    let generated = generate(h.app.world());
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/golden/typedefs.d.luau");
    if std::env::var_os("BLESS").is_some() {
        std::fs::write(path, &generated).expect("write the golden file");
        return;
    }
    let golden = std::fs::read_to_string(path).unwrap_or_default();
    if let Some(difference) = common::first_difference(&generated, &golden) {
        panic!(
            "the definitions differ from {path} from {difference}\nIf the change is intended, \
             run `BLESS=1 cargo test --all-features --test typedefs`."
        );
    }
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
