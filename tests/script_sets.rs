//! Every Luau script under `assets/` type-checks in strict mode with luau-lsp, against the
//! definitions of the app that runs it.
//!
//! Each [`Check`] names a definitions file, checked in beside the scripts so that an editor
//! finds it; the app it is generated from (the example's own, through its `app()`); and the
//! scripts it covers. A script belongs to the check whose path is the longest prefix of its
//! own, so a folder's worker scripts can have their own check.
//!
//! - `definitions_are_current`: the checked-in files against what the apps generate now. After
//!   an intended change to the API, the generator or an example's types, rewrite them with
//!   `BLESS=1 cargo test --all-features --test script_sets` and review the diff.
//! - `every_script_is_covered_and_strict`: every script under `assets/` belongs to a check, and
//!   a `.luaurc` at or above its folder puts it in strict mode.
//! - `every_script_type_checks_in_strict_mode`: runs luau-lsp (`$LUAU_LSP`, or `luau-lsp` on
//!   the `PATH`) over each check's scripts and expects no diagnostic at all. Without luau-lsp it
//!   says so and passes, unless `CI` is set; `.ci/run` sets `LUAU_LSP`.
//!
//! The examples and the benchmark need the `transform` feature (on by default), and the
//! checked-in files are generated with every feature on.

#![cfg(feature = "transform")]
#![expect(
    clippy::duplicate_mod,
    reason = "the benchmarks and the comparison each include the helpers of benches/hooks.rs too"
)]

#[path = "../benches/actors.rs"]
#[allow(dead_code)]
mod actors;
#[path = "../examples/comparison.rs"]
#[allow(dead_code)]
mod comparison;
#[path = "../examples/console.rs"]
#[allow(dead_code)]
mod console;
#[path = "../benches/ecs_access.rs"]
#[allow(dead_code)]
mod ecs_access;
#[path = "../examples/entity_scripts.rs"]
#[allow(dead_code)]
mod entity_scripts;
#[path = "../examples/hello.rs"]
#[allow(dead_code)]
mod hello;
#[path = "../benches/hooks.rs"]
#[allow(dead_code)]
mod hooks;
#[path = "../examples/lua_systems.rs"]
#[allow(dead_code)]
mod lua_systems;
// The MUD's own app (`game::app`), with the modules it is made of.
#[path = "../examples/mud/api.rs"]
mod api;
#[path = "../examples/mud/components.rs"]
#[allow(dead_code)]
mod components;
#[path = "../examples/mud/game.rs"]
#[allow(dead_code)]
mod game;
#[path = "../examples/mud/net.rs"]
#[allow(dead_code)]
mod net;
// The arcade's own app, with the modules it is made of.
#[path = "../examples/arcade"]
#[allow(dead_code)]
mod arcade {
    pub mod api;
    pub mod components;
    pub mod game;
    pub mod screen;
}
#[path = "../examples/swarm/main.rs"]
#[allow(dead_code)]
mod swarm;
#[path = "../examples/worker_jobs.rs"]
#[allow(dead_code)]
mod worker_jobs;

mod common;

use bevy_app::{App, PluginsState};
use bevy_ecs::prelude::*;
use bevy_ecs::reflect::AppTypeRegistry;
use bevy_ecs::world::World;
use bevy_luau::prelude::*;
use bevy_luau::typedefs::{generate, generate_workers};
use bevy_reflect::{Reflect, TypeRegistry};
use common::luau_lsp;
use std::path::{Path, PathBuf};
use std::process::Command;

/// One definitions file and the scripts checked against it.
struct Check {
    /// The definitions file, under `assets/`.
    definitions: &'static str,
    /// [`generate`] for main-VM scripts, [`generate_workers`] for worker scripts.
    generate: fn(&World) -> String,
    /// The app that runs the scripts, as far as their definitions go.
    app: fn() -> App,
    /// The scripts, as files or folders under `assets/`.
    scripts: &'static [&'static str],
    /// The modules of this test that make up the program the scripts run in (see
    /// [`own_types_only`]).
    modules: &'static [&'static str],
}

/// The benchmarks' app with the plugin as they configure it, and nothing registered.
fn bench_app() -> App {
    hooks::app(Some(LuauScriptingPlugin::default()), |_| {})
}

/// The world-access benchmark's app.
fn world_access_app() -> App {
    hooks::app(Some(LuauScriptingPlugin::default()), ecs_access::register)
}

/// The actors benchmark's app.
fn actors_app() -> App {
    hooks::app(Some(LuauScriptingPlugin::default()), actors::register)
}

/// The swarm's app with its default settings: it is built, never run.
fn swarm_app() -> App {
    swarm::app(&swarm::Settings::default())
}

/// The MUD's app, without a port override: it is built, never run.
fn mud_app() -> App {
    game::app(assets(), None)
}

/// The arcade's app, which also runs the demo's pilot.
fn arcade_app() -> App {
    arcade::game::app(assets())
}

fn comparison_app() -> App {
    comparison::app(|_| {})
}

fn comparison_component_app() -> App {
    comparison::app(comparison::component_types)
}

fn comparison_function_app() -> App {
    comparison::app(comparison::script_functions)
}

/// The MUD's modules.
const MUD: &[&str] = &["components", "game", "net"];

/// The benchmarks' modules.
const BENCH: &[&str] = &["hooks", "ecs_access"];

const CHECKS: &[Check] = &[
    Check {
        definitions: "examples/hello/bevy_luau.d.luau",
        generate,
        app: hello::app,
        scripts: &["examples/hello"],
        modules: &["hello"],
    },
    Check {
        definitions: "examples/entity_scripts/bevy_luau.d.luau",
        generate,
        app: entity_scripts::app,
        scripts: &["examples/entity_scripts"],
        modules: &["entity_scripts"],
    },
    Check {
        definitions: "examples/console/bevy_luau.d.luau",
        generate,
        app: console::app,
        scripts: &["examples/console"],
        modules: &["console"],
    },
    Check {
        definitions: "examples/worker_jobs/bevy_luau.d.luau",
        generate,
        app: worker_jobs::app,
        scripts: &["examples/worker_jobs"],
        modules: &["worker_jobs"],
    },
    Check {
        definitions: "examples/worker_jobs/workers.d.luau",
        generate: generate_workers,
        app: worker_jobs::app,
        scripts: &["examples/worker_jobs/workers"],
        modules: &["worker_jobs"],
    },
    Check {
        definitions: "examples/lua_systems/bevy_luau.d.luau",
        generate,
        app: lua_systems::app,
        scripts: &["examples/lua_systems"],
        modules: &["lua_systems"],
    },
    Check {
        definitions: "examples/swarm/bevy_luau.d.luau",
        generate,
        app: swarm_app,
        scripts: &["examples/swarm"],
        modules: &["swarm"],
    },
    Check {
        definitions: "games/mud/bevy_luau.d.luau",
        generate,
        app: mud_app,
        scripts: &["games/mud/scripts"],
        modules: MUD,
    },
    Check {
        definitions: "games/mud/workers.d.luau",
        generate: generate_workers,
        app: mud_app,
        scripts: &["games/mud/scripts/workers"],
        modules: MUD,
    },
    Check {
        definitions: "games/arcade/bevy_luau.d.luau",
        generate,
        app: arcade_app,
        scripts: &["games/arcade/scripts"],
        modules: &["arcade"],
    },
    Check {
        definitions: "games/arcade/workers.d.luau",
        generate: generate_workers,
        app: arcade_app,
        scripts: &["games/arcade/scripts/workers"],
        modules: &["arcade"],
    },
    Check {
        definitions: "scripts/bench/bevy_luau.d.luau",
        generate,
        app: bench_app,
        scripts: &["scripts/bench"],
        modules: BENCH,
    },
    Check {
        definitions: "scripts/bench/world_access.d.luau",
        generate,
        app: world_access_app,
        scripts: &["scripts/bench/world_access.luau"],
        modules: BENCH,
    },
    Check {
        definitions: "scripts/bench/actors.d.luau",
        generate,
        app: actors_app,
        scripts: &["scripts/bench/steer.luau", "scripts/bench/drift.luau"],
        modules: &["hooks", "actors"],
    },
    Check {
        definitions: "scripts/bench/workers.d.luau",
        generate: generate_workers,
        app: bench_app,
        scripts: &["scripts/bench/crunch.luau"],
        modules: BENCH,
    },
    Check {
        definitions: "scripts/comparison/bevy_luau.d.luau",
        generate,
        app: comparison_app,
        scripts: &["scripts/comparison"],
        modules: &["comparison"],
    },
    Check {
        definitions: "scripts/comparison/component.d.luau",
        generate,
        app: comparison_component_app,
        scripts: &["scripts/comparison/component.luau"],
        modules: &["comparison"],
    },
    Check {
        definitions: "scripts/comparison/function.d.luau",
        generate,
        app: comparison_function_app,
        scripts: &["scripts/comparison/function.luau"],
        modules: &["comparison"],
    },
];

fn assets() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("assets")
}

/// `check`'s app, built as far as `App::run` would before the first update, with the
/// reflected types of its own program only.
fn built(check: &Check) -> App {
    let mut app = (check.app)();
    if app.plugins_state() != PluginsState::Cleaned {
        app.finish();
        app.cleanup();
    }
    own_types_only(&app, check.modules);
    app
}

/// Drops from `app`'s type registry the types of this test's other modules. Every type that
/// derives `Reflect` is registered automatically (bevy_app's `reflect_auto_register`), so in
/// this test, which holds every example, each app would otherwise see the types of all of
/// them; each example's own program has its own types and Bevy's only, and so do its
/// checked-in definitions.
fn own_types_only(app: &App, modules: &[&str]) {
    let types = app.world().resource::<AppTypeRegistry>();
    let crate_root = concat!(module_path!(), "::");
    let mut kept = TypeRegistry::empty();
    for registration in types.read().iter() {
        let path = registration.type_info().type_path();
        let own = |module: &&str| path.starts_with(&format!("{crate_root}{module}::"));
        if !path.starts_with(crate_root) || modules.iter().any(own) {
            kept.add_registration(registration.clone());
        }
    }
    *types.write() = kept;
}

/// Every `.luau` and `.lua` file under `dir`, sorted, as paths relative to `assets/`.
fn scripts_under(dir: &Path) -> Vec<String> {
    let mut found = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(dir) = pending.pop() {
        let entries = std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
        for entry in entries {
            let path = entry.expect("a directory entry").path();
            if path.is_dir() {
                pending.push(path);
            } else if path.extension().is_some_and(|e| e == "luau" || e == "lua")
                && !path.to_string_lossy().ends_with(".d.luau")
            {
                let relative = path.strip_prefix(assets()).expect("under assets");
                found.push(relative.to_string_lossy().replace('\\', "/"));
            }
        }
    }
    found.sort();
    found
}

/// The check that covers `script`: the one with the longest path that is `script` or a folder
/// above it.
fn check_of(script: &str) -> Option<&'static Check> {
    let covers = |path: &str| script == path || script.starts_with(&format!("{path}/"));
    CHECKS
        .iter()
        .flat_map(|check| check.scripts.iter().map(move |path| (check, *path)))
        .filter(|(_, path)| covers(path))
        .max_by_key(|(_, path)| path.len())
        .map(|(check, _)| check)
}

/// The scripts `check` covers.
fn scripts_of(check: &Check) -> Vec<String> {
    scripts_under(&assets())
        .into_iter()
        .filter(|script| check_of(script).is_some_and(|c| std::ptr::eq(c, check)))
        .collect()
}

#[test]
fn definitions_are_current() {
    if !cfg!(feature = "input") {
        println!("skipped: the checked-in definitions are generated with every feature on");
        return;
    }
    let bless = std::env::var_os("BLESS").is_some();
    let mut stale = Vec::new();
    for check in CHECKS {
        let app = built(check);
        let generated = (check.generate)(app.world());
        let path = assets().join(check.definitions);
        if bless {
            std::fs::write(&path, &generated).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            continue;
        }
        let checked_in = std::fs::read_to_string(&path).unwrap_or_default();
        if let Some(difference) = common::first_difference(&generated, &checked_in) {
            stale.push(format!(
                "assets/{} differs from {difference}",
                check.definitions
            ));
        }
    }
    assert!(
        stale.is_empty(),
        "{}\nIf the change is intended, run `BLESS=1 cargo test --all-features --test script_sets`.",
        stale.join("\n")
    );
}

#[test]
fn every_script_is_covered_and_strict() {
    let scripts = scripts_under(&assets());
    assert!(scripts.len() > 20, "{scripts:?}");
    for script in &scripts {
        assert!(
            check_of(script).is_some(),
            "assets/{script} belongs to no check: add it to CHECKS in {}",
            file!()
        );
        let mut dir = assets().join(script);
        let config = loop {
            assert!(
                dir.pop() && dir.starts_with(assets()),
                "no .luaurc above assets/{script}"
            );
            let config = dir.join(".luaurc");
            if config.exists() {
                break config;
            }
        };
        let text = std::fs::read_to_string(&config).expect("read .luaurc");
        let compact: String = text.split_whitespace().collect();
        assert!(
            compact.contains(r#""languageMode":"strict""#),
            "{} does not put assets/{script} in strict mode: {text}",
            config.display()
        );
    }
    for check in CHECKS {
        assert!(
            !scripts_of(check).is_empty(),
            "{} covers no script",
            check.definitions
        );
    }
}

#[test]
fn every_script_type_checks_in_strict_mode() {
    let Some(lsp) = luau_lsp() else {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI is set, but luau-lsp is not there: set LUAU_LSP to its path (.ci/run uses \
             ../shared/tools/luau-lsp)"
        );
        println!(
            "skipped: luau-lsp was not found (set LUAU_LSP to its path, or put it on the PATH) \
             so the scripts were not type-checked"
        );
        return;
    };
    let mut failures = Vec::new();
    for check in CHECKS {
        let scripts = scripts_of(check);
        let output = Command::new(&lsp)
            .arg("analyze")
            .arg("--platform=standard")
            .arg(format!("--definitions=@bevy_luau={}", check.definitions))
            .args(&scripts)
            .current_dir(assets())
            .output()
            .unwrap_or_else(|e| panic!("could not run {}: {e}", lsp.display()));
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        let diagnostics: Vec<&str> = text
            .lines()
            .filter(|line| !line.trim().is_empty() && !line.starts_with("[INFO]"))
            .collect();
        println!(
            "{}: {} scripts, {} diagnostics",
            check.definitions,
            scripts.len(),
            diagnostics.len()
        );
        if !output.status.success() || !diagnostics.is_empty() {
            failures.push(format!(
                "against assets/{} ({}):\n{}",
                check.definitions,
                output.status,
                diagnostics.join("\n")
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// The types of [`luau_lsp_reports_mistakes_at_the_mistake`].
mod mistakes {
    use super::*;

    /// A reflected component.
    #[derive(Component, Reflect, Default)]
    #[reflect(Component)]
    pub struct Room {
        title: String,
    }

    /// A reflected component listed before `Room`, whose type a misleading report would name.
    #[derive(Component, Reflect, Default)]
    #[reflect(Component)]
    pub struct Carried {
        by: Option<Entity>,
    }
}

#[test]
fn luau_lsp_reports_mistakes_at_the_mistake() {
    let Some(lsp) = luau_lsp() else {
        println!("skipped: luau-lsp was not found");
        return;
    };
    let app = hooks::app(Some(LuauScriptingPlugin::default()), |_| {});
    own_types_only(&app, &["mistakes"]);
    let dir = tempfile::tempdir().expect("a temporary folder");
    std::fs::write(
        dir.path().join(".luaurc"),
        r#"{ "languageMode": "strict" }"#,
    )
    .unwrap();
    std::fs::write(dir.path().join("defs.d.luau"), generate(app.world())).unwrap();
    let script = r#"
local e: Entity = ecs.spawn()
local maybe: Entity? = ecs.find("hall")
local room = ecs.get(maybe, "Room")
print(room.title)
print(ecs.get(e, "Room").title)
local same: boolean = e == maybe or e ~= e
local seen: {[Entity]: boolean} = { [e] = same }
print(seen[e])
"#;
    std::fs::write(dir.path().join("script.luau"), script).unwrap();
    let output = Command::new(&lsp)
        .args([
            "analyze",
            "--platform=standard",
            "--definitions=@bevy_luau=defs.d.luau",
        ])
        .arg("script.luau")
        .current_dir(dir.path())
        .output()
        .expect("run luau-lsp");
    let text = String::from_utf8_lossy(&output.stdout).into_owned()
        + &String::from_utf8_lossy(&output.stderr);
    let diagnostics: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("script.luau"))
        .collect();
    // An Entity? where an entity goes: reported where it is passed...
    assert!(
        diagnostics
            .iter()
            .any(|d| d.starts_with("script.luau(4,22)")
                && d.contains("Expected this to be 'Entity | number', but got 'Entity?'")),
        "{text}"
    );
    // ...and not again as a missing key of the first component type.
    assert!(!text.contains("not found in table"), "{text}");
    assert!(
        !diagnostics.iter().any(|d| d.starts_with("script.luau(5,")),
        "{text}"
    );
    // A component that may be absent must be checked before use.
    assert!(
        diagnostics.iter().any(|d| d.starts_with("script.luau(6,7)")
            && d.contains("Value of type 'Room?' could be nil")),
        "{text}"
    );
    // Entities compare with == and ~=, also with an Entity?, and key tables.
    assert!(
        !diagnostics
            .iter()
            .any(|d| d.starts_with("script.luau(7,") || d.starts_with("script.luau(8,")),
        "{text}"
    );
    assert_eq!(diagnostics.len(), 4, "{text}");
}
