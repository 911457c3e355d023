//! The parallel phase as one VM sees it: the main VM of an app's `ScriptEngine`, lent the world
//! read-only (`lend_world_ref`), against the same VM lent `&mut World`. Reads give the same
//! answers; writes are queued, change nothing until [`apply`], and then give what the main VM's
//! call gives; the apply order, dropped writes, refused calls and errors at the call.

use super::*;
use crate::prelude::*;
use crate::runtime::context::Owner;
use bevy_app::{App, TaskPoolPlugin};
use bevy_asset::AssetPlugin;
use bevy_ecs::message::{MessageCursor, Messages};
use bevy_ecs::name::Name;
use bevy_ecs::prelude::{Component, Resource};
use bevy_ecs::reflect::ReflectComponent;
use bevy_reflect::Reflect;
use bevy_time::TimePlugin;
use mlua::{Table, Value};
use serde::{Deserialize, Serialize};

/// A reflected component.
#[derive(Component, Reflect, Debug, Clone, PartialEq)]
#[reflect(Component)]
struct PhaseHealth {
    current: f32,
    max: f32,
}

/// A serde component.
#[derive(Component, Serialize, Deserialize, Debug, Clone, PartialEq)]
struct PhaseStamina {
    value: f32,
}

/// An immutable reflected component: only ever inserted whole.
#[derive(Component, Reflect, Debug, Clone, PartialEq)]
#[component(immutable)]
#[reflect(Component)]
struct PhasePinned {
    at: f32,
}

/// A reflected component no entity has, so the world has not registered it.
#[derive(Component, Reflect, Debug, Clone, PartialEq)]
#[reflect(Component)]
struct PhaseUnused {
    n: f32,
}

/// A serde resource.
#[derive(Resource, Serialize, Deserialize, Debug, Clone, PartialEq)]
struct PhaseScore {
    points: u32,
}

/// A registered message.
#[derive(bevy_ecs::message::Message, Serialize, Deserialize, Debug, Clone, PartialEq)]
struct PhaseDamage {
    amount: f32,
}

/// The script id the snippets run as.
const SCRIPT: ScriptId = 1;

/// An app with the plugin, a few entities and the VM of its `ScriptEngine`.
struct Phase {
    app: App,
    lua: Lua,
    /// The global table the snippets run in: a script's environment.
    env: Table,
    /// `alpha`: PhaseHealth, PhaseStamina, Name, Transform, PhasePinned.
    alpha: Entity,
    /// `beta`: PhaseHealth, Transform.
    beta: Entity,
    /// `gamma`: PhaseHealth only.
    gamma: Entity,
    /// Of `alpha` and `beta`, the one that sorts first (globals `first` and `second`).
    first: Entity,
    /// The other.
    second: Entity,
}

impl Phase {
    fn new() -> Self {
        let mut app = App::new();
        app.add_plugins((
            TaskPoolPlugin::default(),
            TimePlugin,
            AssetPlugin::default(),
        ))
        .add_plugins(LuauScriptingPlugin)
        .register_type::<PhaseHealth>()
        .register_type::<PhasePinned>()
        .register_type::<PhaseUnused>()
        .register_script_component::<PhaseStamina>()
        .register_script_resource::<PhaseScore>()
        .add_message::<PhaseDamage>()
        .register_script_message::<PhaseDamage>()
        .register_cvar("speed", 2.0, "how fast", CVarFlags::empty())
        .add_script_function(
            "game.count",
            |query: bevy_ecs::system::Query<&PhaseHealth>| query.iter().count() as f64,
        )
        .add_script_function(
            "game.twice",
            |bevy_ecs::system::In(x): bevy_ecs::system::In<f64>| x * 2.0,
        );
        #[cfg(feature = "transform")]
        app.register_type::<bevy_transform::components::Transform>();
        app.finish();
        let world = app.world_mut();
        world.insert_resource(PhaseScore { points: 1 });
        let alpha = world
            .spawn((
                PhaseHealth {
                    current: 5.0,
                    max: 10.0,
                },
                PhaseStamina { value: 3.0 },
                Name::new("alpha"),
                PhasePinned { at: 1.0 },
            ))
            .id();
        let beta = world
            .spawn(PhaseHealth {
                current: 7.0,
                max: 7.0,
            })
            .id();
        let gamma = world
            .spawn(PhaseHealth {
                current: 1.0,
                max: 2.0,
            })
            .id();
        #[cfg(feature = "transform")]
        {
            use bevy_math::{Quat, Vec3};
            use bevy_transform::components::Transform;
            let turned = Transform::from_xyz(1.0, 2.0, 3.0)
                .with_rotation(Quat::from_rotation_y(0.5))
                .with_scale(Vec3::splat(2.0));
            world.entity_mut(alpha).insert(turned);
            world
                .entity_mut(beta)
                .insert(Transform::from_xyz(-4.0, 0.0, 0.0));
        }
        let lua = world.resource::<ScriptEngine>().lua().clone();
        let env = script_env(&lua, [alpha, beta, gamma]);
        let (first, second) = (alpha.min(beta), alpha.max(beta));
        env.raw_set("first", crate::value::entity_to_lua(first))
            .expect("sets a global");
        env.raw_set("second", crate::value::entity_to_lua(second))
            .expect("sets a global");
        Self {
            app,
            lua,
            env,
            alpha,
            beta,
            gamma,
            first,
            second,
        }
    }

    /// Runs `source` as the script of `writer`, in the parallel phase: the world lent
    /// read-only. Returns what the chunk returns.
    fn parallel(&self, writer: Entity, source: &str) -> mlua::Result<Value> {
        parallel(&self.lua, &self.env, self.app.world(), writer, source)
    }

    /// Runs `source` as the script of `writer` in the main VM: the world lent `&mut`, and the
    /// `commands` it issued applied after, as at the end of a step.
    fn serial(&mut self, writer: Entity, source: &str) -> mlua::Result<Value> {
        let caller = Caller {
            script: SCRIPT,
            entity: Some(writer),
        };
        let chunk = self.lua.load(source).set_environment(self.env.clone());
        let lua = self.lua.clone();
        crate::bridge::lent::lend_world(&lua, self.app.world_mut(), || {
            let value = caller.run(|| chunk.eval::<Value>());
            crate::api::commands::apply(&lua);
            value
        })
        .expect("a main VM")
    }

    /// Applies what the VM queued.
    fn apply(&mut self) -> Applied {
        let queued = take(&self.lua);
        apply(self.app.world_mut(), queued)
    }

    /// What the tests look at, as text: every entity with its components, the resource, the
    /// CVar and the messages written.
    fn snapshot(&mut self) -> String {
        let world = self.app.world_mut();
        let mut entities: Vec<Entity> = world
            .query::<Entity>()
            .iter(world)
            .filter(|&e| {
                let e = world.entity(e);
                e.contains::<PhaseHealth>() || e.contains::<Name>() || e.contains::<PhaseStamina>()
            })
            .collect();
        entities.sort();
        let mut out = String::new();
        for entity in entities {
            let e = world.entity(entity);
            out += &format!(
                "{entity}: {:?} {:?} {:?} {:?}",
                e.get::<PhaseHealth>(),
                e.get::<PhaseStamina>(),
                e.get::<Name>().map(Name::as_str),
                e.get::<PhasePinned>(),
            );
            #[cfg(feature = "transform")]
            {
                out += &format!(" {:?}", e.get::<bevy_transform::components::Transform>());
            }
            out += "\n";
        }
        out += &format!("{:?}\n", world.get_resource::<PhaseScore>());
        let speed = world.resource::<CVarRegistry>().get("speed").cloned();
        out += &format!("speed = {speed:?}\n");
        let events: Vec<String> = MessageCursor::<ScriptEvent>::default()
            .read(world.resource::<Messages<ScriptEvent>>())
            .map(|e| format!("{e:?}"))
            .collect();
        let damage: Vec<String> = MessageCursor::<PhaseDamage>::default()
            .read(world.resource::<Messages<PhaseDamage>>())
            .map(|e| format!("{e:?}"))
            .collect();
        out += &format!("events {events:?}\ndamage {damage:?}\n");
        out
    }
}

/// Runs `source` in `env` of `lua`'s VM as the script of `writer`, in the parallel phase:
/// `world` lent read-only. Returns what the chunk returns.
fn parallel(
    lua: &Lua,
    env: &Table,
    world: &World,
    writer: Entity,
    source: &str,
) -> mlua::Result<Value> {
    let caller = Caller {
        script: SCRIPT,
        entity: Some(writer),
    };
    let chunk = lua.load(source).set_environment(env.clone());
    crate::bridge::lent::lend_world_ref(lua, world, || caller.run(|| chunk.eval::<Value>()))
        .expect("a main VM")
}

/// A script's environment in `lua`'s VM, with globals `alpha`, `beta` and `gamma` (and
/// `alpha_bits`, …: the entity bits as a number, which the fast path leaves to the safe
/// implementation).
fn script_env(lua: &Lua, [alpha, beta, gamma]: [Entity; 3]) -> Table {
    let owner = Owner {
        id: SCRIPT,
        path: Arc::from("actor.luau"),
    };
    let modules = lua.create_table().expect("a table");
    let env = crate::engine::env::build(lua, &owner, "actor.luau", &modules)
        .expect("a script environment");
    for (name, entity) in [("alpha", alpha), ("beta", beta), ("gamma", gamma)] {
        env.raw_set(name, crate::value::entity_to_lua(entity))
            .expect("sets a global");
        env.raw_set(format!("{name}_bits"), entity.to_bits() as f64)
            .expect("sets a global");
    }
    env
}

/// The message of `result`'s error, or a panic naming what ran.
fn error_of(result: mlua::Result<Value>, what: &str) -> String {
    match result {
        Ok(value) => panic!("{what}: expected an error, got {value:?}"),
        Err(error) => error.to_string(),
    }
}

/// The Lua that turns what the reads return into text: tables with sorted keys, lists of
/// entities sorted (query order is not part of the contract).
const SHOW: &str = r#"
local function show(v)
    if type(v) ~= "table" then
        return tostring(v)
    end
    local keys = {}
    for k in pairs(v) do
        table.insert(keys, k)
    end
    table.sort(keys, function(a, b) return tostring(a) < tostring(b) end)
    local parts = {}
    for _, k in keys do
        table.insert(parts, tostring(k) .. "=" .. show(v[k]))
    end
    return "{" .. table.concat(parts, ",") .. "}"
end
local function sorted(list)
    local names = {}
    for _, e in list do
        table.insert(names, tostring(e))
    end
    table.sort(names)
    return table.concat(names, ",")
end
local out = {}
local function put(name, v)
    table.insert(out, name .. " = " .. show(v))
end
"#;

/// Every read function of the libraries, fast path and safe path.
fn reads() -> String {
    let mut source = String::from(SHOW);
    source += r#"
put("get", ecs.get(alpha, "PhaseHealth"))
put("get safe", ecs.get(alpha_bits, "PhaseHealth"))
put("get serde", ecs.get(alpha, "PhaseStamina"))
put("get serde safe", ecs.get(alpha_bits, "PhaseStamina"))
put("get none", ecs.get(beta, "PhaseStamina"))
put("get unregistered", ecs.get(beta, "PhaseUnused"))
put("has", {ecs.has(alpha, "PhaseHealth"), ecs.has(beta, "PhaseStamina"), ecs.has(beta, "PhaseUnused")})
put("has safe", {ecs.has(alpha_bits, "PhaseHealth"), ecs.has(beta_bits, "PhaseStamina")})
put("exists", {ecs.exists(alpha), ecs.exists(alpha_bits)})
put("query", sorted(ecs.query("PhaseHealth")))
put("query two", sorted(ecs.query("PhaseHealth", "PhaseStamina")))
put("query unregistered", sorted(ecs.query("PhaseHealth", "PhaseUnused")))
local each = {}
for e, h, s in ecs.each("PhaseHealth", "PhaseStamina") do
    table.insert(each, tostring(e) .. ":" .. h.current .. ":" .. s.value)
end
table.sort(each)
put("each", each)
local all = {}
for e, h in ecs.each("PhaseHealth") do
    table.insert(all, tostring(e) .. ":" .. h.max)
end
table.sort(all)
put("each all", all)
local none = 0
for _ in ecs.each("PhaseHealth", "PhaseUnused") do
    none += 1
end
put("each unregistered", none)
put("find", {ecs.find("alpha"), ecs.find("nobody")})
put("name", {ecs.name(alpha), ecs.name(beta)})
local r = ecs.ref(alpha, "PhaseHealth")
put("ref", {r.current, r.max, ecs.ref(beta, "PhasePinned")})
put("value", ecs.value(r))
put("resource", ecs.resource("PhaseScore"))
put("time", {time.delta(), time.elapsed(), time.frame()})
put("cvar", {cvar.get("speed"), cvar.get("nothing")})
put("profiler", profiler.step())
put("plain function", if game then game.twice(21) else "none")
"#;
    if cfg!(feature = "transform") {
        source += r#"
local t = ecs.ref(alpha, "Transform")
put("ref vector", {t.translation.x, t.translation + vector.create(1, 1, 1), -t.translation, t.scale * 2})
put("ref vector value", ecs.value(t.translation))
put("position", {transform.position(alpha), transform.position(alpha_bits)})
put("rotation", {transform.rotation(alpha), transform.rotation(beta_bits)})
put("scale", {transform.scale(alpha), transform.scale(alpha_bits)})
put("axes", {transform.forward(alpha), transform.right(alpha), transform.up(alpha_bits)})
"#;
    }
    if cfg!(feature = "input") {
        source += r#"
put("input", {input.key_down("KeyW"), input.key_pressed("Space"), input.key_released("Escape"), input.mouse_down("Left"), input.mouse_position()})
"#;
    }
    source + "return table.concat(out, '\\n')"
}

#[test]
fn every_read_gives_the_same_answer_read_only() {
    let source = reads();
    let mut phase = Phase::new();
    let alpha = phase.alpha;
    let serial = phase
        .serial(alpha, &source)
        .expect("the reads run in the main VM");
    let before = phase.snapshot();
    let parallel = phase
        .parallel(alpha, &source)
        .expect("the reads run in the parallel phase");
    let (Value::String(serial), Value::String(parallel)) = (serial, parallel) else {
        panic!("the reads return text");
    };
    let (serial, parallel) = (serial.to_str().unwrap(), parallel.to_str().unwrap());
    assert!(serial.contains("query = Entity("), "{serial}");
    assert_eq!(&*parallel, &*serial);
    assert_eq!(phase.snapshot(), before, "reading changes nothing");
    assert!(take(&phase.lua).is_empty(), "reading queues nothing");
}

/// Each write: the snippet, run by `alpha`. `beta` is the usual target.
const WRITES: &[&str] = &[
    r#"ecs.set(beta, "PhaseHealth", {current = 3, max = 9})"#,
    r#"ecs.set(beta_bits, "PhaseHealth", {current = 4, max = 9})"#,
    r#"ecs.set(beta, "PhaseStamina", {value = 4})"#,
    r#"ecs.set(beta, "Name", "renamed")"#,
    r#"ecs.set(beta, "PhasePinned", {at = 2})"#,
    r#"ecs.set_name(beta, "named")"#,
    r#"ecs.remove(beta, "PhaseHealth")"#,
    r#"assert(ecs.remove(alpha, "PhaseStamina") == true)"#,
    r#"ecs.despawn(beta)"#,
    r#"local e = ecs.spawn({PhaseHealth = {current = 1, max = 2}, Name = "spawned"})
       ecs.set(e, "PhaseStamina", {value = 8})"#,
    r#"ecs.set_resource("PhaseScore", {points = 7})"#,
    r#"ecs.ref(beta, "PhaseHealth").current = 5"#,
    // The first write of a script goes through the safe path, which learns the script; the
    // next ones are queued by the fast path.
    r#"ecs.ref(beta, "PhaseHealth").current = 5; ecs.ref(beta, "PhaseHealth").max = 6; ecs.ref(gamma, "PhaseHealth").max = 8"#,
    r#"for e, h in ecs.each("PhaseHealth") do h.current = h.max + 1 end"#,
    r#"events.emit("boom", {n = 1})"#,
    r#"events.emit("PhaseDamage", {amount = 3})"#,
    r#"cvar.set("speed", 5)"#,
    r#"commands.set(beta, "PhaseHealth", {current = 2, max = 3})"#,
    r#"commands.spawn({Name = "by command"})"#,
    r#"commands.remove(alpha, "PhaseHealth")"#,
    r#"commands.despawn(gamma)"#,
    r#"commands.emit("later", 3)"#,
    r#"ecs.set(beta, "PhaseHealth", {current = 1, max = 1}); ecs.set(beta, "PhaseHealth", {current = 2, max = 2})"#,
];

/// The writes of the `transform` library and of vector references.
#[cfg(feature = "transform")]
const TRANSFORM_WRITES: &[&str] = &[
    r#"transform.set_position(beta, vector.create(1, 2, 3))"#,
    r#"transform.set_position(beta, vector.create(1, 2, 3)); transform.set_scale(alpha, vector.create(1, 2, 1)); transform.translate(beta, vector.create(0, 0, 1))"#,
    r#"local t = ecs.ref(alpha, "Transform"); t.translation.x = 5; t.translation.y = 6; t.scale.z = 0.5"#,
    r#"transform.translate(alpha, vector.create(1, 0, 0)); transform.translate(alpha, vector.create(0, 1, 0))"#,
    r#"transform.set_rotation(beta, vector.create(0, 1, 0))"#,
    r#"transform.rotate(alpha, vector.create(0.1, 0, 0))"#,
    r#"transform.set_scale(beta, vector.create(3, 3, 3))"#,
    r#"transform.look_at(beta, alpha)"#,
    r#"transform.look_at(alpha, vector.create(0, 0, -10), vector.create(0, 1, 0))"#,
    r#"local t = ecs.ref(alpha, "Transform"); t.translation += vector.create(1, 2, 3)"#,
    r#"ecs.ref(beta, "Transform").translation = ecs.ref(alpha, "Transform").translation"#,
];

/// Every write in the parallel phase: nothing changes before the queue is applied, and after
/// it the world is what the main VM's call makes of it.
#[test]
fn every_write_is_queued_then_applies_as_the_main_vm_does() {
    let mut writes: Vec<&str> = WRITES.to_vec();
    #[cfg(feature = "transform")]
    writes.extend(TRANSFORM_WRITES);
    for source in writes {
        let mut serial = Phase::new();
        let before = serial.snapshot();
        let writer = serial.alpha;
        serial
            .serial(writer, source)
            .unwrap_or_else(|e| panic!("{source}: in the main VM: {e}"));
        let expected = serial.snapshot();
        assert_ne!(expected, before, "{source}: changes something");

        let mut parallel = Phase::new();
        parallel
            .parallel(writer, source)
            .unwrap_or_else(|e| panic!("{source}: in the parallel phase: {e}"));
        assert_eq!(
            parallel.snapshot(),
            before,
            "{source}: nothing changes before apply"
        );
        let applied = parallel.apply();
        assert!(applied.errors.is_empty(), "{source}: {:?}", applied.errors);
        assert!(applied.applied > 0, "{source}: {applied:?}");
        assert_eq!(applied.dropped, 0, "{source}: {applied:?}");
        assert_eq!(parallel.snapshot(), expected, "{source}");
    }
}

#[test]
fn apply_orders_writes_by_writer_then_call_order() {
    let set = |n: u32| format!(r#"ecs.set(gamma, "PhaseHealth", {{current = {n}, max = {n}}})"#);
    let final_health = |phase: &mut Phase| {
        let gamma = phase.gamma;
        phase.app.world().get::<PhaseHealth>(gamma).cloned()
    };
    let mut outcomes = Vec::new();
    // One VM, the two writers interleaved both ways.
    for alpha_first in [true, false] {
        let mut phase = Phase::new();
        let (first, second) = (phase.first, phase.second);
        let order = if alpha_first {
            [(first, 1), (second, 2), (first, 3), (second, 4)]
        } else {
            [(second, 2), (first, 1), (second, 4), (first, 3)]
        };
        for (writer, n) in order {
            phase.parallel(writer, &set(n)).expect("queued");
        }
        let applied = phase.apply();
        assert_eq!((applied.applied, applied.dropped), (4, 0));
        outcomes.push(final_health(&mut phase));
    }
    // Two VMs, one writer each, their queues handed over in either order.
    for alpha_first in [true, false] {
        let mut phase = Phase::new();
        let (alpha, beta) = (phase.alpha, phase.beta);
        let (first, second) = (phase.first, phase.second);
        let other = ScriptEngine::new(&ScriptConfig::default(), None).expect("a VM");
        let other_lua = other.lua().clone();
        let env = script_env(&other_lua, [alpha, beta, phase.gamma]);
        for n in [2, 4] {
            parallel(&other_lua, &env, phase.app.world(), second, &set(n)).expect("queued");
        }
        for n in [1, 3] {
            phase.parallel(first, &set(n)).expect("queued");
        }
        let (mine, theirs) = (take(&phase.lua), take(&other_lua));
        let queued = if alpha_first {
            mine.into_iter().chain(theirs).collect()
        } else {
            theirs.into_iter().chain(mine).collect()
        };
        let applied = apply(phase.app.world_mut(), queued);
        assert_eq!((applied.applied, applied.dropped), (4, 0));
        outcomes.push(final_health(&mut phase));
    }
    // `second` sorts last, and its last write is its second.
    let last = Some(PhaseHealth {
        current: 4.0,
        max: 4.0,
    });
    assert_eq!(outcomes, vec![last.clone(); 4]);
}

#[test]
fn writes_by_or_to_an_entity_despawned_earlier_in_the_apply_are_dropped() {
    let mut phase = Phase::new();
    let (first, second, gamma) = (phase.first, phase.second, phase.gamma);
    // `first` sorts first: it despawns `second` and `gamma`.
    phase
        .parallel(first, "ecs.despawn(second); ecs.despawn(gamma)")
        .expect("queued");
    // By `second`, despawned: its writes are dropped, its spawn too.
    let spawned = phase
        .parallel(
            second,
            r#"ecs.set(first, "PhaseHealth", {current = 99, max = 99}); return ecs.spawn({Name = "orphan"})"#,
        )
        .expect("queued");
    let spawned = crate::value::entity_from_lua(&spawned).expect("an entity at once");
    // To `gamma`, despawned earlier in the apply (the call saw it alive).
    phase
        .parallel(
            first,
            r#"ecs.set(gamma, "PhaseHealth", {current = 0, max = 0})"#,
        )
        .expect("queued: gamma exists while the phase runs");
    let applied = phase.apply();
    assert!(applied.errors.is_empty(), "{:?}", applied.errors);
    assert_eq!((applied.applied, applied.dropped), (2, 3), "{applied:?}");
    let world = phase.app.world();
    assert_ne!(
        world.get::<PhaseHealth>(first).map(|h| h.current),
        Some(99.0)
    );
    assert!(world.get_entity(second).is_err() && world.get_entity(gamma).is_err());
    assert!(
        world.get_entity(spawned).is_err(),
        "the dropped spawn's id is released"
    );
}

#[test]
fn a_write_that_fails_only_when_applied_is_an_error_naming_function_and_entity() {
    let mut phase = Phase::new();
    let (first, second, gamma) = (phase.first, phase.second, phase.gamma);
    phase
        .parallel(first, r#"ecs.remove(gamma, "PhaseHealth")"#)
        .expect("queued");
    phase
        .parallel(second, r#"ecs.ref(gamma, "PhaseHealth").current = 1"#)
        .expect("queued: the component is there while the phase runs");
    phase
        .parallel(
            second,
            r#"ecs.set(first, "PhaseHealth", {current = 6, max = 6})"#,
        )
        .expect("queued");
    let applied = phase.apply();
    assert_eq!((applied.applied, applied.dropped), (2, 0), "{applied:?}");
    let [error] = applied.errors.as_slice() else {
        panic!("one error: {:?}", applied.errors);
    };
    assert_eq!(error.kind, ScriptErrorKind::UnknownComponent);
    let message = &error.message;
    assert!(message.contains("`ComponentRef`"), "{message}");
    assert!(message.contains(&format!("entity {gamma}")), "{message}");
    assert!(message.contains("no longer has the component"), "{message}");
    assert_eq!(
        phase
            .app
            .world()
            .get::<PhaseHealth>(first)
            .map(|h| h.current),
        Some(6.0),
        "the rest still apply"
    );
}

#[test]
fn a_write_queued_before_the_script_errored_still_applies() {
    let mut phase = Phase::new();
    let alpha = phase.alpha;
    let error = error_of(
        phase.parallel(
            alpha,
            r#"ecs.set(beta, "PhaseStamina", {value = 2}); error("boom")"#,
        ),
        "an erroring script",
    );
    assert!(error.contains("boom"), "{error}");
    let applied = phase.apply();
    assert_eq!(applied.applied, 1);
    let beta = phase.beta;
    assert_eq!(
        phase.app.world().get::<PhaseStamina>(beta),
        Some(&PhaseStamina { value: 2.0 })
    );
}

#[test]
fn calls_that_cannot_be_deferred_are_refused_by_name() {
    let phase = Phase::new();
    let alpha = phase.alpha;
    for (source, function) in [
        (r#"console.execute("help")"#, "console.execute"),
        (r#"cvar.register("new", 1)"#, "cvar.register"),
        (r#"game.count()"#, "game.count"),
    ] {
        let error = error_of(phase.parallel(alpha, source), source);
        let refusal = format!("`{function}` is not allowed in the parallel phase");
        assert!(error.contains(&refusal), "{source}: {error}");
        assert!(error.contains("task.synchronize()"), "{source}: {error}");
    }
    assert!(take(&phase.lua).is_empty());
}

#[test]
fn spawn_returns_an_id_at_once_that_exists_after_apply() {
    let mut phase = Phase::new();
    let alpha = phase.alpha;
    let spawned = phase
        .parallel(
            alpha,
            r#"
            local e = ecs.spawn({PhaseHealth = {current = 2, max = 4}})
            assert(not ecs.exists(e), "spawned when the queue is applied")
            ecs.set(e, "Name", "fresh")
            ecs.ref(alpha, "PhaseHealth").current = 9
            return e
            "#,
        )
        .expect("queued");
    let spawned = crate::value::entity_from_lua(&spawned).expect("an entity");
    assert!(phase.app.world().get_entity(spawned).is_err());
    let applied = phase.apply();
    assert!(applied.errors.is_empty(), "{:?}", applied.errors);
    let world = phase.app.world();
    assert_eq!(
        world.get::<PhaseHealth>(spawned),
        Some(&PhaseHealth {
            current: 2.0,
            max: 4.0
        })
    );
    assert_eq!(world.get::<Name>(spawned).map(Name::as_str), Some("fresh"));
}

#[test]
fn an_immutable_component_is_replaced_whole_and_never_written_in_place() {
    let mut phase = Phase::new();
    let alpha = phase.alpha;
    let error = error_of(
        phase.parallel(alpha, r#"ecs.ref(alpha, "PhasePinned").at = 3"#),
        "a field write to an immutable component",
    );
    assert!(error.contains("immutable"), "{error}");
    assert!(take(&phase.lua).is_empty(), "refused at the call");
    phase
        .parallel(alpha, r#"ecs.set(alpha, "PhasePinned", {at = 4})"#)
        .expect("queued");
    let applied = phase.apply();
    assert!(applied.errors.is_empty(), "{:?}", applied.errors);
    assert_eq!(
        phase.app.world().get::<PhasePinned>(alpha),
        Some(&PhasePinned { at: 4.0 })
    );
}

#[test]
fn a_value_that_does_not_fit_is_an_error_at_the_call() {
    let phase = Phase::new();
    let alpha = phase.alpha;
    let mut calls = vec![
        r#"ecs.set(beta, "PhaseHealth", {current = "lots", max = 1})"#,
        r#"ecs.set(beta, "PhaseStamina", {value = {}})"#,
        r#"ecs.spawn({PhaseHealth = {current = 1}})"#,
        r#"ecs.ref(beta, "PhaseHealth").current = "lots""#,
        r#"ecs.set_resource("PhaseScore", {points = "many"})"#,
        r#"events.emit("PhaseDamage", {amount = "much"})"#,
        r#"cvar.set("speed", "fast")"#,
        r#"commands.set(beta, "PhaseHealth", {current = true, max = 1})"#,
        r#"ecs.set(beta, "NoSuchComponent", {})"#,
    ];
    if cfg!(feature = "transform") {
        calls.extend([
            r#"transform.set_position(beta, "here")"#,
            r#"transform.translate(gamma, vector.create(1, 0, 0))"#,
        ]);
    }
    for source in calls {
        let checked = format!("local ok = pcall(function() {source} end) return ok");
        let ok = phase.parallel(alpha, &checked).expect("the chunk runs");
        assert_eq!(ok, Value::Boolean(false), "{source}: fails at the call");
        assert!(take(&phase.lua).is_empty(), "{source}: nothing is queued");
    }
}

/// Two VMs on two threads read the same world at the same time.
#[test]
fn two_vms_read_one_world_on_two_threads_at_once() {
    let phase = Phase::new();
    let source = reads();
    let expected = phase.parallel(phase.alpha, &source).expect("the reads run");
    let Value::String(expected) = expected else {
        panic!("the reads return text");
    };
    let expected = expected.to_str().unwrap().to_owned();
    let world = phase.app.world();
    let answers: Vec<String> = std::thread::scope(|scope| {
        let threads: Vec<_> = (0..2)
            .map(|_| {
                let source = source.clone();
                let entities = (phase.alpha, phase.beta, phase.gamma);
                scope.spawn(move || {
                    let engine = ScriptEngine::new(&ScriptConfig::default(), None).expect("a VM");
                    let lua = engine.lua().clone();
                    let (alpha, beta, gamma) = entities;
                    let env = script_env(&lua, [alpha, beta, gamma]);
                    // Many rounds, so the two threads overlap.
                    let mut last = String::new();
                    for _ in 0..50 {
                        let value =
                            parallel(&lua, &env, world, alpha, &source).expect("the reads run");
                        let Value::String(text) = value else {
                            panic!("the reads return text");
                        };
                        last = text.to_str().unwrap().to_owned();
                    }
                    last
                })
            })
            .collect();
        threads
            .into_iter()
            .map(|t| t.join().expect("the thread ran"))
            .collect()
    });
    // A VM without the app's game functions: compare everything but that line.
    let without_plain = |text: &str| {
        text.lines()
            .filter(|l| !l.starts_with("plain function"))
            .collect::<Vec<_>>()
            .join("\n")
    };
    for answer in answers {
        assert_eq!(without_plain(&answer), without_plain(&expected));
    }
}
