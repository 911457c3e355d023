//! [`generate`]: collecting what a script can reach in one app, and writing it out as a
//! definitions file.

use super::library::{self, Extern, Library, Registered, Vm};
use super::types::{Mode, Namer, Ty};
use crate::cvar::{CVarRegistry, CVarValue};
use crate::function::registration::ScriptFunctions;
use crate::registry::{Kind, ScriptRegistry, is_reflected};
use bevy_ecs::reflect::AppTypeRegistry;
use bevy_ecs::world::World;
use bevy_reflect::{ReflectFromReflect, TypeInfo, TypeRegistration, TypeRegistry};
use std::any::TypeId;
use std::collections::BTreeMap;

/// Generates the luau-lsp definitions file of the whole Lua API and of every component,
/// resource and message that scripts of this app can reach by name.
///
/// Call it once the app is built (in a `Startup` system, or after `app.finish()`), so every
/// registration is in. The output depends only on what is registered, in sorted order, so it
/// can be checked in and compared. See the [module docs](crate::typedefs) for what it holds.
///
/// ```
/// use bevy_app::{App, TaskPoolPlugin};
/// use bevy_asset::AssetPlugin;
/// use bevy_ecs::prelude::*;
/// use bevy_luau::prelude::*;
/// use bevy_time::TimePlugin;
///
/// #[derive(Component, serde::Serialize, serde::Deserialize)]
/// struct Health {
///     current: f32,
///     max: f32,
/// }
///
/// let mut app = App::new();
/// app.add_plugins((TaskPoolPlugin::default(), TimePlugin, AssetPlugin::default()))
///     .add_plugins(LuauScriptingPlugin::default())
///     .register_script_component::<Health>();
/// app.finish();
/// let definitions = bevy_luau::typedefs::generate(app.world());
/// assert!(definitions.contains("declare extern type Entity with"));
/// assert!(definitions.contains("export type Health = any"));
/// assert!(definitions.contains("(e: Entity | number, name: \"Health\") -> Health?"));
/// ```
pub fn generate(world: &World) -> String {
    render(world, Vm::Main)
}

/// Generates the definitions file of worker scripts (`app.add_worker_script`): what a worker
/// VM has, `log`, `print`, `require`, `commands`, `cvar.get` and `jobs.define`, with the same
/// types as [`generate`]. Check worker scripts against this file, not the main one, so that a
/// call to `ecs.get` in a worker script is an error in the editor as it is at run time.
///
/// ```
/// # use bevy_app::{App, TaskPoolPlugin};
/// # use bevy_asset::AssetPlugin;
/// # use bevy_luau::prelude::*;
/// # use bevy_time::TimePlugin;
/// let mut app = App::new();
/// app.add_plugins((TaskPoolPlugin::default(), TimePlugin, AssetPlugin::default()))
///     .add_plugins(LuauScriptingPlugin::default());
/// app.finish();
/// let definitions = bevy_luau::typedefs::generate_workers(app.world());
/// assert!(definitions.contains("define: (name: string, job: (args: any) -> ...any) -> (),"));
/// assert!(!definitions.contains("declare ecs"));
/// ```
pub fn generate_workers(world: &World) -> String {
    render(world, Vm::Worker)
}

/// Generates the definitions file of actor scripts (entity scripts on entities with
/// [`ScriptActor`](crate::ScriptActor)), which run in the actor VMs: what [`generate`]
/// declares, without the global callbacks that the engine dispatches from the main VM only
/// (`hooks`, `events.on`, `cvar.on_change`, `console.register`; an actor script has its
/// `on_update` and `on_event` methods instead) and without the game's system functions
/// (`add_script_function`; its `add_worker_script_function` functions stay). `task.synchronize`
/// and `task.desynchronize` move an actor script between the parallel phase and the serial
/// part of the step. Check actor scripts against this file, so that a `hooks.on_update` in one
/// is an error in the editor as it is at run time.
///
/// ```
/// # use bevy_app::{App, TaskPoolPlugin};
/// # use bevy_asset::AssetPlugin;
/// # use bevy_luau::prelude::*;
/// # use bevy_time::TimePlugin;
/// let mut app = App::new();
/// app.add_plugins((TaskPoolPlugin::default(), TimePlugin, AssetPlugin::default()))
///     .add_plugins(LuauScriptingPlugin::default());
/// app.finish();
/// let definitions = bevy_luau::typedefs::generate_actors(app.world());
/// assert!(definitions.contains("declare ecs: {"));
/// assert!(definitions.contains("    synchronize: () -> (),"));
/// assert!(!definitions.contains("declare hooks"));
/// ```
pub fn generate_actors(world: &World) -> String {
    render(world, Vm::Actor)
}

fn render(world: &World, vm: Vm) -> String {
    let types = world.get_resource::<AppTypeRegistry>().map(|t| t.read());
    Definitions::collect(world, types.as_deref()).render(Syntax::Declarations, vm)
}

/// Which syntax [`Definitions::render`] writes.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Syntax {
    /// luau-lsp's definitions file: `declare extern type`, `declare name: T`.
    Declarations,
    /// Plain Luau that the compiler accepts: `type` aliases and `local name: T`, for checking
    /// that every type expression parses.
    #[cfg_attr(
        not(test),
        expect(dead_code, reason = "only the unit tests compile the plain syntax")
    )]
    Plain,
}

/// How a registered type reaches Lua.
#[derive(Clone, Copy)]
enum Source {
    /// Through serde; `TypeId` finds its reflected fields when it is reflected too.
    Serde(TypeId),
    /// Through reflection.
    Reflect(&'static TypeInfo),
}

/// One named type of the file.
struct Alias {
    name: String,
    doc: String,
    ty: Ty,
}

/// Everything the file declares.
pub(crate) struct Definitions {
    registered: Registered,
    components: Vec<Alias>,
    resources: Vec<Alias>,
    messages: Vec<Alias>,
    /// Structs and enums met inside the fields of the above.
    helpers: Vec<Alias>,
    /// Names that two reflected types share, so scripts cannot reach either by it.
    ambiguous: Vec<String>,
}

impl Definitions {
    /// Collects the registered types of `world` (`types` is its type registry, read-locked).
    pub fn collect(world: &World, types: Option<&TypeRegistry>) -> Self {
        let scripts = world.get_resource::<ScriptRegistry>();
        let mut ambiguous = Vec::new();
        let mut sources = |kind: Kind| {
            let mut found: BTreeMap<String, Source> = scripts
                .map(|s| {
                    s.serde_types(kind)
                        .map(|(name, id)| (name.to_owned(), Source::Serde(id)))
                        .collect()
                })
                .unwrap_or_default();
            if let Some(types) = types {
                for (name, registrations) in reflected(types, kind) {
                    if found.contains_key(name) {
                        continue;
                    }
                    match registrations.as_slice() {
                        [only] if only.data::<ReflectFromReflect>().is_some() => {
                            found.insert(name.to_owned(), Source::Reflect(only.type_info()));
                        }
                        [_] => {}
                        several => {
                            let mut paths: Vec<&str> =
                                several.iter().map(|r| r.type_info().type_path()).collect();
                            paths.sort_unstable();
                            ambiguous.push(format!("{name} ({})", paths.join(", ")));
                        }
                    }
                }
            }
            found
        };
        let components = sources(Kind::Component);
        let resources = sources(Kind::Resource);
        let messages: BTreeMap<String, Source> = scripts
            .map(|s| {
                s.message_types()
                    .map(|(name, id)| (name.to_owned(), Source::Serde(id)))
                    .collect()
            })
            .unwrap_or_default();

        let mut namer = Namer::new(types, library::TAKEN);
        let mut name_all = |sources: &BTreeMap<String, Source>, suffix: &str| {
            sources
                .iter()
                .map(|(name, source)| {
                    let alias = namer.claim(name, suffix);
                    match *source {
                        Source::Serde(id) => namer.bind(id, Mode::Serde, &alias),
                        Source::Reflect(info) => namer.bind(info.type_id(), Mode::Reflect, &alias),
                    }
                    (name.clone(), alias, *source)
                })
                .collect::<Vec<_>>()
        };
        let components = name_all(&components, "Component");
        let resources = name_all(&resources, "Resource");
        let messages = name_all(&messages, "Message");

        let pairs = |list: &[(String, String, Source)]| {
            list.iter()
                .map(|(name, alias, _)| (name.clone(), alias.clone()))
                .collect::<Vec<_>>()
        };
        let registered = Registered {
            components: pairs(&components),
            resources: pairs(&resources),
            messages: pairs(&messages),
            cvars: cvars(world),
            transform: cfg!(feature = "transform") && installed(world, "transform"),
            input: input_keys(world),
            functions: world
                .get_resource::<ScriptFunctions>()
                .map(|functions| functions.infos().to_vec())
                .unwrap_or_default(),
        };
        let mut define_all = |list: Vec<(String, String, Source)>, noun: &str| {
            list.into_iter()
                .map(|(name, alias, source)| define(&mut namer, &name, alias, source, noun))
                .collect::<Vec<_>>()
        };
        let components = define_all(components, "component");
        let resources = define_all(resources, "resource");
        let messages = define_all(messages, "message");
        let mut helpers: Vec<Alias> = namer
            .define_pending()
            .into_iter()
            .map(|(pending, ty)| Alias {
                name: pending.alias,
                // The short path: a module path would name the crate that generated the
                // file, which differs between a game, its tools and its tests.
                doc: format!(
                    "`{}`, in fields.",
                    pending.info.type_path_table().short_path()
                ),
                ty,
            })
            .collect();
        helpers.sort_by(|a, b| a.name.cmp(&b.name));
        ambiguous.sort();
        Self {
            registered,
            components,
            resources,
            messages,
            helpers,
            ambiguous,
        }
    }

    /// Writes the definitions of `vm`'s scripts in `syntax`.
    pub fn render(&self, syntax: Syntax, vm: Vm) -> String {
        let mut out = String::new();
        out.push_str(match vm {
            Vm::Main => MAIN_HEADER,
            Vm::Actor => ACTOR_HEADER,
            Vm::Worker => WORKER_HEADER,
        });
        if vm != Vm::Worker {
            out.push_str(LIMITS);
        }
        out.push('\n');
        section(&mut out, "Runtime types");
        for item in library::externs(vm) {
            declare_extern(&mut out, item, syntax);
        }
        for (name, doc, ty) in library::aliases(&self.registered, vm) {
            alias(&mut out, name, doc, &ty);
        }
        for (title, list) in [
            ("Components", &self.components),
            ("Resources", &self.resources),
            ("Messages", &self.messages),
            ("Types in fields", &self.helpers),
        ] {
            if list.is_empty() {
                continue;
            }
            section(&mut out, title);
            for item in list {
                alias(&mut out, &item.name, &item.doc, &item.ty.render_block(0));
            }
        }
        if !self.ambiguous.is_empty() {
            let names = self.ambiguous.join("; ");
            comment(
                &mut out,
                &format!(
                    "Not reachable by name, because two reflected types share the short name \
                     (register one with serde to pick it): {names}."
                ),
                0,
            );
            out.push('\n');
        }
        section(&mut out, "Libraries");
        alias(
            &mut out,
            "Components",
            "What ecs.spawn and commands.spawn take: components by name.",
            &library::components_table(&self.registered),
        );
        for library in library::libraries(&self.registered, vm) {
            declare(&mut out, &library, syntax);
        }
        out
    }
}

/// The top of the main file.
const MAIN_HEADER: &str = "\
-- Luau type definitions of bevy_luau's scripting API, for luau-lsp.
-- Generated from the running app by bevy_luau::typedefs: regenerate it rather than edit it.
-- VS Code: \"luau-lsp.types.definitionFiles\": { \"@bevy_luau\": \"bevy_luau.d.luau\" }
-- Command line: luau-lsp analyze --platform=standard --definitions=@bevy_luau=bevy_luau.d.luau scripts/
--
-- print, require and loadstring keep Luau's built-in types. Each script has its own: print is
-- log.info, require resolves paths inside the asset folder, loadstring takes source text only.
-- Worker scripts and actor scripts have their own files (bevy_luau::typedefs::generate_workers
-- and generate_actors).
";

/// The top of the actor file.
const ACTOR_HEADER: &str = "\
-- Luau type definitions of bevy_luau's actor scripts, for luau-lsp.
-- Generated from the running app by bevy_luau::typedefs: regenerate it rather than edit it.
-- An actor script is the entity script of an entity with ScriptActor. It runs in an actor VM,
-- which has the main VM's libraries but not the global callbacks (hooks, events.on,
-- cvar.on_change, console.register: use the script's on_update and on_event methods) nor the
-- game's system functions (its add_worker_script_function functions stay). task.synchronize()
-- and task.desynchronize() move it between the parallel phase and the serial part of the step.
-- Command line: luau-lsp analyze --platform=standard --definitions=@bevy_luau=actors.d.luau actors/
--
-- print, require and loadstring keep Luau's built-in types, as in the main file.
";

/// What the main and actor files say about luau-lsp's limits.
const LIMITS: &str = "\
--
-- What luau-lsp's default type checker cannot say:
-- * An Entity compares with == only against an Entity (or Entity?), not against an unannotated
--   parameter: annotate parameters that hold entities (e: Entity).
-- * Functions keyed on a name (ecs.get, ecs.ref, ecs.resource, cvar.get) begin with a case no
--   call matches, whose result is any: when no case fits a call, the checker reports it against
--   the first case and takes that case's result, which would otherwise be the first component's.
-- * The general case (name: string) also takes the registered names, so ecs.set(e, \"Health\", v)
--   with a v that is not a Health falls through to it unreported.
";

/// The top of the worker file.
const WORKER_HEADER: &str = "\
-- Luau type definitions of bevy_luau's worker scripts, for luau-lsp.
-- Generated from the running app by bevy_luau::typedefs: regenerate it rather than edit it.
-- A worker VM has log, print, require, commands, cvar.get and jobs.define; check worker scripts
-- against this file and the other scripts against the main one.
-- Command line: luau-lsp analyze --platform=standard --definitions=@bevy_luau=workers.d.luau workers/
";

/// The reflected components (or resources) of `types` that Lua finds by name, grouped by
/// short name.
fn reflected(types: &TypeRegistry, kind: Kind) -> BTreeMap<&'static str, Vec<&TypeRegistration>> {
    let mut found: BTreeMap<&'static str, Vec<&TypeRegistration>> = BTreeMap::new();
    for registration in types.iter().filter(|r| is_reflected(r, kind)) {
        let name = registration.type_info().type_path_table().short_path();
        found.entry(name).or_default().push(registration);
    }
    found
}

/// The definition of one registered type.
fn define(namer: &mut Namer<'_>, name: &str, alias: String, source: Source, noun: &str) -> Alias {
    let (ty, doc) = match source {
        Source::Reflect(info) => (
            namer.shape(info, Mode::Reflect),
            format!("The {noun} `{name}` (reflected)."),
        ),
        Source::Serde(id) => match namer.info(id) {
            Some(info) => (
                namer.shape(info, Mode::Serde),
                format!(
                    "The {noun} `{name}` (serde, described from its reflection, assuming \
                     serde's default representation)."
                ),
            ),
            None => (
                Ty::Any,
                format!(
                    "The {noun} `{name}` (serde). Its fields are unknown without reflection: \
                     derive Reflect (which registers it; a generic type also needs \
                     app.register_type) to describe them."
                ),
            ),
        },
    };
    Alias {
        name: alias,
        doc,
        ty,
    }
}

/// The CVars of the app, with the Luau type of their values.
fn cvars(world: &World) -> Vec<(String, &'static str)> {
    let mut cvars: Vec<(String, &'static str)> = world
        .get_resource::<CVarRegistry>()
        .map(|registry| {
            registry
                .iter()
                .map(|(name, cvar)| {
                    let ty = match cvar.default {
                        CVarValue::Bool(_) => "boolean",
                        CVarValue::Int(_) | CVarValue::Float(_) => "number",
                        CVarValue::String(_) => "string",
                    };
                    (name.to_owned(), ty)
                })
                .collect()
        })
        .unwrap_or_default();
    cvars.sort();
    cvars
}

/// Whether the main VM has the shared global `name`; true when there is no VM to ask.
fn installed(world: &World, name: &str) -> bool {
    match world.get_resource::<crate::ScriptEngine>() {
        Some(engine) => engine
            .lua()
            .globals()
            .get::<mlua::Value>(name)
            .is_ok_and(|value| !value.is_nil()),
        None => true,
    }
}

#[cfg(feature = "input")]
fn input_keys(world: &World) -> Option<Vec<&'static str>> {
    installed(world, "input").then(crate::api::input::key_names)
}

#[cfg(not(feature = "input"))]
fn input_keys(_world: &World) -> Option<Vec<&'static str>> {
    None
}

/// A section title.
fn section(out: &mut String, title: &str) {
    let rule = "-".repeat(96usize.saturating_sub(title.len() + 4));
    out.push_str(&format!("-- {title} {rule}\n\n"));
}

/// `text` as `--` comment lines of at most about 96 columns, indented by `indent` spaces.
fn comment(out: &mut String, text: &str, indent: usize) {
    if text.is_empty() {
        return;
    }
    let pad = " ".repeat(indent);
    let mut line = String::new();
    for word in text.split_whitespace() {
        if !line.is_empty() && pad.len() + 3 + line.len() + 1 + word.len() > 96 {
            out.push_str(&format!("{pad}-- {line}\n"));
            line.clear();
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    out.push_str(&format!("{pad}-- {line}\n"));
}

/// A runtime type: `declare extern type Name with ... end`, or a table type in plain syntax.
fn declare_extern(out: &mut String, item: &Extern, syntax: Syntax) {
    comment(out, item.doc, 0);
    match syntax {
        Syntax::Declarations => {
            out.push_str(&format!("declare extern type {} with\n", item.name));
            for (name, ty) in item.properties {
                out.push_str(&format!("    {name}: {ty}\n"));
            }
            for (name, params, ret) in item.methods {
                let params = if params.is_empty() {
                    "self".to_owned()
                } else {
                    format!("self, {params}")
                };
                out.push_str(&format!("    function {name}({params}): {ret}\n"));
            }
            out.push_str("end\n\n");
        }
        Syntax::Plain => {
            let mut fields: Vec<String> = item
                .properties
                .iter()
                .map(|(name, ty)| format!("{name}: {ty}"))
                .collect();
            for (name, params, ret) in item.methods {
                let params = if params.is_empty() {
                    format!("self: {}", item.name)
                } else {
                    format!("self: {}, {params}", item.name)
                };
                fields.push(format!("{name}: ({params}) -> {ret}"));
            }
            out.push_str(&format!(
                "export type {} = {{ {} }}\n\n",
                item.name,
                fields.join(", ")
            ));
        }
    }
}

/// `export type name = ty`, with its doc.
fn alias(out: &mut String, name: &str, doc: &str, ty: &str) {
    comment(out, doc, 0);
    let space = if ty.starts_with('\n') { "" } else { " " };
    out.push_str(&format!("export type {name} ={space}{ty}\n\n"));
}

/// A library: `declare name: { ... }`, or a typed local in plain syntax.
fn declare(out: &mut String, library: &Library, syntax: Syntax) {
    comment(out, &library.doc, 0);
    match syntax {
        Syntax::Declarations => out.push_str(&format!("declare {}: {{\n", library.name)),
        Syntax::Plain => out.push_str(&format!("local {}: {{\n", library.name)),
    }
    for member in &library.members {
        comment(out, &member.doc, 4);
        match member.overloads.as_slice() {
            [only] => out.push_str(&format!("    {}: {only},\n", member.name)),
            overloads => {
                let cases: Vec<String> = overloads.iter().map(|o| format!("({o})")).collect();
                out.push_str(&format!(
                    "    {}: {},\n",
                    member.name,
                    cases.join("\n        & ")
                ));
            }
        }
    }
    match syntax {
        Syntax::Declarations => out.push_str("}\n\n"),
        Syntax::Plain => out.push_str("} = nil :: any\n\n"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ScriptingAppExt;
    use bevy_app::App;
    use bevy_ecs::prelude::*;
    use bevy_reflect::Reflect;
    use serde::{Deserialize, Serialize};

    #[derive(Component, Serialize, Deserialize)]
    struct Health {
        current: f32,
        max: f32,
    }

    #[derive(Component, Reflect, Default)]
    #[reflect(Component)]
    struct Velocity {
        linear: bevy_math::Vec3,
        target: Option<Entity>,
    }

    #[derive(Resource, Reflect, Default)]
    #[reflect(Resource)]
    struct Difficulty {
        level: u8,
    }

    #[derive(Message, Serialize, Deserialize)]
    struct Damage {
        amount: f32,
    }

    /// An app with one type of each kind, built without the plugin.
    fn app() -> App {
        let mut app = App::new();
        app.init_resource::<ScriptRegistry>()
            .register_script_component::<Health>()
            .register_script_message::<Damage>()
            .register_type::<Velocity>()
            .register_type::<Difficulty>();
        app
    }

    #[test]
    fn registered_types_get_aliases_and_overloads() {
        let app = app();
        let out = generate(app.world());
        assert!(out.contains("export type Health = any"), "{out}");
        assert!(
            out.contains("export type Velocity = {\n    linear: vector,\n    target: Entity?,\n}"),
            "{out}"
        );
        assert!(out.contains("export type Difficulty = {\n    level: number,\n}"));
        assert!(out.contains("(name: \"Damage\", payload: Damage) -> ()"));
        assert!(out.contains("(e: Entity | number, name: \"Velocity\") -> Velocity?"));
        assert!(out.contains("(name: \"Difficulty\") -> Difficulty?"));
        assert!(out.contains("    Health: Health?,\n"));
        assert_eq!(out, generate(app.world()), "the output is deterministic");
    }

    #[test]
    fn every_type_expression_compiles_as_plain_luau() {
        let app = app();
        let types = app.world().resource::<AppTypeRegistry>().read();
        for vm in [Vm::Main, Vm::Actor, Vm::Worker] {
            let plain = Definitions::collect(app.world(), Some(&types)).render(Syntax::Plain, vm);
            let lua = mlua::Lua::new();
            if let Err(error) = lua.load(plain.as_str()).into_function() {
                panic!("{error}\n{plain}");
            }
        }
    }

    #[test]
    fn functions_keyed_on_a_name_lead_with_a_case_no_call_matches() {
        let out = generate(app().world());
        assert!(
            out.contains("    get: ((e: Entity | number, name: never) -> any)\n        & ((e: Entity | number, name: \""),
            "{out}"
        );
        assert!(
            out.contains("\n        & ((e: Entity | number, name: \"Health\") -> Health?)"),
            "{out}"
        );
        assert!(
            out.contains("    resource: ((name: never) -> any)\n"),
            "{out}"
        );
        // Setters keep their first case: a call that fits none returns nothing either way.
        assert!(
            out.contains("    set: ((e: Entity | number, name: \""),
            "{out}"
        );
        // With nothing registered there is only the general case.
        let bare = generate(&World::new());
        assert!(
            bare.contains("    get: (e: Entity | number, name: string) -> any,\n"),
            "{bare}"
        );
    }

    #[test]
    fn worker_definitions_hold_what_a_worker_vm_has() {
        let out = generate_workers(app().world());
        for present in [
            "declare extern type Entity with",
            "declare log: {",
            "declare commands: {",
            "declare cvar: {",
            "declare jobs: {",
            "export type Health = any",
        ] {
            assert!(out.contains(present), "{present}\n{out}");
        }
        for absent in [
            "declare ecs",
            "declare time",
            "declare task",
            "declare events",
            "declare hooks",
            "declare console",
            "extern type Job",
            "    on_change: ",
            "    register: ",
            "    run: ",
        ] {
            assert!(!out.contains(absent), "{absent}\n{out}");
        }
    }

    #[test]
    fn actor_definitions_are_the_main_ones_without_callbacks_and_system_functions() {
        let mut app = app();
        app.register_cvar("r_fov", 75.0, "field of view", crate::CVarFlags::default())
            .add_script_function("arena.main_only", |In(()): In<()>| 1.0)
            .add_worker_script_function("arena.anywhere", || 2.0);
        let (main, out) = (generate(app.world()), generate_actors(app.world()));
        for present in [
            "declare extern type Entity with",
            "declare extern type Job with",
            "declare log: {",
            "declare events: {",
            "    emit: ((name: \"Damage\", payload: Damage) -> ())",
            "declare ecs: {",
            "declare commands: {",
            "declare time: {",
            "declare task: {",
            "    synchronize: () -> (),",
            "    desynchronize: () -> (),",
            "    run: (name: string, args: any?) -> Job,",
            "declare cvar: {",
            "    set: ((name: \"r_fov\", value: number) -> ())",
            "    register: (name: string, default: CVarValue, options: CVarOptions?) -> (),",
            "declare console: {",
            "    execute: (line: string) -> (string, boolean),",
            "declare profiler: {",
            "declare arena: {",
            "    anywhere: () -> number,",
            "export type Health = any",
            "export type CVarOptions =",
        ] {
            assert!(out.contains(present), "{present}\n{out}");
            assert!(
                main.contains(present),
                "{present} is not in the main file\n{main}"
            );
        }
        for absent in [
            "declare hooks",
            "extern type Connection",
            "Connection,",
            "    on: ",
            "    on_change: ",
            "    register: (name: string, command:",
            "    main_only: ",
            "    define: ",
        ] {
            assert!(!out.contains(absent), "{absent}\n{out}");
        }
        for only_in_main in [
            "declare hooks",
            "    on: ",
            "    on_change: ",
            "    main_only: ",
        ] {
            assert!(main.contains(only_in_main), "{only_in_main}\n{main}");
        }
    }

    #[test]
    fn only_worker_definitions_lack_the_phases_of_task() {
        let app = app();
        assert!(generate(app.world()).contains("    synchronize: () -> (),"));
        assert!(!generate_workers(app.world()).contains("synchronize"));
    }

    #[test]
    fn a_world_without_the_plugin_still_gets_the_whole_api() {
        let out = generate(&World::new());
        for library in [
            "log", "hooks", "events", "ecs", "commands", "time", "task", "jobs",
        ] {
            assert!(out.contains(&format!("declare {library}: {{")), "{library}");
        }
        assert!(!out.contains("-- Components ---"));
    }
}
