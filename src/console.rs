//! [`Console`]: a command line over CVars, Rust commands and Lua commands.
//!
//! ```text
//! set <name> <value>    get <name>    toggle <name>    reset <name>
//! list [prefix]         help [command or CVar]
//! exec <file>           (a file of console lines under the asset folder; `#` or `//` comments)
//! lua <code>            (runs in the main VM, sandboxed like any script)
//! ```
//! Arguments split on spaces; `"double quotes"` keep spaces and `\"` a quote. Commands come
//! from Rust (`app.add_console_command`) and from Lua (`console.register(name, fn, help)`); an
//! unknown command lists the close matches. [`Console::execute`] runs a line from Rust, and
//! `console.execute(line)` from Lua.

use crate::cvar::{CVarFlags, CVarRegistry};
use crate::engine::ScriptEngine;
use crate::error::ScriptError;
use crate::function::registration::ScriptFunctions;
use crate::runtime::context::ConsoleHooks;
use crate::runtime::context::with_world;
use crate::suggest::close_matches;
use bevy_ecs::resource::Resource;
use bevy_ecs::world::{Mut, World};
use mlua::Lua;
use std::collections::BTreeMap;
use std::sync::Arc;

/// A console command written in Rust: gets the world and the arguments, returns its output.
pub type ConsoleHandler =
    Arc<dyn Fn(&mut World, &[String]) -> Result<String, ConsoleError> + Send + Sync>;

/// Why a console line failed. Its `Display` is the text the console shows after `error: `.
///
/// A command's handler returns one; `String` and `&str` convert into
/// [`Failed`](ConsoleError::Failed), so a handler may write `Err("not a number".into())` or
/// `Err(format!(...))?`-style code as with a plain string.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum ConsoleError {
    /// The line does not split into words: a quote is left open.
    #[error("a quote is not closed")]
    UnclosedQuote,
    /// No command or CVar has this name; `suggestions` are the close ones.
    #[error("unknown command or CVar `{name}`; {}", hint(suggestions))]
    Unknown {
        /// The name typed.
        name: String,
        /// Up to three known names close to it.
        suggestions: Vec<String>,
    },
    /// A built-in command lacks an argument.
    #[error("{command}: missing {what}; {usage}")]
    MissingArgument {
        /// The command.
        command: String,
        /// What is missing.
        what: &'static str,
        /// The command's usage.
        usage: &'static str,
    },
    /// A CVar refused the change, or Lua code failed: the error behind it.
    #[error("{}", .0.message)]
    Script(ScriptError),
    /// What the line needs is not in the app: the CVars, Lua, the asset server.
    #[error("{0}")]
    Unavailable(String),
    /// A command failed, with its own message.
    #[error("{0}")]
    Failed(String),
}

fn hint(suggestions: &[String]) -> String {
    if suggestions.is_empty() {
        "try `help`".to_owned()
    } else {
        format!("did you mean {}?", suggestions.join(", "))
    }
}

impl From<String> for ConsoleError {
    fn from(message: String) -> Self {
        Self::Failed(message)
    }
}

impl From<&str> for ConsoleError {
    fn from(message: &str) -> Self {
        Self::Failed(message.to_owned())
    }
}

impl From<ScriptError> for ConsoleError {
    fn from(error: ScriptError) -> Self {
        Self::Script(error)
    }
}

/// The commands of the console.
#[derive(Resource, Default, Clone)]
pub struct Console {
    commands: BTreeMap<String, (String, ConsoleHandler)>,
}

impl std::fmt::Debug for Console {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Console")
            .field("commands", &self.commands.keys().collect::<Vec<_>>())
            .finish()
    }
}

/// The built-in commands and their help.
pub const BUILTINS: &[(&str, &str)] = &[
    ("set", "set <name> <value>: sets a CVar"),
    ("get", "get <name>: shows a CVar"),
    ("toggle", "toggle <name>: flips a bool CVar"),
    ("reset", "reset <name>: puts a CVar back to its default"),
    ("list", "list [prefix]: lists CVars and commands"),
    (
        "help",
        "help [command or CVar]: explains one, or lists the commands",
    ),
    (
        "exec",
        "exec <file>: runs the console lines of a file under the asset folder",
    ),
    ("lua", "lua <code>: runs Luau in the main VM"),
    (
        "scripts",
        "scripts [path]: what each script costs (time per frame, peak, calls, memory, errors), or one script's calls by hook",
    ),
    (
        "profile",
        "profile [seconds]: collects for that long in game time, then reports the top 10 scripts; alone, shows the report",
    ),
];

impl Console {
    /// Adds a Rust command; adding a name again replaces it. Built-in names cannot be taken.
    pub fn add_command(
        &mut self,
        name: impl Into<String>,
        help: impl Into<String>,
        handler: ConsoleHandler,
    ) {
        let name = name.into();
        if BUILTINS.iter().any(|(b, _)| *b == name) {
            tracing::warn!(target: "bevy_luau", "`{name}` is a built-in console command and cannot be replaced");
            return;
        }
        self.commands.insert(name, (help.into(), handler));
    }

    /// Runs one console line and returns its output, or why it failed. Lua commands and
    /// `lua` need the [`ScriptEngine`]; without it only Rust commands and CVars work.
    ///
    /// ```
    /// # use bevy_app::{App, TaskPoolPlugin};
    /// # use bevy_asset::AssetPlugin;
    /// # use bevy_time::TimePlugin;
    /// use bevy_luau::prelude::*;
    ///
    /// let mut app = App::new();
    /// app.add_plugins((TaskPoolPlugin::default(), TimePlugin, AssetPlugin::default()))
    ///     .add_plugins(LuauScriptingPlugin)
    ///     .register_cvar("volume", 0.8, "master volume", CVarFlags::ARCHIVE)
    ///     .add_console_command("greet", "greet <name>: says hello", |_world, args| {
    ///         Ok(format!("hello, {}", args.join(" ")))
    ///     });
    /// app.finish();
    ///
    /// let world = app.world_mut();
    /// assert_eq!(Console::execute(world, "set volume 0.5"), Ok("volume = 0.5".into()));
    /// assert_eq!(Console::execute(world, "get volume"), Ok("volume = 0.5 (default 0.8)".into()));
    /// let greeting = Console::execute(world, r#"greet "Ada Lovelace""#);
    /// assert_eq!(greeting, Ok("hello, Ada Lovelace".into()));
    ///
    /// let error = Console::execute(world, "gret Ada").unwrap_err();
    /// assert!(matches!(&error, ConsoleError::Unknown { name, .. } if name == "gret"));
    /// assert_eq!(
    ///     error.to_string(),
    ///     "unknown command or CVar `gret`; did you mean get, greet, set?"
    /// );
    /// ```
    pub fn execute(world: &mut World, line: &str) -> Result<String, ConsoleError> {
        let ran = world.try_resource_scope(|world, mut engine: Mut<ScriptEngine>| {
            let lua = engine.lua().clone();
            let result =
                crate::runtime::context::lend_world(&lua, world, || run(&Reach::Lua(&lua), line));
            engine.flush_errors(world);
            result
        });
        match ran {
            Some(Ok(result)) => result,
            Some(Err(error)) => Err(ConsoleError::Script(error)),
            None => run(&Reach::World(std::cell::RefCell::new(world)), line),
        }
    }
}

/// Lets the main VM's `console.execute` and `console.register` reach the console.
pub(crate) fn attach(engine: &mut ScriptEngine) {
    engine.attach_console(ConsoleHooks {
        execute: |lua, line| run(&Reach::Lua(lua), line).map_err(|e| e.to_string()),
        builtin: |name| BUILTINS.iter().any(|(b, _)| *b == name),
    });
}

/// How the console reaches the world: directly, or through the main VM during a step.
pub(crate) enum Reach<'a> {
    World(std::cell::RefCell<&'a mut World>),
    Lua(&'a Lua),
}

impl Reach<'_> {
    fn world<R>(&self, f: impl FnOnce(&mut World) -> R) -> Result<R, ConsoleError> {
        match self {
            Reach::World(world) => Ok(f(&mut world.borrow_mut())),
            Reach::Lua(lua) => {
                with_world(lua, f).map_err(|e| ConsoleError::Unavailable(e.to_string()))
            }
        }
    }

    fn lua(&self) -> Result<&Lua, ConsoleError> {
        match self {
            Reach::Lua(lua) => Ok(lua),
            Reach::World(_) => Err(ConsoleError::Unavailable(
                crate::runtime::context::reentered("Console::execute")
                    .unwrap_or_else(|| "Lua is not available: add LuauScriptingPlugin".into()),
            )),
        }
    }
}

/// Runs one console line.
pub(crate) fn run(reach: &Reach<'_>, line: &str) -> Result<String, ConsoleError> {
    let words = split(line)?;
    let Some((command, args)) = words.split_first() else {
        return Ok(String::new());
    };
    let arg = |i: usize, what: &'static str| {
        args.get(i)
            .map(String::as_str)
            .ok_or_else(|| ConsoleError::MissingArgument {
                command: command.clone(),
                what,
                usage: builtin_help(command),
            })
    };
    let cvars = |f: &mut dyn FnMut(&mut CVarRegistry) -> Result<String, ConsoleError>| {
        reach
            .world(|world| match world.get_resource_mut::<CVarRegistry>() {
                Some(mut registry) => f(&mut registry),
                None => Err(ConsoleError::Unavailable(
                    "there are no CVars: add LuauScriptingPlugin".into(),
                )),
            })
            .and_then(|r| r)
    };
    match command.as_str() {
        "set" => {
            let (name, value) = (arg(0, "the CVar name")?, arg(1, "the value")?);
            cvars(&mut |r| {
                r.set_from_str(name, value).map_err(ConsoleError::Script)?;
                Ok(format!(
                    "{name} = {}",
                    r.get(name).map(ToString::to_string).unwrap_or_default()
                ))
            })
        }
        "get" => {
            let name = arg(0, "the CVar name")?;
            cvars(&mut |r| match r.cvar(name) {
                Some(cvar) => Ok(format!(
                    "{name} = {} (default {})",
                    cvar.value, cvar.default
                )),
                None => Err(unknown(name, r.iter().map(|(n, _)| n))),
            })
        }
        "toggle" => {
            let name = arg(0, "the CVar name")?;
            cvars(&mut |r| {
                r.toggle(name)
                    .map(|now| format!("{name} = {now}"))
                    .map_err(ConsoleError::Script)
            })
        }
        "reset" => {
            let name = arg(0, "the CVar name")?;
            cvars(&mut |r| {
                r.reset(name).map_err(ConsoleError::Script)?;
                Ok(format!(
                    "{name} = {}",
                    r.get(name).map(ToString::to_string).unwrap_or_default()
                ))
            })
        }
        "list" => list(reach, args.first().map_or("", String::as_str)),
        "scripts" => reach
            .world(|world| {
                crate::diagnostics::scripts_command(world, args.first().map(String::as_str))
            })?
            .map_err(ConsoleError::Failed),
        "profile" => reach
            .world(|world| {
                crate::diagnostics::profile_command(world, args.first().map(String::as_str))
            })?
            .map_err(ConsoleError::Failed),
        "help" => help(reach, args.first().map(String::as_str)),
        "exec" => exec(reach, arg(0, "the file")?),
        "lua" => {
            let code = line
                .trim_start()
                .strip_prefix("lua")
                .unwrap_or_default()
                .trim();
            crate::api::console::run_lua(reach.lua()?, code).map_err(ConsoleError::Script)
        }
        name => {
            let rust = reach.world(|world| {
                world
                    .get_resource::<Console>()
                    .and_then(|c| c.commands.get(name).map(|(_, h)| h.clone()))
            })?;
            if let Some(handler) = rust {
                return reach.world(|world| handler(world, args))?;
            }
            if let Reach::Lua(lua) = reach
                && let Some(result) = crate::api::console::call_lua_command(lua, name, args)
            {
                return result.map_err(ConsoleError::Script);
            }
            let names = command_names(reach);
            Err(unknown(name, names.iter().map(String::as_str)))
        }
    }
}

fn builtin_help(command: &str) -> &'static str {
    BUILTINS
        .iter()
        .find(|(b, _)| *b == command)
        .map_or("", |(_, h)| h)
}

/// Every command name: built-ins, Rust and Lua commands.
fn command_names(reach: &Reach<'_>) -> Vec<String> {
    let mut names: Vec<String> = BUILTINS.iter().map(|(b, _)| (*b).to_owned()).collect();
    if let Ok(rust) = reach.world(|w| {
        w.get_resource::<Console>()
            .map(|c| c.commands.keys().cloned().collect::<Vec<_>>())
    }) {
        names.extend(rust.unwrap_or_default());
    }
    if let Reach::Lua(lua) = reach {
        names.extend(
            crate::api::console::lua_commands(lua)
                .into_iter()
                .map(|(n, _)| n),
        );
    }
    names
}

fn unknown<'a>(name: &str, known: impl Iterator<Item = &'a str>) -> ConsoleError {
    ConsoleError::Unknown {
        name: name.to_owned(),
        suggestions: close_matches(name, known),
    }
}

fn list(reach: &Reach<'_>, prefix: &str) -> Result<String, ConsoleError> {
    let mut lines: Vec<String> = reach.world(|world| {
        world
            .get_resource::<CVarRegistry>()
            .map_or_else(Vec::new, |r| {
                r.iter()
                    .filter(|(n, _)| n.starts_with(prefix))
                    .map(|(n, c)| {
                        let flags = flag_names(c.flags);
                        format!(
                            "{n} = {} [{}{flags}] {}",
                            c.value,
                            c.default.type_name(),
                            c.description
                        )
                    })
                    .collect()
            })
    })?;
    let mut commands = command_names(reach);
    commands.retain(|c| c.starts_with(prefix));
    commands.sort();
    lines.extend(commands.into_iter().map(|c| format!("{c} (command)")));
    Ok(lines.join("\n"))
}

fn flag_names(flags: CVarFlags) -> String {
    [
        (CVarFlags::ARCHIVE, "archive"),
        (CVarFlags::READ_ONLY, "read_only"),
        (CVarFlags::CHEAT, "cheat"),
    ]
    .iter()
    .filter(|(f, _)| flags.contains(*f))
    .map(|(_, n)| format!(", {n}"))
    .collect()
}

fn help(reach: &Reach<'_>, topic: Option<&str>) -> Result<String, ConsoleError> {
    let Some(topic) = topic else {
        let mut names = command_names(reach);
        names.sort();
        let functions = reach.world(|w| {
            w.get_resource::<ScriptFunctions>()
                .map(|f| f.infos().iter().map(|info| info.name).collect::<Vec<_>>())
                .unwrap_or_default()
        })?;
        let functions = if functions.is_empty() {
            String::new()
        } else {
            format!("\nscript functions: {}", functions.join(", "))
        };
        return Ok(format!(
            "commands: {}{functions}\n`help <name>` explains one; `list` shows the CVars",
            names.join(", ")
        ));
    };
    if let Some((_, text)) = BUILTINS.iter().find(|(b, _)| *b == topic) {
        return Ok((*text).to_owned());
    }
    let rust = reach.world(|w| {
        w.get_resource::<Console>()
            .and_then(|c| c.commands.get(topic).map(|(h, _)| h.clone()))
    })?;
    if let Some(text) = rust {
        return Ok(format!("{topic}: {text}"));
    }
    let function = reach.world(|w| {
        w.get_resource::<ScriptFunctions>().and_then(|f| {
            f.info(topic)
                .map(|info| (info.luau_type(), info.doc.clone()))
        })
    })?;
    if let Some((signature, doc)) = function {
        let doc = if doc.is_empty() {
            String::new()
        } else {
            format!(": {doc}")
        };
        return Ok(format!("{topic} {signature}{doc}"));
    }
    if let Reach::Lua(lua) = reach
        && let Some((_, text)) = crate::api::console::lua_commands(lua)
            .into_iter()
            .find(|(n, _)| n == topic)
    {
        return Ok(format!("{topic}: {text}"));
    }
    let cvar = reach.world(|w| {
        w.get_resource::<CVarRegistry>().and_then(|r| {
            r.cvar(topic).map(|c| {
                format!(
                    "{topic}: {} ({}, default {}{})",
                    c.description,
                    c.default.type_name(),
                    c.default,
                    flag_names(c.flags)
                )
            })
        })
    })?;
    cvar.ok_or_else(|| {
        let names = command_names(reach);
        unknown(topic, names.iter().map(String::as_str))
    })
}

fn exec(reach: &Reach<'_>, file: &str) -> Result<String, ConsoleError> {
    let path = crate::api::require::resolve("", file).map_err(|e| format!("exec: {e}"))?;
    let server = reach.world(|w| w.get_resource::<bevy_asset::AssetServer>().cloned())?;
    let server = server.ok_or_else(|| {
        ConsoleError::Unavailable("exec: files are read through Bevy's AssetPlugin".into())
    })?;
    let text = crate::api::require::read(&server, &path)
        .map_err(|e| e.to_string())?
        .ok_or_else(|| format!("exec: no file `{path}`"))?;
    let mut output = Vec::new();
    for (number, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with("//") {
            continue;
        }
        match run(reach, line) {
            Ok(text) if text.is_empty() => {}
            Ok(text) => output.push(text),
            Err(error) => output.push(format!("{path}:{}: error: {error}", number + 1)),
        }
    }
    Ok(output.join("\n"))
}

/// Splits a console line into words: spaces separate, double quotes group, `\"` and `\\`
/// escape inside quotes.
pub fn split(line: &str) -> Result<Vec<String>, ConsoleError> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut quoted = false;
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            '"' => {
                quoted = !quoted;
                in_word = true;
            }
            '\\' if quoted => match chars.next() {
                Some(escaped @ ('"' | '\\')) => word.push(escaped),
                Some(other) => {
                    word.push('\\');
                    word.push(other);
                }
                None => word.push('\\'),
            },
            c if c.is_whitespace() && !quoted => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            c => {
                word.push(c);
                in_word = true;
            }
        }
    }
    if quoted {
        return Err(ConsoleError::UnclosedQuote);
    }
    if in_word {
        words.push(word);
    }
    Ok(words)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_group_words_and_escape() {
        assert_eq!(
            split(r#"set name "Ada Lovelace""#).unwrap(),
            ["set", "name", "Ada Lovelace"]
        );
        assert_eq!(
            split(r#"say "a \"quoted\" word" x"#).unwrap(),
            ["say", r#"a "quoted" word"#, "x"]
        );
        assert_eq!(split(r#"set s """#).unwrap(), ["set", "s", ""]);
        assert!(split(r#"set s "open"#).is_err());
        assert!(split("   ").unwrap().is_empty());
    }
}
