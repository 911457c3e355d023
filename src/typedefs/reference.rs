//! [`reference`]: the Lua API reference in Markdown, rendered from the tables the definitions
//! files are made of (`super::library`), so the two cannot drift apart.

use super::library::{self, EXTERNS, Library, Registered, Vm};

/// The methods an entity script's table may define, `(name, signature, doc)`.
const ENTITY_METHODS: &[(&str, &str, &str)] = &[
    (
        "on_spawn",
        "()",
        "Once, when the script starts on the entity (or the entity gets its Script).",
    ),
    (
        "on_update",
        "(dt: number)",
        "Every frame, after the global scripts' hooks, with the frame time in seconds.",
    ),
    (
        "on_event",
        "(name: string, payload: any)",
        "For each ScriptEvent and registered message not consumed by an events.on handler.",
    ),
    (
        "on_despawn",
        "()",
        "Exactly once, when the entity is despawned or loses its Script.",
    ),
];

/// The Lua API reference in Markdown: every library function with its signature and what it
/// does, the entity-script methods and `self.entity`, the worker scripts' libraries, what actor
/// scripts lack, the runtime types, and how Rust types reach Lua. It is rendered from the same tables as
/// [`generate`](super::generate), for the fixed API (the libraries of every compiled-in
/// feature, no registered types); the repository's `docs/lua-api.md` is its output with every
/// feature on.
///
/// ```
/// let reference = bevy_luau::typedefs::reference();
/// assert!(reference.contains("`ecs.find(name: string) -> Entity?`"));
/// assert!(reference.contains("self.entity"));
/// ```
pub fn reference() -> String {
    let registered = Registered {
        components: Vec::new(),
        resources: Vec::new(),
        messages: Vec::new(),
        cvars: Vec::new(),
        transform: cfg!(feature = "transform"),
        // Key names are Bevy's `KeyCode` variants; a couple of hundred would drown the page.
        input: cfg!(feature = "input").then(Vec::new),
        functions: Vec::new(),
    };
    let mut out = String::from(INTRO);

    out.push_str("## Entity scripts\n\n");
    out.push_str(ENTITY_SCRIPTS);
    for (name, signature, doc) in ENTITY_METHODS {
        out.push_str(&format!("- `function Script:{name}{signature}`: {doc}\n"));
    }
    out.push_str(
        "\nEach entity gets its own instance of the table as `self`, with `self.entity`, the \
         entity it runs on. Fields set on `self` (`self.hp = 10`) are the instance's own and \
         survive hot reload. A method that errors is reported and stays; the other entities' \
         methods still run.\n\n",
    );

    out.push_str("## Libraries\n\n");
    out.push_str(NAME_KEYED);
    for library in library::libraries(&registered, Vm::Main) {
        render_library(&mut out, &library, 3);
    }

    out.push_str("## Worker scripts\n\n");
    out.push_str(WORKERS);
    for library in library::libraries(&registered, Vm::Worker) {
        render_library(&mut out, &library, 3);
    }

    out.push_str("## Actor scripts\n\n");
    out.push_str(ACTORS);
    let omitted = omitted(
        &library::libraries(&registered, Vm::Main),
        &library::libraries(&registered, Vm::Actor),
    );
    out.push_str(&format!(
        "An actor VM has the main VM's [libraries](#libraries), except the global callbacks, \
         which the engine dispatches from the main VM only: {}. An actor script uses its \
         `on_update` and `on_event` methods instead. The game's system functions \
         (`app.add_script_function`) are stand-ins that fail there; its plain functions \
         (`app.add_worker_script_function`) work.\n\n",
        omitted.join(", ")
    ));

    out.push_str("## Types\n\n");
    for item in EXTERNS {
        out.push_str(&format!("### `{}`\n\n{}\n\n", item.name, item.doc));
        for (name, ty) in item.properties {
            out.push_str(&format!("- `{}.{name}: {ty}`\n", lower(item.name)));
        }
        for (name, params, ret) in item.methods {
            out.push_str(&format!(
                "- `{}:{name}({params}) -> {ret}`\n",
                lower(item.name)
            ));
        }
        if !item.properties.is_empty() || !item.methods.is_empty() {
            out.push('\n');
        }
    }
    let components = (
        "Components",
        "What ecs.spawn and commands.spawn take: components by name.",
        library::components_table(&registered),
    );
    for (name, doc, ty) in library::aliases(&registered, Vm::Main)
        .into_iter()
        .chain([components])
    {
        out.push_str(&format!(
            "### `{name}`\n\n{doc}\n\n```luau\ntype {name} = {ty}\n```\n\n"
        ));
    }

    // The mapping's own headings go one level down, under the page's title.
    for line in include_str!("mapping.md").lines() {
        if line.starts_with('#') {
            out.push('#');
        }
        out.push_str(line);
        out.push('\n');
    }
    out
}

/// The functions of `all` that `some` lacks, as `` `library.function` ``.
fn omitted(all: &[Library], some: &[Library]) -> Vec<String> {
    let mut omitted = Vec::new();
    for library in all {
        let kept = some.iter().find(|l| l.name == library.name);
        for member in &library.members {
            if !kept.is_some_and(|l| l.members.iter().any(|m| m.name == member.name)) {
                omitted.push(format!("`{}.{}`", library.name, member.name));
            }
        }
    }
    omitted
}

/// `entity` for `Entity`: how a method call on a value of the type reads.
fn lower(name: &str) -> String {
    name.to_ascii_lowercase()
}

/// A library: its heading, its doc, and a line per function.
fn render_library(out: &mut String, library: &Library, level: usize) {
    let hashes = "#".repeat(level);
    out.push_str(&format!(
        "{hashes} `{}`\n\n{}\n\n",
        library.name, library.doc
    ));
    for member in &library.members {
        let mut signatures = member
            .overloads
            .iter()
            .map(|signature| format!("`{}.{}{signature}`", library.name, member.name));
        let first = signatures.next().unwrap_or_default();
        let doc = if member.doc.is_empty() {
            String::new()
        } else {
            format!(": {}", member.doc)
        };
        out.push_str(&format!("- {first}{doc}\n"));
        for other in signatures {
            out.push_str(&format!("  - also {other}\n"));
        }
    }
    out.push('\n');
}

const INTRO: &str = "\
# The Lua API of bevy_luau

<!-- Generated by bevy_luau::typedefs::reference() from the tables the luau-lsp definitions are
     made of: do not edit. tests/lua_api.rs fails when it drifts;
     `BLESS=1 cargo test --all-features --test lua_api` rewrites it. -->

What a script can call, with the Luau types that the generated definitions
(`bevy_luau::typedefs::generate`) give luau-lsp. Every script also has Luau's standard library
(`math`, `string`, `table`, `vector`, `buffer`, `bit32`, `utf8`, `coroutine`), sandboxed: no
`io`, no `os.execute`, no `loadfile`. `print` is `log.info`; `require` resolves paths inside the
asset folder, relative to the requiring script; `loadstring` takes source text only. Each script
has a global table of its own.

- [Entity scripts](#entity-scripts)
- [Libraries](#libraries): `log`, `hooks`, `events`, `ecs`, `commands`, `transform`, `time`,
  `task`, `jobs`, `cvar`, `console`, `profiler`, `input`
- [Worker scripts](#worker-scripts)
- [Actor scripts](#actor-scripts)
- [Types](#types)
- [How Rust types reach Lua](#how-rust-types-reach-lua)

";

const ENTITY_SCRIPTS: &str = "\
A script attached to an entity with `Script::new(handle)` returns a table of methods; each one is
optional:

";

const NAME_KEYED: &str = "\
An entity parameter (`e: Entity | number`) takes an entity, or a number holding its exact bits.
Functions keyed on a component, resource, message or CVar name have one overload per registered
name in your app's definitions, so `ecs.get(e, \"Health\")` is a `Health?` and
`ecs.each(\"Velocity\", ...)` yields a `Velocity`; this page shows the general case.

";

const ACTORS: &str = "\
An entity script on an entity that also has `ScriptActor` is an actor script. Its instance lives in
one of the actor VMs, and its `on_update` runs in the parallel phase of the step, after the main
VM's: it reads the world, and its writes are queued and applied once the phase is over.
`task.synchronize()` moves it to the serial part of the step and `task.desynchronize()` back.
Actor scripts have their own definitions file (`bevy_luau::typedefs::generate_actors`).

";

const WORKERS: &str = "\
Worker scripts (`app.add_worker_script`) run in the worker pool's VMs, away from the world. They
have `log`, `print`, `require`, the standard library and the libraries below, and their own
definitions file (`bevy_luau::typedefs::generate_workers`).

";
