//! Console variables: [`CVarRegistry`], typed [`CVarValue`]s with [`CVarFlags`], and their file.
//!
//! A CVar has a name, a type fixed by its default, a description, flags and, for numbers, an
//! optional range. Every change, from Rust, Lua, the console or the CVar file, travels through
//! the [`ActionQueue`](crate::ActionQueue) and reaches Lua's `cvar.on_change` handlers and the [`CVarChanged`]
//! message at stage 2 of the next scripting step. A value of the wrong type, out of range, or
//! for a read-only CVar is an error, and the old value stays.
//!
//! [`ARCHIVE`](CVarFlags::ARCHIVE) CVars persist in a TOML file ([`CVarRegistry::load`],
//! [`CVarRegistry::save`]). A file that cannot be parsed is a [`ScriptErrorKind::Config`](crate::ScriptErrorKind::Config) error
//! with line and column: the defaults stay in force, and the registry refuses to save over the
//! file, so the user's data is never lost. Saving writes a temporary file and renames it.

mod registry;
pub(crate) mod value;

pub use registry::{CVar, CVarFlags, CVarRegistry, CVarSnapshot, SV_CHEATS};
pub use value::{CVarChanged, CVarValue, CVarValueError};
