//! The `log` library and `print`: Lua output goes to `tracing`, tagged with the script's path.
//!
//! ```lua
//! log.debug("spawned", count)   log.info(...)   log.warn(...)   log.error(...)
//! print(...)                    -- the same as log.info
//! ```
//! Arguments are turned into text with `tostring` and joined with tabs, as `print` does.
//!
//! `tracing` shows nothing until a subscriber is installed (`bevy_log::LogPlugin`, which
//! `DefaultPlugins` holds). The first time a script prints or fails with none installed,
//! [`say_when_unheard`] says so once on stderr, so a new user is not left in silence.

use mlua::{Lua, MultiValue, Table};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// The `tracing` target of everything scripts log.
pub const LOG_TARGET: &str = "bevy_luau::script";

#[derive(Clone, Copy)]
enum Level {
    Debug,
    Info,
    Warn,
    Error,
}

/// Adds `log` and `print` to a script's environment, reporting `path` as the source.
pub(crate) fn install(lua: &Lua, env: &Table, path: &Arc<str>) -> mlua::Result<()> {
    let log = lua.create_table()?;
    for (name, level) in [
        ("debug", Level::Debug),
        ("info", Level::Info),
        ("warn", Level::Warn),
        ("error", Level::Error),
    ] {
        let path = path.clone();
        let function = lua.create_function(move |lua, args: MultiValue| {
            let text = join(&args)?;
            crate::debug::output(lua, name, &text);
            say_when_unheard();
            match level {
                Level::Debug => tracing::debug!(target: LOG_TARGET, script = %path, "{text}"),
                Level::Info => tracing::info!(target: LOG_TARGET, script = %path, "{text}"),
                Level::Warn => tracing::warn!(target: LOG_TARGET, script = %path, "{text}"),
                Level::Error => tracing::error!(target: LOG_TARGET, script = %path, "{text}"),
            }
            Ok(())
        })?;
        log.raw_set(name, function)?;
    }
    env.raw_set("print", log.raw_get::<mlua::Function>("info")?)?;
    log.set_readonly(true);
    env.raw_set("log", log)
}

/// Whether the process was told that script output goes nowhere.
static TOLD: AtomicBool = AtomicBool::new(false);

/// Says once on stderr, the first time a script prints or an error is logged with no
/// `tracing` subscriber installed, that nothing will show and what to add.
pub(crate) fn say_when_unheard() {
    if TOLD.load(Ordering::Relaxed) {
        return;
    }
    if tell(&TOLD, unheard()) {
        eprintln!(
            "bevy_luau: a script printed or failed, but no tracing subscriber is installed, so \
             nothing shows. Add bevy_log's LogPlugin (`app.add_plugins(LogPlugin::default())`; \
             DefaultPlugins has it) or install any tracing subscriber."
        );
    }
}

/// Whether the current `tracing` dispatcher drops everything: no subscriber is installed,
/// globally or for this thread.
fn unheard() -> bool {
    tracing::dispatcher::get_default(|dispatch| dispatch.is::<tracing::subscriber::NoSubscriber>())
}

/// Whether to tell now: the output is `unheard` and nobody told yet (`told` is then set).
fn tell(told: &AtomicBool, unheard: bool) -> bool {
    unheard && !told.swap(true, Ordering::Relaxed)
}

/// Joins values the way `print` does: `tostring` of each, separated by tabs.
fn join(args: &MultiValue) -> mlua::Result<String> {
    let mut text = String::new();
    for (i, value) in args.iter().enumerate() {
        if i > 0 {
            text.push('\t');
        }
        text.push_str(&value.to_string()?);
    }
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tracing::dispatcher::{Dispatch, with_default};

    /// A subscriber that wants everything and records nothing.
    struct Listening;

    impl tracing::Subscriber for Listening {
        fn enabled(&self, _: &tracing::Metadata<'_>) -> bool {
            true
        }
        fn new_span(&self, _: &tracing::span::Attributes<'_>) -> tracing::span::Id {
            tracing::span::Id::from_u64(1)
        }
        fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}
        fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
        fn event(&self, _: &tracing::Event<'_>) {}
        fn enter(&self, _: &tracing::span::Id) {}
        fn exit(&self, _: &tracing::span::Id) {}
    }

    #[test]
    fn output_is_unheard_only_without_a_subscriber() {
        with_default(&Dispatch::none(), || assert!(unheard()));
        with_default(&Dispatch::new(Listening), || assert!(!unheard()));
    }

    #[test]
    fn the_user_is_told_once_and_only_when_unheard() {
        let told = AtomicBool::new(false);
        assert!(!tell(&told, false), "a subscriber hears it: nothing to say");
        assert!(tell(&told, true), "the first time nobody hears");
        assert!(!tell(&told, true), "only once");
    }
}
