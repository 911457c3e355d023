//! [`ScriptError`]: the one error type of the crate, also sent as a Bevy message.

use bevy_ecs::message::Message;
use std::fmt;

/// What went wrong in a script, a job or a scripting file.
///
/// New kinds may be added in minor releases; match with a wildcard arm.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ScriptErrorKind {
    /// The source failed to compile (a syntax error).
    Compile,
    /// A Lua error raised while running: `error(...)`, a failed `assert`, a bad argument.
    Runtime,
    /// The script ran past [`ScriptConfig::instruction_limit`](crate::ScriptConfig::instruction_limit).
    InstructionLimit,
    /// A call into the script ran past [`ScriptConfig::time_limit`](crate::ScriptConfig::time_limit).
    TimeLimit,
    /// The VM ran past [`ScriptConfig::memory_limit`](crate::ScriptConfig::memory_limit).
    MemoryLimit,
    /// A component, resource or message name that nothing registered.
    UnknownComponent,
    /// A value of the wrong type or shape crossed between Lua and Rust.
    TypeMismatch,
    /// An entity that does not exist (any more) was passed to a world function.
    EntityNotFound,
    /// The [`ActionQueue`](crate) stayed full for longer than a producer would wait.
    QueueFull,
    /// A file could not be read or written, or an asset failed to load.
    Io,
    /// A configuration file (`game.toml`, a CVar file) is malformed, or a registration
    /// conflicts with an earlier one (a CVar registered again with another type).
    Config,
    /// A CVar name that nothing registered.
    UnknownCVar,
    /// A job name that no worker script defined with `jobs.define`.
    UnknownJob,
    /// A change the target refuses: a read-only CVar, or a cheat CVar while `sv_cheats` is off.
    Denied,
    /// A value outside the range its CVar allows.
    OutOfRange,
    /// A plugin the call needs is missing from the app: `LuauScriptingPlugin` itself, or Bevy's
    /// `AssetPlugin` or `TaskPoolPlugin`.
    MissingPlugin,
    /// A job's Rust side panicked; its worker VM was replaced.
    JobPanicked,
}

impl From<crate::ffi::interrupt::Spent> for ScriptErrorKind {
    fn from(spent: crate::ffi::interrupt::Spent) -> Self {
        match spent {
            crate::ffi::interrupt::Spent::Instructions => Self::InstructionLimit,
            crate::ffi::interrupt::Spent::Time => Self::TimeLimit,
        }
    }
}

impl fmt::Display for ScriptErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match self {
            Self::Compile => "compile error",
            Self::Runtime => "runtime error",
            Self::InstructionLimit => "instruction limit exceeded",
            Self::TimeLimit => "time limit exceeded",
            Self::MemoryLimit => "memory limit exceeded",
            Self::UnknownComponent => "unknown component",
            Self::TypeMismatch => "type mismatch",
            Self::EntityNotFound => "entity not found",
            Self::QueueFull => "action queue full",
            Self::Io => "i/o error",
            Self::Config => "configuration error",
            Self::UnknownCVar => "unknown CVar",
            Self::UnknownJob => "unknown job",
            Self::Denied => "denied",
            Self::OutOfRange => "out of range",
            Self::MissingPlugin => "missing plugin",
            Self::JobPanicked => "job panicked",
        };
        f.write_str(name)
    }
}

/// What [`ScriptError::script`] names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorOrigin {
    /// A script, a module or a scripting file: `script` is its asset path (or file path).
    Script,
    /// A worker job: `script` is the job's name ([`RUN_CHUNK`](crate::RUN_CHUNK) for
    /// [`ScriptRunner::run_chunk`](crate::ScriptRunner::run_chunk)).
    Job,
    /// A console variable: `script` is its name.
    CVar,
    /// A console line: `script` is `"console"`.
    Console,
    /// The crate itself, outside any script (creating a VM, a call that needs a missing
    /// plugin, a message Lua cannot receive): `script` is `"bevy_luau"`.
    Crate,
}

/// An error from a script, a job or a scripting file.
///
/// Every error is written as a `ScriptError` message, so systems can react to it with a
/// `MessageReader<ScriptError>`, and logged with `tracing`: the first from a place (script,
/// kind, first line of the message) in full, its repeats within the second counted and logged
/// as one line a second ("… repeated 59 times in the last second").
#[derive(Message, Debug, Clone, PartialEq)]
pub struct ScriptError {
    /// The asset path of the script, or the job name, that failed; `"console"` or
    /// `"bevy_luau"` for the console and the crate. [`origin`](Self::origin) says which.
    pub script: String,
    /// What `script` names.
    pub origin: ErrorOrigin,
    /// What kind of failure it was.
    pub kind: ScriptErrorKind,
    /// The message, with `file:line` and a Luau traceback where Luau gives one.
    pub message: String,
}

impl ScriptError {
    /// Creates an error of the script (or file) at `script`.
    pub fn new(
        script: impl Into<String>,
        kind: ScriptErrorKind,
        message: impl Into<String>,
    ) -> Self {
        Self {
            script: script.into(),
            origin: ErrorOrigin::Script,
            kind,
            message: message.into(),
        }
    }

    /// Creates an error of the worker job `name`.
    pub fn in_job(
        name: impl Into<String>,
        kind: ScriptErrorKind,
        message: impl Into<String>,
    ) -> Self {
        let mut name = name.into();
        // `ScriptRunner::call("")` has no name to name it by.
        if name.is_empty() {
            name = "(unnamed job)".to_owned();
        }
        Self::new(name, kind, message).with_origin(ErrorOrigin::Job)
    }

    /// Creates an error of the console variable `name`.
    pub fn in_cvar(
        name: impl Into<String>,
        kind: ScriptErrorKind,
        message: impl Into<String>,
    ) -> Self {
        Self::new(name, kind, message).with_origin(ErrorOrigin::CVar)
    }

    /// Creates an error of a console line.
    pub fn in_console(kind: ScriptErrorKind, message: impl Into<String>) -> Self {
        Self::new("console", kind, message).with_origin(ErrorOrigin::Console)
    }

    /// Creates an error of the crate itself, outside any script.
    pub fn in_crate(kind: ScriptErrorKind, message: impl Into<String>) -> Self {
        Self::new("bevy_luau", kind, message).with_origin(ErrorOrigin::Crate)
    }

    /// The same error, of `origin`.
    pub fn with_origin(self, origin: ErrorOrigin) -> Self {
        Self { origin, ..self }
    }

    /// Turns an mlua error raised while running `script` into a `ScriptError`, picking the kind
    /// from the error itself.
    ///
    /// `stopped` is the limit that stopped the call, if one did (what `Budget::run` returns):
    /// the interrupt raises a plain Lua error, so only the caller knows.
    pub(crate) fn from_lua(
        script: &str,
        error: &mlua::Error,
        stopped: Option<ScriptErrorKind>,
    ) -> Self {
        let kind = stopped.unwrap_or_else(|| classify(error));
        Self::new(script, kind, render(error))
    }
}

impl fmt::Display for ScriptError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (kind, script, message) = (self.kind, &self.script, &self.message);
        match self.origin {
            ErrorOrigin::Job => write!(f, "{kind} in job `{script}`: {message}"),
            ErrorOrigin::CVar => write!(f, "{kind} in CVar `{script}`: {message}"),
            ErrorOrigin::Console => write!(f, "{kind} in the console: {message}"),
            ErrorOrigin::Script | ErrorOrigin::Crate => write!(f, "{kind} in {script}: {message}"),
        }
    }
}

impl std::error::Error for ScriptError {}

/// Marker carried inside an `mlua::Error::ExternalError` to give a Lua error a specific kind
/// (an unknown component, a type mismatch) while it travels through Lua frames.
#[derive(Debug, Clone)]
pub(crate) struct KindedError {
    pub kind: ScriptErrorKind,
    pub message: String,
}

impl fmt::Display for KindedError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for KindedError {}

/// Builds a Lua error of a given kind, for Rust functions called from Lua.
pub(crate) fn lua_error(kind: ScriptErrorKind, message: impl Into<String>) -> mlua::Error {
    mlua::Error::external(KindedError {
        kind,
        message: message.into(),
    })
}

/// Picks the [`ScriptErrorKind`] of an mlua error, looking through callback and context wrappers.
fn classify(error: &mlua::Error) -> ScriptErrorKind {
    match error {
        mlua::Error::SyntaxError { .. } => ScriptErrorKind::Compile,
        mlua::Error::MemoryError(_) => ScriptErrorKind::MemoryLimit,
        mlua::Error::CallbackError { cause, .. } => classify(cause),
        mlua::Error::WithContext { cause, .. } => classify(cause),
        mlua::Error::FromLuaConversionError { .. }
        | mlua::Error::BadArgument { .. }
        | mlua::Error::UserDataTypeMismatch
        | mlua::Error::SerializeError(_)
        | mlua::Error::DeserializeError(_) => {
            if let mlua::Error::BadArgument { cause, .. } = error {
                let inner = classify(cause);
                if inner != ScriptErrorKind::Runtime {
                    return inner;
                }
            }
            ScriptErrorKind::TypeMismatch
        }
        mlua::Error::ExternalError(inner) => inner
            .downcast_ref::<KindedError>()
            .map(|k| k.kind)
            .or_else(|| inner.downcast_ref::<ScriptError>().map(|e| e.kind))
            .unwrap_or(ScriptErrorKind::Runtime),
        _ => ScriptErrorKind::Runtime,
    }
}

/// Renders an mlua error as one message: the innermost cause first (it carries `file:line`),
/// then the traceback Luau attached.
fn render(error: &mlua::Error) -> String {
    match error {
        mlua::Error::CallbackError { traceback, cause } => {
            let cause = render(cause);
            let traceback = trim_traceback(traceback);
            if traceback.is_empty() {
                cause
            } else {
                format!("{cause}\n{traceback}")
            }
        }
        mlua::Error::WithContext { context, cause } => format!("{context}: {}", render(cause)),
        mlua::Error::SyntaxError { message, .. } | mlua::Error::RuntimeError(message) => {
            message.clone()
        }
        other => other.to_string(),
    }
}

/// A Luau traceback without the crate's own `[C]` frames (its library functions, and the
/// unnamed frame mlua adds under them), which say nothing the message does not; the script's
/// frames and Luau's built-ins stay. Empty when no frame is left.
fn trim_traceback(traceback: &str) -> String {
    let ours = |line: &str| {
        let Some(frame) = line.trim().strip_prefix("[C]: in ") else {
            return false;
        };
        if frame == "?" {
            return true;
        }
        let name = frame
            .strip_prefix("function '")
            .and_then(|f| f.strip_suffix('\''))
            .unwrap_or_default();
        name.split(['.', ':']).next().is_some_and(|library| {
            // The crate's libraries, and `Job` methods (`job:await`).
            let ours = crate::suggest::LIBRARIES.contains(&library) || library == "job";
            name.len() > library.len() && ours
        })
    };
    let kept: Vec<&str> = traceback.lines().filter(|line| !ours(line)).collect();
    if kept.iter().all(|line| line.starts_with("stack traceback")) {
        return String::new();
    }
    kept.join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_origin_says_what_the_error_is_of() {
        let cases = [
            (
                ScriptError::new("scripts/a.luau", ScriptErrorKind::Runtime, "boom"),
                ErrorOrigin::Script,
                "runtime error in scripts/a.luau: boom",
            ),
            (
                ScriptError::in_job("pathfind", ScriptErrorKind::UnknownJob, "no job"),
                ErrorOrigin::Job,
                "unknown job in job `pathfind`: no job",
            ),
            (
                ScriptError::in_cvar("r_fov", ScriptErrorKind::OutOfRange, "too wide"),
                ErrorOrigin::CVar,
                "out of range in CVar `r_fov`: too wide",
            ),
            (
                ScriptError::in_console(ScriptErrorKind::Runtime, "bad line"),
                ErrorOrigin::Console,
                "runtime error in the console: bad line",
            ),
            (
                ScriptError::in_crate(ScriptErrorKind::MissingPlugin, "add it"),
                ErrorOrigin::Crate,
                "missing plugin in bevy_luau: add it",
            ),
        ];
        for (error, origin, text) in cases {
            assert_eq!(error.origin, origin);
            assert_eq!(error.to_string(), text);
        }
    }

    #[test]
    fn kinded_errors_keep_their_kind_through_callbacks() {
        let inner = lua_error(
            ScriptErrorKind::UnknownComponent,
            "ecs.get: no component `Helth`",
        );
        let wrapped = mlua::Error::CallbackError {
            traceback: "stack traceback:\n\t[C]: in function 'ecs.get'".into(),
            cause: std::sync::Arc::new(inner),
        };
        let error = ScriptError::from_lua("scripts/a.luau", &wrapped, None);
        assert_eq!(error.kind, ScriptErrorKind::UnknownComponent);
        assert!(error.message.contains("no component `Helth`"));
        assert!(
            !error.message.contains("stack traceback"),
            "only the crate's frames"
        );
    }

    #[test]
    fn tracebacks_drop_the_crates_own_c_frames() {
        let traceback = "stack traceback:\n\t[C]: in ?\n\t[C]: in function 'ecs.get'\n\t\
                         [C]: in function 'job:await'\n\t[C]: in function 'error'\n\t\
                         scripts/a.luau:3: in function <scripts/a.luau:1>";
        assert_eq!(
            trim_traceback(traceback),
            "stack traceback:\n\t[C]: in function 'error'\n\t\
             scripts/a.luau:3: in function <scripts/a.luau:1>"
        );
        assert_eq!(
            trim_traceback("stack traceback:\n\t[C]: in function 'ecs.get'"),
            ""
        );
    }

    #[test]
    fn instruction_limit_flag_wins_over_the_lua_message() {
        let error = mlua::Error::runtime("boom");
        let error =
            ScriptError::from_lua("a.luau", &error, Some(ScriptErrorKind::InstructionLimit));
        assert_eq!(error.kind, ScriptErrorKind::InstructionLimit);
    }

    #[test]
    fn memory_errors_are_memory_limit() {
        let error = mlua::Error::MemoryError("not enough memory".into());
        assert_eq!(
            ScriptError::from_lua("a.luau", &error, None).kind,
            ScriptErrorKind::MemoryLimit
        );
    }
}
