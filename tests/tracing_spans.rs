//! Tracing spans around calls into scripts, seen by a real `tracing` subscriber. A test binary
//! of its own: the subscriber is the process's global default, so every thread the app runs
//! on reports to it.

mod common;

use bevy_asset::AssetServer;
use bevy_luau::prelude::*;
use common::Harness;

const BUSY: &str = r#"
hooks.on_update(function() end)
events.on("ping", function() return true end)
"#;

const MOVER: &str = r#"
local M = {}
function M.on_spawn(self) self.n = 0 end
function M.on_update(self) self.n += 1 end
return M
"#;

/// Span fields of `bevy_luau::script` spans, as a subscriber records them.
#[derive(Default, Clone)]
struct Recorded(std::sync::Arc<std::sync::Mutex<Vec<String>>>);

impl<S: tracing::Subscriber> bevy_log::tracing_subscriber::Layer<S> for Recorded {
    fn on_new_span(
        &self,
        attrs: &tracing::span::Attributes<'_>,
        _id: &tracing::span::Id,
        _ctx: bevy_log::tracing_subscriber::layer::Context<'_, S>,
    ) {
        if attrs.metadata().target() != "bevy_luau::script" {
            return;
        }
        struct Fields(String);
        impl tracing::field::Visit for Fields {
            fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
                self.0.push_str(&format!("{}={:?} ", field.name(), value));
            }
            fn record_str(&mut self, field: &tracing::field::Field, value: &str) {
                self.0.push_str(&format!("{}={} ", field.name(), value));
            }
        }
        let mut fields = Fields(String::new());
        attrs.record(&mut fields);
        self.0.lock().expect("spans").push(fields.0);
    }
}

#[test]
fn every_call_into_a_script_is_a_span_with_its_path_and_hook() {
    use bevy_log::tracing_subscriber::layer::SubscriberExt;
    let recorded = Recorded::default();
    let subscriber = bevy_log::tracing_subscriber::registry().with(recorded.clone());
    tracing::subscriber::set_global_default(subscriber).expect("the only subscriber");
    let mut h = Harness::new(&[("scripts/busy.luau", BUSY), ("scripts/mover.luau", MOVER)])
        .scripts(&["scripts/busy.luau"]);
    let mover = h
        .app
        .world()
        .resource::<AssetServer>()
        .load("scripts/mover.luau");
    for _ in 0..3 {
        h.app.world_mut().spawn(Script::new(mover.clone()));
    }
    let profiled = |h: &Harness| {
        let profiles = h.app.world().resource::<ScriptProfiles>();
        ["scripts/busy.luau", "scripts/mover.luau"]
            .iter()
            .all(|p| profiles.script(p).is_some_and(|s| s.calls > 3))
    };
    let deadline = common::Deadline::new();
    while !profiled(&h) {
        deadline.check("both scripts to run");
        h.update();
    }
    ScriptEngine::emit(h.app.world_mut(), "ping", ScriptValue::Nil).expect("ping");
    let spans = recorded.0.lock().expect("spans").clone();
    let has = |needles: &[&str]| spans.iter().any(|s| needles.iter().all(|n| s.contains(n)));
    assert!(has(&["path=scripts/busy.luau", "kind=load"]), "{spans:#?}");
    assert!(has(&[
        "path=scripts/busy.luau",
        "kind=hook",
        "name=on_update"
    ]));
    assert!(has(&["path=scripts/busy.luau", "kind=event", "name=ping"]));
    assert!(has(&[
        "path=scripts/mover.luau",
        "kind=method",
        "name=on_spawn"
    ]));
    // Each instance's on_update has a span of its own, with its entity.
    let instance_spans = spans
        .iter()
        .filter(|s| {
            s.contains("path=scripts/mover.luau")
                && s.contains("name=on_update")
                && s.contains("entity=")
        })
        .count();
    assert!(instance_spans >= 3, "{spans:#?}");
}
