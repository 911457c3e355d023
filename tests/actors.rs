//! Actor scripts (`Script` + `ScriptActor`): their instances live in the actor VMs, spread
//! evenly, and keep the meaning of every method; hot reload, events, despawn, profiles and a
//! change of kind on a live entity.

mod common;

use bevy_asset::AssetServer;
use bevy_ecs::prelude::*;
use bevy_luau::prelude::*;
use common::Harness;
use serde::{Deserialize, Serialize};

#[derive(Component, Serialize, Deserialize, Debug, Clone, PartialEq)]
struct Counter {
    value: f64,
}

const COUNTER: &str = r#"
local Counter = {}

function Counter:on_spawn()
    self.count = 0
    events.emit("spawned", self.entity)
end

function Counter:on_update(dt)
    assert(dt == time.delta() and time.frame() > 0, "actors see the frame's time")
    self.count += 1
    ecs.set(self.entity, "Counter", {value = self.count})
end

function Counter:on_event(name, payload)
    if name == "poke" then
        events.emit("poked", {entity = self.entity, payload = payload})
    end
end

function Counter:on_despawn()
    events.emit("despawned", {entity = self.entity, count = self.count})
end

return Counter
"#;

fn harness(actors: usize, files: &[(&str, &str)]) -> Harness {
    let plugin = LuauScriptingPlugin {
        actors: Some(actors),
        ..Default::default()
    };
    let mut h = Harness::with_plugin(plugin, files);
    h.app.register_script_component::<Counter>();
    h
}

/// Spawns `n` entities running `path`, as actors when `actor` is set.
fn spawn(h: &mut Harness, path: &str, n: usize, actor: bool) -> Vec<Entity> {
    let handle = h
        .app
        .world()
        .resource::<AssetServer>()
        .load(path.to_owned());
    (0..n)
        .map(|_| {
            let mut entity = h.app.world_mut().spawn(Script::new(handle.clone()));
            if actor {
                entity.insert(ScriptActor);
            }
            entity.id()
        })
        .collect()
}

fn counter(h: &Harness, entity: Entity) -> Option<f64> {
    h.app.world().get::<Counter>(entity).map(|c| c.value)
}

fn engine(h: &Harness) -> &ScriptEngine {
    h.app.world().resource::<ScriptEngine>()
}

fn spawned(h: &mut Harness, n: usize) {
    h.run_until("spawns", |seen| {
        seen.events.iter().filter(|e| e.name == "spawned").count() >= n
    });
}

#[test]
fn actor_instances_spread_over_the_actor_vms_and_keep_their_self() {
    let mut h = harness(2, &[("scripts/counter.luau", COUNTER)]);
    let actors = spawn(&mut h, "scripts/counter.luau", 5, true);
    let plain = spawn(&mut h, "scripts/counter.luau", 1, false);
    spawned(&mut h, 6);
    assert_eq!(engine(&h).actor_instances(), vec![3, 2], "spread evenly");
    assert_eq!(engine(&h).entity_script_instances(), 6);
    let before = counter(&h, actors[0]).expect("the actor counts");
    h.update();
    h.update();
    h.assert_no_errors();
    assert_eq!(counter(&h, actors[0]), Some(before + 2.0), "self is kept");
    for entity in actors.iter().chain(&plain) {
        assert_eq!(counter(&h, *entity), counter(&h, actors[0]), "{entity}");
    }
}

#[test]
fn without_actors_no_actor_vm_is_made() {
    let mut h = harness(2, &[("scripts/counter.luau", COUNTER)]);
    spawn(&mut h, "scripts/counter.luau", 2, false);
    spawned(&mut h, 2);
    assert!(engine(&h).actor_instances().is_empty());
}

#[test]
fn actors_get_events_and_say_goodbye() {
    let mut h = harness(2, &[("scripts/counter.luau", COUNTER)]);
    let actors = spawn(&mut h, "scripts/counter.luau", 2, true);
    spawned(&mut h, 2);
    h.app
        .world_mut()
        .write_message(ScriptEvent::new("poke", 7.0));
    h.run_until("two pokes", |seen| {
        seen.events.iter().filter(|e| e.name == "poked").count() == 2
    });
    for payload in h.payloads("poked") {
        let ScriptValue::Map(fields) = payload else {
            panic!("a table: {payload:?}");
        };
        assert_eq!(fields.get("payload"), Some(&ScriptValue::Number(7.0)));
    }
    h.app.world_mut().despawn(actors[1]);
    h.run_until_event("despawned");
    let goodbye = h.payloads("despawned");
    let ScriptValue::Map(fields) = &goodbye[0] else {
        panic!("a table: {goodbye:?}");
    };
    assert_eq!(fields.get("entity"), Some(&ScriptValue::Entity(actors[1])));
    h.update();
    assert_eq!(engine(&h).actor_instances(), vec![1, 0]);
    h.assert_no_errors();
}

#[test]
fn scripts_spawn_actors() {
    let spawner = r#"
        for _ = 1, 3 do
            ecs.spawn({ Script = "scripts/counter.luau", ScriptActor = {} })
        end
    "#;
    let mut h = harness(
        2,
        &[
            ("scripts/counter.luau", COUNTER),
            ("scripts/spawner.luau", spawner),
        ],
    )
    .scripts(&["scripts/spawner.luau"]);
    spawned(&mut h, 3);
    assert_eq!(engine(&h).actor_instances(), vec![2, 1]);
    h.assert_no_errors();
}

#[test]
fn adding_or_removing_script_actor_recreates_the_instance() {
    let mut h = harness(2, &[("scripts/counter.luau", COUNTER)]);
    let entity = spawn(&mut h, "scripts/counter.luau", 1, false)[0];
    spawned(&mut h, 1);
    for _ in 0..3 {
        h.update();
    }
    assert!(counter(&h, entity).expect("counts") >= 3.0);
    h.app.world_mut().entity_mut(entity).insert(ScriptActor);
    h.run_until("a new instance", |seen| {
        seen.events.iter().filter(|e| e.name == "spawned").count() == 2
    });
    assert_eq!(
        h.payloads("despawned").len(),
        1,
        "the old instance said goodbye"
    );
    assert_eq!(engine(&h).actor_instances(), vec![1, 0]);
    assert_eq!(engine(&h).entity_script_instances(), 1);
    // The new instance spawned and updated once in the frame it attached.
    assert_eq!(counter(&h, entity), Some(1.0), "self started over");
    // And back to the main VM.
    h.app.world_mut().entity_mut(entity).remove::<ScriptActor>();
    h.run_until("a third instance", |seen| {
        seen.events.iter().filter(|e| e.name == "spawned").count() == 3
    });
    assert_eq!(engine(&h).actor_instances(), vec![0, 0]);
    assert_eq!(engine(&h).entity_script_instances(), 1);
    h.assert_no_errors();
}

#[test]
fn hot_reload_keeps_the_fields_of_actor_instances() {
    let mut h = harness(2, &[("scripts/counter.luau", COUNTER)]);
    let entities = spawn(&mut h, "scripts/counter.luau", 2, true);
    spawned(&mut h, 2);
    h.update();
    let before = counter(&h, entities[1]).expect("counts");
    h.write(
        "scripts/counter.luau",
        &COUNTER.replace("self.count += 1", "self.count += 10"),
    );
    h.run_until_a_frame_adds("the new version to take effect", 10.0, |h| {
        counter(h, entities[1]).expect("counter")
    });
    assert!(counter(&h, entities[1]).expect("counts") > before + 10.0);
    assert_eq!(
        h.payloads("spawned").len(),
        2,
        "on_spawn ran once per entity"
    );
    h.assert_no_errors();
}

#[test]
fn actor_scripts_show_in_the_profiles() {
    let mut h = harness(2, &[("scripts/counter.luau", COUNTER)]);
    spawn(&mut h, "scripts/counter.luau", 4, true);
    spawned(&mut h, 4);
    h.update();
    let profiles = h.app.world().resource::<ScriptProfiles>();
    let profile = profiles
        .script("scripts/counter.luau")
        .expect("the actor script has a profile");
    assert!(profile.calls >= 4, "{profile:?}");
    assert!(profiles.memory > 0);
}

#[test]
fn a_runaway_actor_stops_and_the_others_go_on() {
    let runaway = r#"
        local R = {}
        function R:on_update() while true do end end
        return R
    "#;
    let config = ScriptConfig {
        time_limit: Some(std::time::Duration::from_millis(20)),
        ..Default::default()
    };
    let plugin = LuauScriptingPlugin {
        config,
        actors: Some(2),
        ..Default::default()
    };
    let mut h = Harness::with_plugin(
        plugin,
        &[
            ("scripts/counter.luau", COUNTER),
            ("scripts/runaway.luau", runaway),
        ],
    );
    h.app.register_script_component::<Counter>();
    let counters = spawn(&mut h, "scripts/counter.luau", 2, true);
    spawn(&mut h, "scripts/runaway.luau", 1, true);
    h.run_until("the runaway to stop", |seen| {
        seen.errors.iter().any(|e| {
            e.kind == ScriptErrorKind::InstructionLimit || e.kind == ScriptErrorKind::TimeLimit
        })
    });
    let a = counter(&h, counters[0]).expect("counts");
    h.update();
    assert_eq!(counter(&h, counters[0]), Some(a + 1.0), "the others go on");
    let errors = h.take_errors();
    assert!(
        errors.iter().all(|e| e.script == "scripts/runaway.luau"),
        "{errors:#?}"
    );
}

#[test]
fn outside_an_actor_synchronize_returns_at_once_and_desynchronize_is_an_error() {
    let script = r#"
        task.synchronize()
        events.emit("synchronized")
        local ok, message = pcall(task.desynchronize)
        events.emit("desynchronized", { ok = ok, message = tostring(message) })
    "#;
    let mut h = harness(2, &[("scripts/main.luau", script)]).scripts(&["scripts/main.luau"]);
    h.run_until_event("desynchronized");
    assert_eq!(h.payloads("synchronized").len(), 1);
    let ScriptValue::Map(fields) = &h.payloads("desynchronized")[0] else {
        panic!("a table");
    };
    assert_eq!(fields.get("ok"), Some(&ScriptValue::Bool(false)));
    let Some(ScriptValue::String(message)) = fields.get("message") else {
        panic!("a message: {fields:?}");
    };
    assert!(
        message.contains("task.desynchronize: only an actor script"),
        "{message}"
    );
}

#[test]
fn the_compute_pool_runs_tasks_on_threads_of_its_own() {
    // The parallel phase runs on the compute pool; without bevy_tasks' `multi_threaded`
    // feature a pool has no threads and the phase would quietly run serially.
    let h = harness(2, &[]);
    let (send, receive) = std::sync::mpsc::channel();
    bevy_tasks::ComputeTaskPool::get()
        .spawn(async move {
            let _ = send.send(std::thread::current().name().map(str::to_owned));
        })
        .detach();
    let name = receive
        .recv_timeout(std::time::Duration::from_secs(10))
        .expect("a pool thread runs the task");
    assert_ne!(name.as_deref(), std::thread::current().name());
    drop(h);
}

#[test]
fn actor_scripts_cannot_register_global_callbacks() {
    let actor = r#"
        local A = {}
        function A:on_spawn()
            local refused = {}
            for name, register in {
                hooks = function() hooks.on_update(function() end) end,
                events = function() events.on("x", function() end) end,
                cvar = function() cvar.on_change("x", function() end) end,
                console = function() console.register("x", function() end) end,
            } do
                local ok, message = pcall(register)
                if not ok and string.find(tostring(message), "not available in actor scripts", 1, true) then
                    table.insert(refused, name)
                end
            end
            table.sort(refused)
            events.emit("refused", table.concat(refused, ","))
        end
        return A
    "#;
    let mut h = harness(2, &[("scripts/actor.luau", actor)]);
    spawn(&mut h, "scripts/actor.luau", 1, true);
    h.run_until_event("refused");
    assert_eq!(
        h.payloads("refused"),
        vec![ScriptValue::String("console,cvar,events,hooks".into())]
    );
    h.assert_no_errors();
}

/// Runs `actors` actor VMs over 6 entities running `script` for `frames` frames after they
/// spawned, and returns each entity's `Counter`.
fn counters_after(actors: usize, script: &str, frames: usize) -> Vec<Option<f64>> {
    let mut h = harness(actors, &[("scripts/actor.luau", script)]);
    let entities = spawn(&mut h, "scripts/actor.luau", 6, true);
    spawned(&mut h, 6);
    for _ in 0..frames {
        h.update();
    }
    h.assert_no_errors();
    entities.iter().map(|e| counter(&h, *e)).collect()
}

#[test]
fn random_numbers_do_not_depend_on_the_actor_count() {
    let script = r#"
        local A = {}
        function A:on_spawn()
            events.emit("spawned", self.entity)
        end
        function A:on_update()
            local sum = 0
            for _ = 1, 10 do
                local x = math.random()
                assert(x >= 0 and x < 1, "math.random() is in [0, 1)")
                local n = math.random(6)
                assert(n >= 1 and n <= 6 and n == math.floor(n), "math.random(6) is in [1, 6]")
                sum += math.random(-1000, 1000) + n + x
            end
            local previous = ecs.get(self.entity, "Counter")
            ecs.set(self.entity, "Counter", { value = (previous and previous.value or 0) + sum })
        end
        return A
    "#;
    let one = counters_after(1, script, 4);
    let two = counters_after(2, script, 4);
    let three = counters_after(3, script, 4);
    assert!(one.iter().all(Option::is_some), "{one:?}");
    assert_eq!(one, two);
    assert_eq!(one, three);
    assert_ne!(one[0], one[1], "each entity draws its own numbers");
}

#[test]
fn math_random_in_an_actor_refuses_an_empty_interval() {
    let script = r#"
        local A = {}
        function A:on_spawn()
            local ok, message = pcall(math.random, 5, 1)
            events.emit("spawned", tostring(message))
            local _, wrong = pcall(math.random, "six")
            events.emit("wrong", tostring(wrong))
        end
        return A
    "#;
    let mut h = harness(1, &[("scripts/actor.luau", script)]);
    spawn(&mut h, "scripts/actor.luau", 1, true);
    h.run_until_event("spawned");
    let ScriptValue::String(message) = &h.payloads("spawned")[0] else {
        panic!("a message");
    };
    assert!(message.contains("the interval is empty"), "{message}");
    let ScriptValue::String(wrong) = &h.payloads("wrong")[0] else {
        panic!("a message");
    };
    assert!(
        wrong.contains("bad argument #1 to `math.random`: expected a finite number"),
        "{wrong}"
    );
}

/// `Counter` of `target` after 3 frames of 6 actors running `script`, each told the target in
/// `on_spawn` through the `Target` resource... simpler: the target is the first entity spawned.
fn shared_target_after(actors: usize, script: &str) -> (Option<f64>, ScriptProfiles) {
    let mut h = harness(actors, &[("scripts/actor.luau", script)]);
    let target = h.app.world_mut().spawn(Counter { value: 0.0 }).id();
    assert_eq!(target.index_u32(), target.index_u32());
    spawn(&mut h, "scripts/actor.luau", 6, true);
    spawned(&mut h, 6);
    for _ in 0..3 {
        h.update();
    }
    h.assert_no_errors();
    let profiles = h.app.world().resource::<ScriptProfiles>().clone();
    (counter(&h, target), profiles)
}

#[test]
fn actors_writing_one_component_give_the_same_result_whatever_the_actor_count() {
    // Every actor writes the same entity's Counter with its own value; the writes apply by
    // writing entity, then call order, so the last entity's last write wins, whatever the VMs.
    let script = r#"
        local A = {}
        function A:on_spawn()
            self.id = 0
            events.emit("spawned", self.entity)
        end
        function A:on_update()
            local target = nil
            for e in ecs.each("Counter") do
                if not ecs.has(e, "ScriptActor") then target = e end
            end
            self.id += 1
            local bits = tonumber(string.match(tostring(self.entity), "%d+")) or 0
            ecs.set(target, "Counter", { value = bits * 100 + self.id })
            ecs.set(self.entity, "Counter", { value = self.id })
        end
        return A
    "#;
    let (one, _) = shared_target_after(1, script);
    let (two, profiles) = shared_target_after(2, script);
    let (three, _) = shared_target_after(3, script);
    assert!(one.is_some_and(|v| v > 0.0), "{one:?}");
    assert_eq!(one, two);
    assert_eq!(one, three);
    assert!(profiles.actors.writes >= 12, "{:?}", profiles.actors);
}

#[test]
fn a_write_that_cannot_wait_is_refused_in_the_parallel_phase_and_allowed_after_synchronize() {
    let script = r#"
        local A = {}
        function A:on_spawn() events.emit("spawned", self.entity) end
        function A:on_update()
            local ok, message = pcall(console.execute, "echo hi")
            events.emit("refused", tostring(message))
            task.synchronize()
            events.emit("serial", (pcall(console.execute, "help")))
        end
        return A
    "#;
    let mut h = harness(2, &[("scripts/actor.luau", script)]);
    spawn(&mut h, "scripts/actor.luau", 1, true);
    h.run_until_event("serial");
    let ScriptValue::String(refused) = &h.payloads("refused")[0] else {
        panic!("a message");
    };
    assert!(
        refused.contains("`console.execute` is not allowed in the parallel phase"),
        "{refused}"
    );
    assert_eq!(h.payloads("serial")[0], ScriptValue::Bool(true));
    h.assert_no_errors();
}

#[test]
fn an_actor_despawned_by_another_actors_write_has_its_later_writes_dropped() {
    // Every actor despawns every other one and writes its own Counter. The writes apply by
    // writing entity: the first writer's despawns go through, and every write by the actors
    // it despawned is dropped and counted, never applied to a missing entity.
    let script = r#"
        local A = {}
        function A:on_spawn() events.emit("spawned", self.entity) end
        function A:on_update()
            for e in ecs.each("ScriptActor") do
                if e ~= self.entity then ecs.despawn(e) end
            end
            ecs.set(self.entity, "Counter", { value = 1 })
        end
        return A
    "#;
    for actors in [1, 2] {
        let mut h = harness(actors, &[("scripts/actor.luau", script)]);
        let entities = spawn(&mut h, "scripts/actor.luau", 4, true);
        spawned(&mut h, 4);
        h.update();
        h.assert_no_errors();
        let first = *entities.iter().min().expect("four");
        for entity in &entities {
            assert_eq!(
                h.app.world().get_entity(*entity).is_ok(),
                *entity == first,
                "only the first writer is left ({actors} actor VMs)"
            );
        }
        assert_eq!(counter(&h, first), Some(1.0));
        let actors_profile = h.app.world().resource::<ScriptProfiles>().actors;
        // Each of the three others queued three despawns and a set.
        assert_eq!(actors_profile.dropped_writes, 12, "{actors_profile:?}");
    }
}

#[test]
fn desynchronize_goes_back_to_the_parallel_phase() {
    let script = r#"
        local A = {}
        function A:on_spawn() events.emit("spawned", self.entity) end
        function A:on_update()
            task.synchronize()
            local serial = pcall(console.execute, "help")
            task.desynchronize()
            local parallel = pcall(console.execute, "help")
            ecs.set(self.entity, "Counter", { value = 1 })
            events.emit("phases", { serial = serial, parallel = parallel })
        end
        return A
    "#;
    let mut h = harness(2, &[("scripts/actor.luau", script)]);
    let entity = spawn(&mut h, "scripts/actor.luau", 1, true)[0];
    spawned(&mut h, 1);
    h.run_until_event("phases");
    let ScriptValue::Map(phases) = &h.payloads("phases")[0] else {
        panic!("a table");
    };
    assert_eq!(phases.get("serial"), Some(&ScriptValue::Bool(true)));
    assert_eq!(phases.get("parallel"), Some(&ScriptValue::Bool(false)));
    h.update();
    assert_eq!(counter(&h, entity), Some(1.0), "the queued write applied");
    h.assert_no_errors();
}

#[test]
fn an_actors_next_on_update_waits_while_one_is_suspended() {
    let script = r#"
        local A = {}
        function A:on_spawn()
            self.n = 0
            events.emit("spawned", self.entity)
        end
        function A:on_update()
            self.n += 1
            local n = self.n
            events.emit("start", n)
            task.wait()
            task.wait()
            events.emit("end", n)
        end
        return A
    "#;
    let mut h = harness(2, &[("scripts/actor.luau", script)]);
    spawn(&mut h, "scripts/actor.luau", 1, true);
    spawned(&mut h, 1);
    for _ in 0..8 {
        h.update();
    }
    h.assert_no_errors();
    let order: Vec<(String, ScriptValue)> = h
        .seen()
        .events
        .iter()
        .filter(|e| e.name == "start" || e.name == "end")
        .map(|e| (e.name.clone(), e.payload.clone()))
        .collect();
    assert!(order.len() >= 4, "{order:?}");
    for (i, (name, n)) in order.iter().enumerate() {
        let expected = if i % 2 == 0 { "start" } else { "end" };
        assert_eq!(name, expected, "start and end alternate: {order:?}");
        assert_eq!(*n, ScriptValue::Number((i / 2 + 1) as f64), "{order:?}");
    }
}
