//! The Lua API as Luau types: the runtime types (`Entity`, `Connection`, `Job`), the helper
//! aliases and every library of a script's environment, with overloads for the registered
//! components, resources, messages and CVars.
//!
//! Each signature follows the Rust function behind it in `crate::api`; `tests/typedefs.rs`
//! checks that every global and library function a script sees is declared here.

use crate::function::registration::{FunctionInfo, Reach};
use std::borrow::Cow;

/// What a script's environment holds in this app, beyond the fixed API.
pub(crate) struct Registered {
    /// Components by Lua name, with their Luau alias.
    pub components: Vec<(String, String)>,
    /// Resources by Lua name, with their Luau alias.
    pub resources: Vec<(String, String)>,
    /// Messages by Lua name, with their Luau alias.
    pub messages: Vec<(String, String)>,
    /// CVars by name, with the Luau type of their value.
    pub cvars: Vec<(String, &'static str)>,
    /// Whether the `transform` library is there.
    pub transform: bool,
    /// The key names of the `input` library, when it is there.
    pub input: Option<Vec<&'static str>>,
    /// The game's own functions, in the order registered.
    pub functions: Vec<FunctionInfo>,
}

/// Which VM's scripts a definitions file describes.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Vm {
    /// Global and entity scripts, in the main VM.
    Main,
    /// Actor scripts (entity scripts with `ScriptActor`), in the actor VMs: the main VM's
    /// libraries without the global callbacks and without the game's system functions.
    Actor,
    /// Worker scripts, in the pool's VMs: `log`, `commands`, `cvar.get` and `jobs.define`.
    Worker,
}

impl Vm {
    /// Whether its scripts register global callbacks (`hooks.on_update`, `events.on`,
    /// `cvar.on_change`, `console.register`): the engine dispatches them from the main VM only;
    /// actor scripts have their `on_update` and `on_event` methods instead.
    fn has_callbacks(self) -> bool {
        self == Vm::Main
    }

    /// Whether the game's system functions (`add_script_function`) work in it; elsewhere only
    /// its plain functions (`add_worker_script_function`) do, and the others are stand-ins that
    /// fail.
    fn has_system_functions(self) -> bool {
        self == Vm::Main
    }

    /// Whether it has the world and the libraries around it (`ecs`, `time`, `task`, `jobs.run`,
    /// ...): all but the worker VMs.
    fn has_world(self) -> bool {
        self != Vm::Worker
    }
}

/// An opaque type of the runtime: `declare extern type Name with ... end`.
pub(crate) struct Extern {
    pub name: &'static str,
    pub doc: &'static str,
    /// `(name, type)` of each property.
    pub properties: &'static [(&'static str, &'static str)],
    /// `(name, parameters after self, return type)` of each method.
    pub methods: &'static [(&'static str, &'static str, &'static str)],
}

/// A global table of functions: `declare name: { ... }`.
pub(crate) struct Library {
    pub name: Cow<'static, str>,
    pub doc: Cow<'static, str>,
    pub members: Vec<Member>,
}

/// One function of a library, with its overloads (the last one is the general case).
pub(crate) struct Member {
    pub name: Cow<'static, str>,
    pub doc: Cow<'static, str>,
    pub overloads: Vec<String>,
}

impl Member {
    fn new(name: &'static str, doc: &'static str, signature: &str) -> Self {
        Self {
            name: name.into(),
            doc: doc.into(),
            overloads: vec![signature.to_owned()],
        }
    }

    /// A function with one overload per `(name, alias)` made by `case`, then `general`.
    fn overloaded(
        name: &'static str,
        doc: &'static str,
        types: &[(String, String)],
        case: impl Fn(&str, &str) -> String,
        general: &str,
    ) -> Self {
        let mut overloads: Vec<String> = types
            .iter()
            .map(|(name, alias)| case(&super::types::quote(name), alias))
            .collect();
        overloads.push(general.to_owned());
        Self {
            name: name.into(),
            doc: doc.into(),
            overloads,
        }
    }

    /// [`Member::overloaded`] for a function whose result depends on the name, led by
    /// `unmatched`, a case that no call matches (its name is `never`) and whose result is
    /// `any`. When no case fits a call (an `Entity?` argument, say), luau-lsp reports the call
    /// against its first case and gives the call that case's result. Led by `unmatched`, the
    /// call is still reported, and its result is `any`, not the first component's type, which
    /// would bring misleading errors further on.
    fn getter(
        name: &'static str,
        doc: &'static str,
        types: &[(String, String)],
        case: impl Fn(&str, &str) -> String,
        general: &str,
        unmatched: &str,
    ) -> Self {
        let mut member = Self::overloaded(name, doc, types, case, general);
        if !types.is_empty() {
            member.overloads.insert(0, unmatched.to_owned());
        }
        member
    }
}

/// The runtime types.
pub(crate) const EXTERNS: &[Extern] = &[
    Extern {
        name: "Entity",
        doc: "An entity. At runtime a light userdata: compare entities with ==, use them as \
              table keys; tostring(e) reads \"Entity(5v1)\" and typeof(e) is \"Entity\". \
              Functions that take an entity also take a number holding its exact bits, which \
              is how entity fields of serde types reach Lua. luau-lsp's default type checker \
              compares an Entity only with an Entity (or Entity?): annotate parameters that \
              hold entities (e: Entity), since an unannotated one cannot be compared with it.",
        properties: &[],
        methods: &[],
    },
    Extern {
        name: "Connection",
        doc: "What hooks.on_update, events.on and cvar.on_change return.",
        properties: &[("connected", "boolean")],
        methods: &[("disconnect", "", "()")],
    },
    Extern {
        name: "Job",
        doc: "A job started by jobs.run. ok and result are set once done is true; await \
              works only inside a coroutine (a task) and raises the job's error.",
        properties: &[
            ("id", "number"),
            ("done", "boolean"),
            ("ok", "boolean?"),
            ("result", "any"),
        ],
        methods: &[
            ("await", "", "any"),
            (
                "on_complete",
                "callback: (ok: boolean, result: any) -> ()",
                "()",
            ),
        ],
    },
];

/// The runtime types that `vm`'s libraries use.
pub(crate) fn externs(vm: Vm) -> impl Iterator<Item = &'static Extern> {
    EXTERNS.iter().filter(move |item| match item.name {
        "Connection" => vm.has_callbacks(),
        "Job" => vm.has_world(),
        _ => true,
    })
}

/// The helper aliases of the fixed API that `vm`'s libraries use, `(name, doc, type)`.
pub(crate) fn aliases(
    registered: &Registered,
    vm: Vm,
) -> Vec<(&'static str, &'static str, String)> {
    let value = (
        "CVarValue",
        "The value of a console variable.",
        "boolean | number | string".to_owned(),
    );
    if !vm.has_world() {
        return vec![value];
    }
    let mut aliases = vec![
        value,
        (
            "CVarFlag",
            "A CVar flag for cvar.register.",
            "\"archive\" | \"read_only\" | \"cheat\"".to_owned(),
        ),
        (
            "CVarOptions",
            "The options of cvar.register. flags is a list of CVarFlag names, or one string, \
             \"archive|cheat\"; an unknown name is an error when the CVar is registered. {string} \
             is there because luau-lsp reads a table literal such as { \"archive\" } as a {string}. \
             type tells an int CVar from a float one where the default is a whole number.",
            "{\n    description: string?,\n    flags: ({string} | {CVarFlag} | string)?,\n    min: number?,\n    max: number?,\n    type: (\"int\" | \"float\")?,\n}"
                .to_owned(),
        ),
        (
            "LogLevel",
            "A level for console.log.",
            "\"debug\" | \"info\" | \"warn\" | \"error\"".to_owned(),
        ),
        (
            "ScriptStats",
            "One script in profiler.scripts(). memory is in bytes, nil past Luau's memory categories.",
            "{\n    path: string,\n    frame_ms: number,\n    peak_ms: number,\n    calls: number,\n    memory: number?,\n    errors: number,\n}"
                .to_owned(),
        ),
        (
            "StepStats",
            "What profiler.step() returns.",
            "{\n    mean_ms: number,\n    peak_ms: number,\n    memory: number,\n    queued_jobs: number,\n}"
                .to_owned(),
        ),
    ];
    if let Some(keys) = &registered.input {
        let names: Vec<String> = keys.iter().map(|k| super::types::quote(k)).collect();
        let keys = if names.is_empty() {
            "string".to_owned()
        } else {
            // A couple of hundred names: one line each would be long, one line too long.
            let mut lines = vec![String::new()];
            for name in names {
                let line = lines.last_mut().filter(|l| l.len() + name.len() < 88);
                match line {
                    Some(line) if !line.is_empty() => line.push_str(&format!(" | {name}")),
                    Some(line) => line.push_str(&name),
                    None => lines.push(name),
                }
            }
            format!("\n    {}", lines.join(" |\n    "))
        };
        aliases.push((
            "KeyCode",
            "A key for the input library, named like Bevy's KeyCode variants.",
            keys,
        ));
        aliases.push((
            "MouseButton",
            "A mouse button for input.mouse_down.",
            "\"Left\" | \"Right\" | \"Middle\" | \"Back\" | \"Forward\"".to_owned(),
        ));
    }
    aliases
}

/// The names the fixed API takes, which registered types must not get as aliases.
pub(crate) const TAKEN: &[&str] = &[
    "Entity",
    "Connection",
    "Job",
    "CVarValue",
    "CVarFlag",
    "CVarOptions",
    "LogLevel",
    "ScriptStats",
    "StepStats",
    "KeyCode",
    "MouseButton",
    "Components",
];

/// The `Components` alias: what `ecs.spawn` and `commands.spawn` take.
pub(crate) fn components_table(registered: &Registered) -> String {
    let mut fields: Vec<String> = registered
        .components
        .iter()
        .filter(|(name, _)| name != "Name" && name != "Script")
        .map(|(name, alias)| format!("    {}: {alias}?,\n", super::types::key(name)))
        .collect();
    fields.push("    Name: string?,\n".to_owned());
    fields.push("    Script: string?,\n".to_owned());
    fields.sort();
    format!("{{\n{}    [string]: any,\n}}", fields.concat())
}

/// An entity parameter: an entity, or a number holding its bits.
const E: &str = "e: Entity | number";

/// The libraries of `vm`'s scripts, in the order they are declared.
pub(crate) fn libraries(registered: &Registered, vm: Vm) -> Vec<Library> {
    let mut libraries = crate_libraries(registered, vm);
    libraries.extend(game_libraries(&registered.functions, vm));
    libraries
}

/// The libraries the game gave its scripts: in worker and actor VMs, its plain functions only.
fn game_libraries(functions: &[FunctionInfo], vm: Vm) -> Vec<Library> {
    let mut libraries: Vec<Library> = Vec::new();
    let reached = functions
        .iter()
        .filter(|info| vm.has_system_functions() || info.reach == Reach::Every);
    for info in reached {
        let member = Member {
            name: info.function().into(),
            doc: info.doc.clone().into(),
            overloads: vec![info.luau_type()],
        };
        match libraries.iter_mut().find(|l| l.name == info.library()) {
            Some(library) => library.members.push(member),
            None => libraries.push(Library {
                name: info.library().into(),
                doc: "The game's own functions.".into(),
                members: vec![member],
            }),
        }
    }
    libraries
}

/// The crate's libraries of `vm`'s scripts.
fn crate_libraries(registered: &Registered, vm: Vm) -> Vec<Library> {
    if !vm.has_world() {
        return vec![log(), commands(registered), cvar(registered, vm), jobs(vm)];
    }
    let mut libraries = vec![log()];
    if vm.has_callbacks() {
        libraries.push(hooks());
    }
    libraries.extend([
        events(registered, vm),
        ecs(registered),
        commands(registered),
    ]);
    if registered.transform {
        libraries.push(transform());
    }
    libraries.extend([
        time(),
        task(),
        jobs(vm),
        cvar(registered, vm),
        console(vm),
        profiler(),
    ]);
    if registered.input.is_some() {
        libraries.push(input());
    }
    libraries
}

fn log() -> Library {
    let member = |name, doc| Member::new(name, doc, "(...any) -> ()");
    Library {
        name: "log".into(),
        doc: "Logs through tracing, tagged with the script's path; print is log.info.".into(),
        members: vec![
            member("debug", "Logs at debug level."),
            member("info", "Logs at info level, as print does."),
            member("warn", "Logs at warn level."),
            member("error", "Logs at error level; the script goes on."),
        ],
    }
}

fn hooks() -> Library {
    Library {
        name: "hooks".into(),
        doc: "Per-frame callbacks of global scripts.".into(),
        members: vec![Member::new(
            "on_update",
            "Runs callback every frame, with the frame time in seconds.",
            "(callback: (dt: number) -> ()) -> Connection",
        )],
    }
}

fn events(registered: &Registered, vm: Vm) -> Library {
    let mut members = vec![Member::overloaded(
        "emit",
        "Writes a ScriptEvent, or the registered message of that name.",
        &registered.messages,
        |name, alias| format!("(name: {name}, payload: {alias}) -> ()"),
        "(name: string, payload: any?) -> ()",
    )];
    if vm.has_callbacks() {
        members.push(Member::overloaded(
            "on",
            "Runs handler for each such event. A handler that returns true consumes the event; \
             any other result, or none, leaves it to the next handler.",
            &registered.messages,
            |name, alias| {
                format!("(name: {name}, handler: (payload: {alias}) -> ...any) -> Connection")
            },
            "(name: string, handler: (payload: any) -> ...any) -> Connection",
        ));
    }
    Library {
        name: "events".into(),
        doc: "Named events between scripts and Rust; registered messages by their type name."
            .into(),
        members,
    }
}

fn ecs(registered: &Registered) -> Library {
    let (components, resources) = (&registered.components, &registered.resources);
    Library {
        name: "ecs".into(),
        doc: "Entities, components and resources of the world, by short type name. Not in worker \
              VMs."
            .into(),
        members: vec![
            Member::new(
                "spawn",
                "Spawns an entity with components; Name and Script are shorthands.",
                "(components: Components?) -> Entity",
            ),
            Member::new(
                "despawn",
                "Despawns the entity now, running its on_despawn.",
                &format!("({E}) -> ()"),
            ),
            Member::new(
                "exists",
                "Whether the entity is alive.",
                &format!("({E}) -> boolean"),
            ),
            Member::getter(
                "get",
                "The component, or nil when the entity has none.",
                components,
                |name, alias| format!("({E}, name: {name}) -> {alias}?"),
                &format!("({E}, name: string) -> any"),
                &format!("({E}, name: never) -> any"),
            ),
            Member::overloaded(
                "set",
                "Inserts or replaces the whole component.",
                components,
                |name, alias| format!("({E}, name: {name}, value: {alias}) -> ()"),
                &format!("({E}, name: string, value: any) -> ()"),
            ),
            Member::new(
                "has",
                "Whether the entity has the component.",
                &format!("({E}, name: string) -> boolean"),
            ),
            Member::getter(
                "ref",
                "A live reference to a reflected component, or nil when the entity has none: \
                 reads and writes go to the component itself (nested struct fields are \
                 references too). Declared as the component's type, whose fields it has.",
                components,
                |name, alias| format!("({E}, name: {name}) -> {alias}?"),
                &format!("({E}, name: string) -> any"),
                &format!("({E}, name: never) -> any"),
            ),
            Member::new(
                "value",
                "The plain value a reference stands for, as ecs.get gives it.",
                "<T>(reference: T) -> T",
            ),
            Member::getter(
                "each",
                "Loops over the entities that have all the named components, yielding the \
                 entity and a reference to each component (the value, for serde components). \
                 The first component is typed by its name.",
                components,
                |name, alias| {
                    format!("(name: {name}, ...string) -> () -> (Entity, {alias}, ...any)")
                },
                "(...string) -> () -> (Entity, ...any)",
                "(name: never, ...string) -> () -> (Entity, ...any)",
            ),
            Member::new(
                "remove",
                "Removes the component; returns whether the entity had it.",
                &format!("({E}, name: string) -> boolean"),
            ),
            Member::new(
                "query",
                "The entities that have all the named components.",
                "(...string) -> {Entity}",
            ),
            Member::new(
                "find",
                "The entity with this Name.",
                "(name: string) -> Entity?",
            ),
            Member::new(
                "name",
                "The entity's Name, or nil.",
                &format!("({E}) -> string?"),
            ),
            Member::new(
                "set_name",
                "Gives the entity a Name, replacing its old one.",
                &format!("({E}, name: string) -> ()"),
            ),
            Member::getter(
                "resource",
                "The resource, or nil when the world has none.",
                resources,
                |name, alias| format!("(name: {name}) -> {alias}?"),
                "(name: string) -> any",
                "(name: never) -> any",
            ),
            Member::overloaded(
                "set_resource",
                "Replaces the resource (a reflected one must exist already).",
                resources,
                |name, alias| format!("(name: {name}, value: {alias}) -> ()"),
                "(name: string, value: any) -> ()",
            ),
        ],
    }
}

fn commands(registered: &Registered) -> Library {
    Library {
        name: "commands".into(),
        doc: "World changes deferred to the end of the scripting step, in order. Worker VMs too."
            .into(),
        members: vec![
            Member::new(
                "spawn",
                "Spawns an entity with components at the end of the step.",
                "(components: Components?) -> ()",
            ),
            Member::overloaded(
                "set",
                "Inserts or replaces the component at the end of the step.",
                &registered.components,
                |name, alias| format!("({E}, name: {name}, value: {alias}) -> ()"),
                &format!("({E}, name: string, value: any) -> ()"),
            ),
            Member::new(
                "remove",
                "Removes the component at the end of the step.",
                &format!("({E}, name: string) -> ()"),
            ),
            Member::new(
                "despawn",
                "Despawns the entity at the end of the step.",
                &format!("({E}) -> ()"),
            ),
            Member::overloaded(
                "emit",
                "Emits the event or registered message at the end of the step.",
                &registered.messages,
                |name, alias| format!("(name: {name}, payload: {alias}) -> ()"),
                "(name: string, payload: any?) -> ()",
            ),
        ],
    }
}

fn transform() -> Library {
    let get = |name, doc| Member::new(name, doc, &format!("({E}) -> vector"));
    let set = |name, doc| Member::new(name, doc, &format!("({E}, v: vector) -> ()"));
    Library {
        name: "transform".into(),
        doc: "An entity's local Transform. Rotations are Euler angles in radians: vector(pitch, yaw, roll).".into(),
        members: vec![
            get("position", "The translation."),
            set("set_position", "Sets the translation."),
            set("translate", "Moves by the vector."),
            get("rotation", "The rotation as Euler angles."),
            set("set_rotation", "Sets the rotation from Euler angles."),
            set("rotate", "Turns by the delta rotation, in local space."),
            get("scale", "The scale."),
            set("set_scale", "Sets the scale."),
            Member::new(
                "look_at",
                "Turns forward (-Z) towards a point or an entity; up defaults to +Y.",
                &format!("({E}, target: vector | Entity | number, up: vector?) -> ()"),
            ),
            get("forward", "The local -Z axis, in world orientation."),
            get("right", "The local +X axis."),
            get("up", "The local +Y axis."),
        ],
    }
}

fn time() -> Library {
    let member = |name, doc| Member::new(name, doc, "() -> number");
    Library {
        name: "time".into(),
        doc: "The frame's time. Not in worker VMs.".into(),
        members: vec![
            member("delta", "Seconds since the previous frame."),
            member("elapsed", "Seconds since the app started."),
            member("frame", "Scripting steps run so far, this one included."),
        ],
    }
}

fn task() -> Library {
    let start = "<A...>(f: thread | ((A...) -> ...any), A...) -> thread";
    Library {
        name: "task".into(),
        doc: "Coroutines across frames, in game time, and an actor script's moves between the \
              parallel phase and the serial part of the step. Not in worker VMs."
            .into(),
        members: vec![
            Member::new("spawn", "Runs f(...) in a new coroutine now.", start),
            Member::new(
                "defer",
                "Runs f(...) at the end of this scripting step.",
                start,
            ),
            Member::new(
                "delay",
                "Runs f(...) once that many seconds have passed.",
                "<A...>(seconds: number?, f: thread | ((A...) -> ...any), A...) -> thread",
            ),
            Member::new(
                "wait",
                "Inside a coroutine: sleeps until the next step, or that many seconds; returns the time slept.",
                "(seconds: number?) -> number",
            ),
            Member::new(
                "cancel",
                "Stops a coroutine that task started.",
                "(thread: thread) -> ()",
            ),
            Member::new(
                "synchronize",
                "An actor script in the parallel phase: suspends the coroutine (an actor's \
                 on_update runs as one) until the serial part of this step. Returns at once in \
                 the serial part and outside actor scripts, where everything is serial.",
                "() -> ()",
            ),
            Member::new(
                "desynchronize",
                "An actor script in the serial part: suspends the coroutine until the next \
                 parallel phase. Returns at once in the parallel phase; an error outside actor \
                 scripts.",
                "() -> ()",
            ),
        ],
    }
}

fn jobs(vm: Vm) -> Library {
    match vm {
        Vm::Main | Vm::Actor => Library {
            name: "jobs".into(),
            doc: "Work for the worker pool, defined by worker scripts.".into(),
            members: vec![Member::new(
                "run",
                "Starts the job on a worker; args is copied across.",
                "(name: string, args: any?) -> Job",
            )],
        },
        Vm::Worker => Library {
            name: "jobs".into(),
            doc: "The jobs this worker script offers to jobs.run.".into(),
            members: vec![Member::new(
                "define",
                "job gets the copied args; what it returns is the job's result.",
                "(name: string, job: (args: any) -> ...any) -> ()",
            )],
        },
    }
}

fn cvar(registered: &Registered, vm: Vm) -> Library {
    let cvars: Vec<(String, String)> = registered
        .cvars
        .iter()
        .map(|(name, ty)| (name.clone(), (*ty).to_owned()))
        .collect();
    let get = Member::getter(
        "get",
        "The value, or nil for a name that is not registered.",
        &cvars,
        |name, ty| format!("(name: {name}) -> {ty}"),
        "(name: string) -> CVarValue?",
        "(name: never) -> any",
    );
    if !vm.has_world() {
        return Library {
            name: "cvar".into(),
            doc: "Console variables, read from a copy the main thread keeps current.".into(),
            members: vec![get],
        };
    }
    let mut members = vec![
        get,
        Member::overloaded(
            "set",
            "Type and range checked; an error keeps the old value.",
            &cvars,
            |name, ty| format!("(name: {name}, value: {ty}) -> ()"),
            "(name: string, value: CVarValue) -> ()",
        ),
        Member::new(
            "register",
            "Registers a CVar; its type is the default's.",
            "(name: string, default: CVarValue, options: CVarOptions?) -> ()",
        ),
    ];
    if vm.has_callbacks() {
        members.push(Member::overloaded(
            "on_change",
            "handler may also name a global function of the script.",
            &cvars,
            |name, ty| {
                format!(
                    "(name: {name}, handler: ((name: string, old: {ty}, new: {ty}) -> ()) | string) -> Connection"
                )
            },
            "(name: string, handler: ((name: string, old: CVarValue, new: CVarValue) -> ()) | string) -> Connection",
        ));
    }
    Library {
        name: "cvar".into(),
        doc: "Console variables.".into(),
        members,
    }
}

fn console(vm: Vm) -> Library {
    let mut members = vec![Member::new(
        "execute",
        "Runs a console line; returns its output and whether it succeeded.",
        "(line: string) -> (string, boolean)",
    )];
    if vm.has_callbacks() {
        members.push(Member::new(
            "register",
            "Adds a command; what it returns is its output.",
            "(name: string, command: (args: {string}) -> ...any, help: string?) -> ()",
        ));
    }
    members.push(Member::new(
        "log",
        "Writes a line to the console's log.",
        "(level: LogLevel, message: string) -> ()",
    ));
    Library {
        name: "console".into(),
        doc: "The game console.".into(),
        members,
    }
}

fn profiler() -> Library {
    Library {
        name: "profiler".into(),
        doc: "What the scripts cost, as of the end of the previous step. Not in worker VMs.".into(),
        members: vec![
            Member::new(
                "scripts",
                "Every script, the most expensive per frame first: means and peaks over the last second.",
                "() -> {ScriptStats}",
            ),
            Member::new(
                "step",
                "The scripting step over the last second, the main VM's bytes and the jobs not yet done.",
                "() -> StepStats",
            ),
        ],
    }
}

fn input() -> Library {
    let key = |name, doc| Member::new(name, doc, "(key: KeyCode) -> boolean");
    Library {
        name: "input".into(),
        doc: "The keyboard and mouse state of the frame.".into(),
        members: vec![
            key("key_down", "Held down this frame."),
            key("key_pressed", "Went down this frame."),
            key("key_released", "Went up this frame."),
            Member::new(
                "mouse_down",
                "Whether the button is held down.",
                "(button: MouseButton) -> boolean",
            ),
            Member::new(
                "mouse_position",
                "vector(x, y, 0) in logical pixels of the primary window, or nil.",
                "() -> vector?",
            ),
        ],
    }
}
