//! Registered Bevy messages: Lua's `events.emit` writes them, and Rust-written ones reach Lua.

mod common;

use bevy_app::Update;
use bevy_ecs::prelude::*;
use bevy_luau::prelude::*;
use common::Harness;
use serde::{Deserialize, Serialize};

#[derive(Message, Serialize, Deserialize, Debug, Clone, PartialEq)]
struct Damage {
    amount: f32,
    source: String,
}

#[derive(Resource, Default)]
struct Received(Vec<Damage>);

fn receive(mut reader: MessageReader<Damage>, mut received: ResMut<Received>) {
    received.0.extend(reader.read().cloned());
}

fn harness(source: &str) -> Harness {
    let mut h = Harness::new(&[("scripts/test.luau", source)]);
    h.app
        .register_script_message::<Damage>()
        .init_resource::<Received>()
        .add_systems(Update, receive.after(ScriptingSystem));
    h.app.add_script("scripts/test.luau");
    h
}

#[test]
fn lua_emits_a_real_bevy_message() {
    let mut h = harness(
        r#"
        events.emit("Damage", {amount = 5, source = "trap"})
        events.emit("done")
    "#,
    );
    h.run_until_event("done");
    h.update();
    h.assert_no_errors();
    let received = &h.app.world().resource::<Received>().0;
    assert_eq!(
        received,
        &vec![Damage {
            amount: 5.0,
            source: "trap".into()
        }]
    );
    assert!(
        h.payloads("Damage").is_empty(),
        "a registered name is not a ScriptEvent"
    );
}

#[test]
fn rust_messages_reach_lua_handlers_in_the_same_step() {
    fn hit(mut writer: MessageWriter<Damage>, mut sent: Local<bool>) {
        if !*sent {
            *sent = true;
            writer.write(Damage {
                amount: 3.0,
                source: "sword".into(),
            });
        }
    }
    let mut h = harness(
        r#"
        events.on("Damage", function(damage)
            events.emit("took", damage.amount)
            assert(damage.source == "sword")
        end)
        events.emit("ready")
    "#,
    );
    h.run_until_event("ready");
    h.app.add_systems(Update, hit.before(ScriptingSystem));
    h.update();
    h.assert_no_errors();
    assert_eq!(h.payloads("took"), vec![ScriptValue::Number(3.0)]);
}

#[test]
fn a_wrong_shape_is_a_type_mismatch() {
    let mut h = harness(r#"events.emit("Damage", {amount = "lots"})"#);
    h.run_until("an error", |seen| !seen.errors.is_empty());
    let error = &h.seen().errors[0];
    assert_eq!(error.kind, ScriptErrorKind::TypeMismatch);
    assert!(error.message.contains("Damage"), "{}", error.message);
    assert!(h.app.world().resource::<Received>().0.is_empty());
}
