//! The game's own Lua functions: Rust closures and Bevy systems that scripts call
//! (`app.add_script_function`, `app.add_worker_script_function`), the conversions of their
//! arguments and results, and their installation in each VM.

pub(crate) mod body;
pub(crate) mod convert;
pub(crate) mod registration;
pub(crate) mod values;

pub use body::ScriptInput;
pub use convert::{Arguments, Fast, FromScript, IntoScript, ScriptArgs, ScriptReturn, Serde};
pub use registration::{
    Builder, Documented, Install, IntoScriptFunction, IntoWorkerScriptFunction, ScriptFunctionDoc,
    Shape, Signature, Source,
};
