//! What the fuzz targets run, shared with `tests/fuzz_corpus.rs`, which replays the checked-in
//! seeds (`fuzz/seeds/`) through the same functions in every `cargo test`.
//!
//! Each function takes one input and checks invariants, not only the absence of a crash; a
//! broken invariant panics, which libFuzzer reports as a finding.
//! - [`run_source`]: arbitrary Luau source, run as a global script and as an entity script in a
//!   headless app with the default sandbox and limits, for a few frames of game time. One app
//!   serves every input and is reset between them (`source.rs`).
//! - [`run_calls`]: a sequence of library calls with arbitrary arguments, mostly well formed,
//!   written out as a script, against entities spawned and despawned along the way.
//! - [`script_value`]: `ScriptValue` through Lua and back, and through its serde forms.
//! - [`files`]: `game.toml`, the CVar file and console lines.
//!
//! Besides what [`check`] asserts after each input, every frame of `run_source` and `run_calls`
//! is held to a time bound and each input to a bound on the Rust memory it makes (`watch.rs`),
//! counted by a counting global allocator (`memory.rs`) that the fuzz binaries and the replay
//! test install.

#![allow(
    dead_code,
    reason = "each target and the replay test use a different part"
)]

use arbitrary::{Arbitrary, Unstructured};
use bevy_app::{App, TaskPoolPlugin, Update};
use bevy_asset::io::memory::{Dir, MemoryAssetReader};
use bevy_asset::io::{AssetSourceBuilder, ErasedAssetReader};
use bevy_asset::{AssetApp, AssetPlugin};
use bevy_ecs::prelude::*;
use bevy_luau::prelude::*;
use bevy_reflect::Reflect;
use bevy_time::{TimePlugin, TimeUpdateStrategy};
use std::path::Path;
use std::time::{Duration, Instant};
use watch::Watch;

pub mod memory;
mod source;
pub mod watch;

pub use source::run_source;

/// The longest a script's first version may take to load or fail, in wall time.
const LOAD_PATIENCE: Duration = Duration::from_secs(10);

/// Frames of game time each input runs after its scripts load: 0.1 s each.
const FRAMES: usize = 8;

/// The script errors and loads seen.
#[derive(Resource, Default)]
struct Seen {
    errors: Vec<ScriptError>,
    loaded: Vec<ScriptLoaded>,
}

fn record(
    mut errors: MessageReader<ScriptError>,
    mut loaded: MessageReader<ScriptLoaded>,
    mut seen: ResMut<Seen>,
) {
    seen.errors.extend(errors.read().cloned());
    seen.loaded.extend(loaded.read().cloned());
}

/// A headless app with the plugin's defaults whose asset source `fuzz://` serves `files`.
fn app(files: &[(&str, &str)]) -> App {
    let dir = Dir::default();
    for (path, text) in files {
        dir.insert_asset_text(Path::new(path), text);
    }
    let mut app = App::new();
    app.register_asset_source(
        "fuzz",
        AssetSourceBuilder::new(move || {
            Box::new(MemoryAssetReader { root: dir.clone() }) as Box<dyn ErasedAssetReader>
        }),
    );
    app.add_plugins((
        TaskPoolPlugin::default(),
        TimePlugin,
        AssetPlugin::default(),
        LuauScriptingPlugin,
    ))
    .insert_resource(TimeUpdateStrategy::ManualDuration(Duration::from_millis(
        100,
    )))
    .init_resource::<Seen>()
    .register_type::<Wide>()
    .add_systems(Update, record.after(ScriptingSystem));
    app.finish();
    app.cleanup();
    app
}

/// Runs `app` until `settled` scripts have loaded or failed, then [`FRAMES`] more frames.
fn run(app: &mut App, settled: usize, watch: &mut Watch) {
    let started = Instant::now();
    loop {
        watch.update(app);
        let seen = app.world().resource::<Seen>();
        let mut paths: Vec<&str> = seen.loaded.iter().map(|l| l.path.as_str()).collect();
        paths.extend(seen.errors.iter().map(|e| e.script.as_str()));
        paths.sort_unstable();
        paths.dedup();
        if paths.len() >= settled {
            break;
        }
        assert!(
            started.elapsed() < LOAD_PATIENCE,
            "scripts neither loaded nor failed: {:?}",
            seen.errors
        );
        std::thread::sleep(Duration::from_millis(1));
    }
    for _ in 0..FRAMES {
        watch.update(app);
    }
}

/// What must hold after any input: the app still runs, the main VM answers, no error lost its
/// script, every worker VM is back in the pool, and once every scripted entity is despawned no
/// entity script instance is left behind.
fn check(app: &mut App, watch: &mut Watch) {
    watch.update(app);
    let answer = Console::execute(app.world_mut(), "lua 1 + 1");
    assert_eq!(answer.as_deref(), Ok("2"), "the main VM no longer answers");
    for error in &app.world().resource::<Seen>().errors {
        assert!(
            !error.script.is_empty(),
            "an error without a source: {error:?}"
        );
        assert!(
            !error.message.is_empty(),
            "an error without a message: {error:?}"
        );
    }
    let pool = app.world().resource::<StatePool>().clone();
    let started = Instant::now();
    while pool.idle() < pool.size() {
        assert!(
            started.elapsed() < LOAD_PATIENCE,
            "a worker VM was never returned: {} of {} idle",
            pool.idle(),
            pool.size()
        );
        watch.update(app);
        std::thread::sleep(Duration::from_millis(1));
    }
    // An `on_despawn` may spawn scripted entities of its own: a few rounds.
    for _ in 0..4 {
        let scripted: Vec<Entity> = app
            .world_mut()
            .query_filtered::<Entity, With<Script>>()
            .iter(app.world())
            .collect();
        if scripted.is_empty() {
            break;
        }
        for entity in scripted {
            app.world_mut().despawn(entity);
        }
        watch.update(app);
    }
    let left = app
        .world_mut()
        .query_filtered::<(), With<Script>>()
        .iter(app.world())
        .count();
    let instances = app
        .world()
        .resource::<ScriptEngine>()
        .entity_script_instances();
    assert_eq!(
        instances, left,
        "entity script instances outlived their entities"
    );
}

/// A value a call is given.
#[derive(Debug, Arbitrary)]
enum Arg {
    Nil,
    Bool(bool),
    Number(f64),
    Small(i8),
    Text(String),
    Vector(f32, f32, f32),
    /// One of the entities made so far, by index (wrapping).
    Entity(u8),
    /// A component-shaped table: `{current = a, max = b}`.
    Health(f32, f32),
    List(Vec<Arg>),
}

/// A component or resource name: mostly known ones.
#[derive(Debug, Arbitrary)]
enum Name {
    Health,
    Transform,
    /// Bevy's `Name`.
    Label,
    Time,
    Unknown(String),
}

/// One library call.
#[derive(Debug, Arbitrary)]
enum Call {
    Spawn,
    SpawnWith(Name, Arg),
    Despawn(u8),
    Exists(Arg),
    Get(Arg, Name),
    Set(Arg, Name, Arg),
    Has(Arg, Name),
    Remove(Arg, Name),
    Ref(Arg, Name, String, Arg),
    Each(Name, Name),
    Query(Name),
    Find(String),
    SetName(Arg, String),
    Resource(Name),
    SetResource(Name, Arg),
    Position(Arg),
    SetPosition(Arg, Arg),
    Translate(Arg, Arg),
    Rotate(Arg, Arg),
    LookAt(Arg, Arg, Arg),
    Forward(Arg),
    Emit(String, Arg),
    On(String),
    TaskDelay(Arg),
    TaskWait(Arg),
    TaskDefer,
    CancelLast,
    Jobs(String, Arg),
    CvarGet(String),
    CvarSet(String, Arg),
    CvarRegister(String, Arg),
    Console(String),
    CommandsSpawn,
    CommandsDespawn(u8),
    CommandsSet(Arg, Name, Arg),
    Time,
    Error(String),
}

fn name(name: &Name) -> String {
    match name {
        Name::Health => "\"Health\"".to_owned(),
        Name::Transform => "\"Transform\"".to_owned(),
        Name::Label => "\"Name\"".to_owned(),
        Name::Time => "\"Time\"".to_owned(),
        Name::Unknown(text) => lua_string(text),
    }
}

/// A Lua string literal of `text`, byte by byte.
fn lua_string(text: &str) -> String {
    let mut out = String::from("\"");
    for byte in text.bytes().take(64) {
        out.push_str(&format!("\\{byte}"));
    }
    out.push('"');
    out
}

fn number(n: f64) -> String {
    if n.is_nan() {
        "(0/0)".to_owned()
    } else if n.is_infinite() {
        if n > 0.0 { "math.huge" } else { "-math.huge" }.to_owned()
    } else {
        format!("({n:?})")
    }
}

fn arg(value: &Arg, depth: usize) -> String {
    match value {
        Arg::Nil => "nil".to_owned(),
        Arg::Bool(b) => b.to_string(),
        Arg::Number(n) => number(*n),
        Arg::Small(n) => n.to_string(),
        Arg::Text(text) => lua_string(text),
        Arg::Vector(x, y, z) => format!(
            "vector.create({}, {}, {})",
            number(f64::from(*x)),
            number(f64::from(*y)),
            number(f64::from(*z))
        ),
        Arg::Entity(i) => format!("E({i})"),
        Arg::Health(current, max) => format!(
            "{{current = {}, max = {}}}",
            number(f64::from(*current)),
            number(f64::from(*max))
        ),
        Arg::List(items) if depth < 4 => {
            let items: Vec<String> = items.iter().take(8).map(|a| arg(a, depth + 1)).collect();
            format!("{{{}}}", items.join(", "))
        }
        Arg::List(_) => "{}".to_owned(),
    }
}

/// The Lua statement of one call, protected so one failing call does not stop the rest.
fn statement(call: &Call) -> String {
    let body = match call {
        Call::Spawn => "table.insert(made, ecs.spawn())".to_owned(),
        Call::SpawnWith(n, a) => format!(
            "table.insert(made, ecs.spawn({{[{}] = {}}}))",
            name(n),
            arg(a, 0)
        ),
        Call::Despawn(i) => format!("ecs.despawn(E({i}))"),
        Call::Exists(a) => format!("ecs.exists({})", arg(a, 0)),
        Call::Get(a, n) => format!("ecs.get({}, {})", arg(a, 0), name(n)),
        Call::Set(a, n, v) => format!("ecs.set({}, {}, {})", arg(a, 0), name(n), arg(v, 0)),
        Call::Has(a, n) => format!("ecs.has({}, {})", arg(a, 0), name(n)),
        Call::Remove(a, n) => format!("ecs.remove({}, {})", arg(a, 0), name(n)),
        Call::Ref(a, n, field, v) => format!(
            "local r = ecs.ref({}, {}); if r then r[{}] = {}; local _ = r[{}] end",
            arg(a, 0),
            name(n),
            lua_string(field),
            arg(v, 0),
            lua_string(field)
        ),
        Call::Each(a, b) => format!(
            "for e, x, y in ecs.each({}, {}) do local _ = ecs.value(x); if ecs.exists(e) then ecs.despawn(e) end end",
            name(a),
            name(b)
        ),
        Call::Query(n) => format!("local _ = #ecs.query({})", name(n)),
        Call::Find(text) => format!("ecs.find({})", lua_string(text)),
        Call::SetName(a, text) => format!("ecs.set_name({}, {})", arg(a, 0), lua_string(text)),
        Call::Resource(n) => format!("ecs.resource({})", name(n)),
        Call::SetResource(n, v) => format!("ecs.set_resource({}, {})", name(n), arg(v, 0)),
        Call::Position(a) => format!("transform.position({})", arg(a, 0)),
        Call::SetPosition(a, v) => format!("transform.set_position({}, {})", arg(a, 0), arg(v, 0)),
        Call::Translate(a, v) => format!("transform.translate({}, {})", arg(a, 0), arg(v, 0)),
        Call::Rotate(a, v) => format!("transform.rotate({}, {})", arg(a, 0), arg(v, 0)),
        Call::LookAt(a, t, up) => {
            format!(
                "transform.look_at({}, {}, {})",
                arg(a, 0),
                arg(t, 0),
                arg(up, 0)
            )
        }
        Call::Forward(a) => format!("transform.forward({})", arg(a, 0)),
        Call::Emit(text, v) => format!("events.emit({}, {})", lua_string(text), arg(v, 0)),
        Call::On(text) => format!(
            "events.on({}, function(p) table.insert(made, ecs.spawn()) return p == nil end)",
            lua_string(text)
        ),
        Call::TaskDelay(a) => format!(
            "table.insert(threads, task.delay({}, function() ecs.despawn(E(0)) end))",
            arg(a, 0)
        ),
        Call::TaskWait(a) => format!(
            "table.insert(threads, task.spawn(function() task.wait({}); table.insert(made, ecs.spawn()) end))",
            arg(a, 0)
        ),
        Call::TaskDefer => "task.defer(function() commands.spawn() end)".to_owned(),
        Call::CancelLast => "if #threads > 0 then task.cancel(threads[#threads]) end".to_owned(),
        Call::Jobs(text, a) => format!(
            "jobs.run({}, {}):on_complete(function(ok, r) end)",
            lua_string(text),
            arg(a, 0)
        ),
        Call::CvarGet(text) => format!("cvar.get({})", lua_string(text)),
        Call::CvarSet(text, a) => format!("cvar.set({}, {})", lua_string(text), arg(a, 0)),
        Call::CvarRegister(text, a) => {
            format!("cvar.register({}, {})", lua_string(text), arg(a, 0))
        }
        Call::Console(line) => format!("console.execute({})", lua_string(line)),
        Call::CommandsSpawn => "commands.spawn()".to_owned(),
        Call::CommandsDespawn(i) => format!("commands.despawn(E({i}))"),
        Call::CommandsSet(a, n, v) => {
            format!("commands.set({}, {}, {})", arg(a, 0), name(n), arg(v, 0))
        }
        Call::Time => "local _ = time.delta() + time.elapsed() + time.frame()".to_owned(),
        Call::Error(text) => format!("error({})", lua_string(text)),
    };
    format!("pcall(function() {body} end)\n")
}

/// The script a sequence of calls makes: every call runs once at load and once a frame.
fn calls_script(calls: &[Call]) -> String {
    let mut source = String::from(
        "made = {}\nthreads = {}\nlocal function E(i)\n    if #made == 0 then return ecs.spawn() end\n    return made[i % #made + 1]\nend\nlocal function all()\n",
    );
    for call in calls.iter().take(64) {
        source.push_str("    ");
        source.push_str(&statement(call));
    }
    source.push_str("end\nall()\nhooks.on_update(function() all() end)\n");
    source
}

/// The worker script every `run_calls` app has, so some jobs exist.
const WORKER: &str = r#"
jobs.define("echo", function(args) return args end)
jobs.define("fail", function() error("failed on purpose") end)
"#;

/// A sequence of library calls with arbitrary arguments.
pub fn run_calls(data: &[u8]) {
    let mut input = Unstructured::new(data);
    let Ok(calls) = Vec::<Call>::arbitrary(&mut input) else {
        return;
    };
    let source = calls_script(&calls);
    // The app is made inside the window: its making is part of what the bound allows.
    let mut watch = Watch::start();
    let mut app = app(&[("calls.luau", &source), ("worker.luau", WORKER)]);
    app.register_script_component::<Health>()
        .add_worker_script("fuzz://worker.luau")
        .add_script("fuzz://calls.luau");
    watch.limits_of(&app);
    run(&mut app, 1, &mut watch);
    check(&mut app, &mut watch);
    watch.check_memory();
}

/// A serde component for the calls to reach.
#[derive(Component, serde::Serialize, serde::Deserialize)]
pub struct Health {
    current: f32,
    max: f32,
}

/// A reflected component with 64-bit fields, for scripts to write at and past their bounds.
#[derive(Component, Reflect, Default)]
#[reflect(Component)]
pub struct Wide {
    n: u64,
    m: i64,
    low: i64,
}

/// A `ScriptValue` as arbitrary data: the crate's type has no `Arbitrary`.
#[derive(Debug, Arbitrary)]
enum Value {
    Nil,
    Bool(bool),
    Number(f64),
    String(String),
    Vector(f32, f32, f32),
    Entity(u64),
    List(Vec<Value>),
    Map(Vec<(String, Value)>),
}

fn to_script_value(value: &Value, depth: usize) -> ScriptValue {
    match value {
        Value::Nil => ScriptValue::Nil,
        Value::Bool(b) => ScriptValue::Bool(*b),
        Value::Number(n) => ScriptValue::Number(*n),
        Value::String(s) => ScriptValue::String(s.clone()),
        Value::Vector(x, y, z) => ScriptValue::Vector(bevy_math::Vec3::new(*x, *y, *z)),
        Value::Entity(bits) => {
            Entity::try_from_bits(*bits).map_or(ScriptValue::Nil, ScriptValue::Entity)
        }
        Value::List(items) if depth < 8 => ScriptValue::List(
            items
                .iter()
                .map(|v| to_script_value(v, depth + 1))
                .collect(),
        ),
        Value::Map(entries) if depth < 8 => ScriptValue::Map(
            entries
                .iter()
                .map(|(k, v)| (k.clone(), to_script_value(v, depth + 1)))
                .collect(),
        ),
        Value::List(_) | Value::Map(_) => ScriptValue::Nil,
    }
}

/// What a value should come back as from Lua: `nil`s in a map vanish, and a list with a `nil`
/// in it has holes, so what it comes back as is not checked (`None`).
fn normalized(value: &ScriptValue) -> Option<ScriptValue> {
    Some(match value {
        ScriptValue::List(items) => {
            if items.iter().any(ScriptValue::is_nil) {
                return None;
            }
            ScriptValue::List(items.iter().map(normalized).collect::<Option<_>>()?)
        }
        ScriptValue::Map(entries) => {
            let kept: std::collections::BTreeMap<String, ScriptValue> = entries
                .iter()
                .filter(|(_, v)| !v.is_nil())
                .map(|(k, v)| normalized(v).map(|v| (k.clone(), v)))
                .collect::<Option<_>>()?;
            ScriptValue::Map(kept)
        }
        other => other.clone(),
    })
}

/// Whether `a` and `b` are equal, NaN equal to NaN and vectors compared bit for bit.
fn same(a: &ScriptValue, b: &ScriptValue) -> bool {
    match (a, b) {
        (ScriptValue::Number(x), ScriptValue::Number(y)) => (x.is_nan() && y.is_nan()) || x == y,
        (ScriptValue::Vector(x), ScriptValue::Vector(y)) => x
            .to_array()
            .iter()
            .zip(y.to_array())
            .all(|(p, q)| p.to_bits() == q.to_bits() || (p.is_nan() && q.is_nan())),
        // An empty table is either.
        (ScriptValue::List(x), ScriptValue::Map(y))
        | (ScriptValue::Map(y), ScriptValue::List(x))
            if x.is_empty() && y.is_empty() =>
        {
            true
        }
        (ScriptValue::List(x), ScriptValue::List(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| same(p, q))
        }
        (ScriptValue::Map(x), ScriptValue::Map(y)) => {
            x.len() == y.len()
                && x.iter()
                    .zip(y)
                    .all(|((kp, p), (kq, q))| kp == kq && same(p, q))
        }
        _ => a == b,
    }
}

/// `ScriptValue` into Lua and back, and through RON and JSON-like serde forms.
pub fn script_value(data: &[u8]) {
    let mut input = Unstructured::new(data);
    let Ok(value) = Value::arbitrary(&mut input) else {
        return;
    };
    let value = to_script_value(&value, 0);
    let lua = mlua::Lua::new();
    match mlua::IntoLua::into_lua(value.clone(), &lua) {
        Ok(lua_value) => {
            let back: mlua::Result<ScriptValue> = mlua::FromLua::from_lua(lua_value, &lua);
            match (normalized(&value), back) {
                (Some(expected), Ok(back)) => {
                    assert!(same(&expected, &back), "{value:?} came back as {back:?}");
                }
                (None, _) => {}
                (Some(_), Err(error)) => panic!("{value:?} did not come back: {error}"),
            }
        }
        Err(error) => {
            let text = error.to_string();
            assert!(!text.is_empty());
        }
    }
    // RON keeps every value exactly, NaN included.
    if let Ok(text) = ron::to_string(&value) {
        let back: ScriptValue = ron::from_str(&text).unwrap_or_else(|e| panic!("{text}: {e}"));
        assert!(same(&value, &back), "{value:?} -> {text} -> {back:?}");
    }
    // Any text either parses into a value or is an error.
    let text = String::from_utf8_lossy(data);
    let _ = ron::from_str::<ScriptValue>(&text);
}

/// `game.toml`, the CVar file and console lines. The first byte picks which.
pub fn files(data: &[u8]) {
    let Some((&which, rest)) = data.split_first() else {
        return;
    };
    let text = String::from_utf8_lossy(rest).into_owned();
    match which % 3 {
        0 => game_toml(&text),
        1 => cvar_file(rest),
        _ => console_line(&text),
    }
}

fn game_toml(text: &str) {
    let dir = tempfile::tempdir().expect("a temporary folder");
    std::fs::write(dir.path().join("game.toml"), text).expect("write game.toml");
    std::fs::create_dir(dir.path().join("scripts")).expect("scripts folder");
    std::fs::write(dir.path().join("scripts/a.luau"), "").expect("a script");
    match GameTemplate::load(dir.path()) {
        Ok(template) => {
            assert!(!template.name.is_empty() || text.contains("name"));
        }
        Err(error) => {
            assert!(
                matches!(error.kind, ScriptErrorKind::Config | ScriptErrorKind::Io),
                "{error:?}"
            );
            assert!(!error.message.is_empty());
        }
    }
}

fn cvar_file(bytes: &[u8]) {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let path = dir.path().join("cvars.toml");
    std::fs::write(&path, bytes).expect("write the file");
    let mut cvars = CVarRegistry::new(None);
    cvars
        .register("volume", CVar::new(0.5, "volume", CVarFlags::ARCHIVE))
        .expect("register");
    cvars
        .register("name", CVar::new("player", "name", CVarFlags::ARCHIVE))
        .expect("register");
    cvars
        .register("count", CVar::new(3, "count", CVarFlags::ARCHIVE))
        .expect("register");
    let loaded = cvars.load(&path);
    let saved = cvars.save();
    let after = std::fs::read(&path).expect("read back");
    if std::str::from_utf8(bytes).map_or(true, |t| toml::from_str::<toml::Table>(t).is_err()) {
        assert!(loaded.is_err(), "a malformed file loaded");
        assert!(saved.is_err(), "a malformed file was saved over");
        assert_eq!(after, bytes, "a malformed file was changed");
    }
    // Whatever loaded, every value keeps its type.
    assert!(matches!(cvars.get("volume"), Some(CVarValue::Float(_))));
    assert!(matches!(cvars.get("name"), Some(CVarValue::String(_))));
    assert!(matches!(cvars.get("count"), Some(CVarValue::Int(_))));
}

fn console_line(line: &str) {
    let mut app = App::new();
    app.add_plugins((
        TaskPoolPlugin::default(),
        TimePlugin,
        AssetPlugin::default(),
        LuauScriptingPlugin,
    ))
    .register_cvar("volume", 0.5, "volume", CVarFlags::empty());
    app.finish();
    app.cleanup();
    app.update();
    let _ = Console::execute(app.world_mut(), line);
    app.update();
    let answer = Console::execute(app.world_mut(), "get volume");
    assert!(answer.is_ok(), "{answer:?}");
}
