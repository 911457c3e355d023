//! The README's Lua, checked as the shipped scripts are: every ```` ```lua ```` snippet
//! type-checks in strict mode with luau-lsp against the definitions of an app that has the
//! README's types, and the README's own luau-lsp commands work on a tree with worker and actor
//! scripts.
//!
//! Each snippet becomes a script of a small project laid out as the README's "Editor setup"
//! describes: `assets/scripts/` with a `.luaurc` for strict mode, worker scripts (those that
//! call `jobs.define`) in `assets/scripts/workers/`, actor scripts (those that say they are in
//! `scripts/actors/`) in `assets/scripts/actors/`, and the three definitions files that
//! `write_typedefs`, `write_worker_typedefs` and `write_actor_typedefs` would write. The
//! commands are read from the README's "The command line" block and run as written, with
//! luau-lsp from `$LUAU_LSP` or the `PATH`. Without luau-lsp the test says so and passes, unless
//! `CI` is set.
//!
//! A block whose info string says more than `lua` (```` ```lua nvim ````, the README's nvim-dap
//! setup) is an editor's own Lua, not a game script, and is not type-checked; `tests/editors.rs`
//! checks it instead.

#![cfg(feature = "transform")]

mod common;

use bevy_app::{App, TaskPoolPlugin};
use bevy_asset::AssetPlugin;
use bevy_ecs::prelude::*;
use bevy_luau::prelude::*;
use bevy_luau::typedefs::{generate, generate_actors, generate_workers};
use bevy_math::Vec3;
use bevy_reflect::Reflect;
use bevy_time::TimePlugin;
use common::luau_lsp;
use common::readme::{Block, blocks, commands, readme};
use serde::{Deserialize, Serialize};
use std::process::Command;

/// The README's reflected component.
#[derive(Component, Reflect, Default)]
#[reflect(Component)]
struct Health {
    current: f32,
    max: f32,
}

/// The README's serde component.
#[derive(Component, Serialize, Deserialize)]
struct Enemy;

/// The component of the README's live references.
#[derive(Component, Reflect, Default)]
#[reflect(Component)]
struct Stamina {
    current: f32,
}

/// The component of the README's Lua system.
#[derive(Component, Reflect, Default)]
#[reflect(Component)]
struct Velocity {
    linear: Vec3,
}

/// The README's message.
#[derive(Message, Serialize, Deserialize)]
struct Damage {
    amount: f32,
}

/// The component of the README's game function.
#[derive(Component)]
struct Position(Vec3);

/// The README's game function (its "Your own Lua API").
fn nearest(In(at): In<Vec3>, positions: Query<(Entity, &Position)>) -> Option<(Entity, f32)> {
    positions
        .iter()
        .map(|(entity, position)| (entity, position.0.distance(at)))
        .min_by(|a, b| a.1.total_cmp(&b.1))
}

/// The app the README's snippets run in, as far as their definitions go.
fn app() -> App {
    let mut app = App::new();
    app.add_plugins((
        TaskPoolPlugin::default(),
        TimePlugin,
        AssetPlugin::default(),
    ))
    .add_plugins(LuauScriptingPlugin)
    .register_script_component::<Enemy>()
    .add_message::<Damage>()
    .register_script_message::<Damage>()
    .add_script_function("nav.nearest", nearest)
    .add_script_function("nav.double", |In(x): In<f64>| x * 2.0)
    .add_worker_script_function("nav.cost", |(a, b): (f64, f64)| (a - b).abs());
    app.finish();
    app.cleanup();
    app
}

#[test]
fn the_readme_has_lua_snippets_of_every_kind_and_three_commands() {
    let markdown = readme();
    let lua: Vec<Block> = blocks(&markdown)
        .into_iter()
        .filter(|b| b.language == "lua")
        .collect();
    assert!(lua.len() >= 8, "{} Lua snippets", lua.len());
    assert!(lua.iter().any(|b| b.text.contains("jobs.define(")));
    assert!(lua.iter().any(|b| b.text.contains("scripts/actors/")));
    assert_eq!(commands(&markdown).len(), 3);
}

#[test]
fn every_readme_snippet_passes_strict_luau_lsp_with_the_readme_commands() {
    let Some(lsp) = luau_lsp() else {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI is set, but luau-lsp is not there: set LUAU_LSP to its path"
        );
        println!("skipped: luau-lsp was not found (set LUAU_LSP to its path)");
        return;
    };
    let markdown = readme();
    let dir = tempfile::tempdir().expect("a temporary folder");
    let root = dir.path();
    let assets = common::readme::project(root);
    let app = app();
    std::fs::write(assets.join("bevy_luau.d.luau"), generate(app.world()))
        .expect("write the definitions");
    std::fs::write(assets.join("workers.d.luau"), generate_workers(app.world()))
        .expect("write the worker definitions");
    std::fs::write(assets.join("actors.d.luau"), generate_actors(app.world()))
        .expect("write the actor definitions");
    let mut origins = Vec::new();
    for block in blocks(&markdown).iter().filter(|b| b.language == "lua") {
        let folder = if block.text.contains("jobs.define(") {
            "scripts/workers"
        } else if block.text.contains("scripts/actors/") {
            "scripts/actors"
        } else {
            "scripts"
        };
        let file = format!("{folder}/readme_line_{}.luau", block.line);
        std::fs::write(assets.join(&file), &block.text).expect("write a snippet");
        origins.push((file, block.line));
    }

    let reports = common::readme::run_commands(&lsp, &markdown, root);
    let legend: Vec<String> = origins
        .iter()
        .map(|(file, line)| format!("assets/{file}: the snippet at README.md line {line}"))
        .collect();
    assert!(
        reports.is_empty(),
        "{}\n\n{}",
        reports.join("\n\n"),
        legend.join("\n")
    );
}

#[test]
fn a_worker_snippet_is_an_error_against_the_main_definitions() {
    // What the README's first command leaves out would be reported: the check is real.
    let Some(lsp) = luau_lsp() else {
        println!("skipped: luau-lsp was not found");
        return;
    };
    let dir = tempfile::tempdir().expect("a temporary folder");
    std::fs::write(
        dir.path().join(".luaurc"),
        r#"{ "languageMode": "strict" }"#,
    )
    .unwrap();
    std::fs::write(dir.path().join("defs.d.luau"), generate(app().world())).unwrap();
    std::fs::write(
        dir.path().join("worker.luau"),
        "jobs.define(\"x\", function(args) return args end)\n",
    )
    .unwrap();
    let output = Command::new(&lsp)
        .args([
            "analyze",
            "--platform=standard",
            "--definitions=@bevy_luau=defs.d.luau",
            "worker.luau",
        ])
        .current_dir(dir.path())
        .output()
        .expect("run luau-lsp");
    assert!(
        !output.status.success(),
        "jobs.define is not in the main file"
    );
}
