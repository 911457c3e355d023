//! Immutable components (`#[component(immutable)]`, as Bevy's relationship components are):
//! scripts insert them whole, which runs their hooks, and a write in place is a clear error,
//! never a panic.

mod common;

use bevy_ecs::hierarchy::{ChildOf, Children};
use bevy_ecs::prelude::*;
use bevy_luau::prelude::*;
use bevy_reflect::Reflect;
use common::{Harness, LUA_PRELUDE};

#[derive(Component, Reflect, Debug, Clone, PartialEq)]
#[component(immutable)]
#[reflect(Component)]
struct Anchor {
    x: f32,
}

fn run(body: &str) -> Harness {
    let source = format!("{LUA_PRELUDE}\n{body}\nevents.emit('done')\n");
    let mut h = Harness::set_up_before_plugin(
        LuauScriptingPlugin::default(),
        &[("scripts/t.luau", &source)],
        |app| {
            app.register_type::<Anchor>().register_type::<ChildOf>();
        },
    )
    .scripts(&["scripts/t.luau"]);
    h.run_until_done();
    h
}

#[test]
fn immutable_components_are_inserted_whole_and_refuse_writes_in_place() {
    let h = run(r#"
        local e = ecs.spawn({ Anchor = { x = 1 } })
        assert(ecs.get(e, "Anchor").x == 1)
        ecs.set(e, "Anchor", { x = 2 })                    -- replaced whole
        assert(ecs.get(e, "Anchor").x == 2)
        local r = assert(ecs.ref(e, "Anchor"))
        assert(r.x == 2, "reading through a reference works")
        fails("ComponentRef(Anchor): the component is immutable", function() r.x = 3 end)
        fails("the component is immutable", function()
            for _, anchor in ecs.each("Anchor") do anchor.x = 4 end
        end)
        commands.set(e, "Anchor", { x = 5 })
        events.emit("anchor", e)
    "#);
    h.assert_no_errors();
    let e = h.payloads("anchor")[0].as_entity().expect("the entity");
    assert_eq!(h.app.world().get::<Anchor>(e), Some(&Anchor { x: 5.0 }));
}

#[test]
fn a_hierarchy_is_built_from_lua_and_its_hooks_run() {
    let h = run(r#"
        local parent = ecs.spawn()
        local child = ecs.spawn({ ChildOf = parent })
        local other = ecs.spawn()
        ecs.set(other, "ChildOf", parent)
        events.emit("family", { parent, child, other })
    "#);
    h.assert_no_errors();
    let family = h.payloads("family");
    let ids: Vec<Entity> = family[0]
        .as_list()
        .expect("a list")
        .iter()
        .map(|v| v.as_entity().expect("an entity"))
        .collect();
    let children = h
        .app
        .world()
        .get::<Children>(ids[0])
        .expect("the hook made Children");
    assert_eq!(&children[..], &ids[1..]);
}
