//! The Lua API reference, `docs/lua-api.md`, against what `bevy_luau::typedefs::reference`
//! renders now. After an intended change to the API, rewrite it and review the diff:
//!
//! ```sh
//! BLESS=1 cargo test --all-features --test lua_api
//! ```

mod common;

use std::path::Path;

#[test]
fn the_reference_is_current() {
    if !cfg!(all(feature = "transform", feature = "input")) {
        println!("skipped: docs/lua-api.md is generated with every feature on");
        return;
    }
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/lua-api.md");
    let generated = bevy_luau::typedefs::reference();
    if std::env::var_os("BLESS").is_some() {
        std::fs::write(&path, &generated).expect("write docs/lua-api.md");
        return;
    }
    let checked_in = std::fs::read_to_string(&path).unwrap_or_default();
    if let Some(difference) = common::first_difference(&generated, &checked_in) {
        panic!(
            "docs/lua-api.md differs from {difference}\nIf the change is intended, run \
             `BLESS=1 cargo test --all-features --test lua_api`."
        );
    }
}

#[test]
fn the_reference_covers_every_library_function_with_a_line_of_doc() {
    let reference = bevy_luau::typedefs::reference();
    let libraries = reference
        .split("## Libraries")
        .nth(1)
        .and_then(|rest| rest.split("## Types").next())
        .expect("a Libraries section before the Types");
    let functions: Vec<&str> = libraries
        .lines()
        .filter(|line| line.starts_with("- `"))
        .collect();
    assert!(functions.len() > 60, "{reference}");
    for line in functions {
        assert!(line.contains("`: "), "no doc: {line}");
    }
    for needle in [
        "`ecs.find(name: string) -> Entity?`",
        "`ecs.name(e: Entity | number) -> string?`",
        "`transform.position(e: Entity | number) -> vector`",
        "`function Script:on_update(dt: number)`",
        "`self.entity`",
        "`jobs.define(",
        "| `Vec3`, `Vec3A` |",
    ] {
        assert!(reference.contains(needle), "{needle}");
    }
}
