//! Luau type definitions for [luau-lsp](https://github.com/JohnnyMorganz/luau-lsp), generated
//! from the running app.
//!
//! [`generate`] writes a definitions file that describes everything
//! a script can use, so the editor completes names and, in `--!strict` scripts, checks calls:
//! - the runtime types: `Entity` (at runtime a light userdata), `Connection` (what
//!   `hooks.on_update`, `events.on` and `cvar.on_change` return) and `Job` (from `jobs.run`),
//!   declared as `declare extern type Name with ... end`;
//! - every library of a script's environment as `declare name: { ... }`: `log`, `hooks`,
//!   `events`, `ecs`, `commands`, `time`, `task`, `jobs`, `cvar`, `console`, and `transform`
//!   and `input` when their features are compiled in and the main VM has them. `print`,
//!   `require` and `loadstring` keep Luau's built-in types (redeclaring `require` would lose
//!   luau-lsp's module resolution);
//! - one `export type` per component, resource and message that scripts reach by name, and
//!   overloads keyed on the name, so `ecs.get(e, "Health")` has the type `Health?`,
//!   `events.on("Damage", function(payload) end)` gives `payload` the type `Damage`, and
//!   `cvar.get("r_fov")` is a `number`. Every overloaded function ends with a general case
//!   (`name: string`) for names that are only known at run time. Those whose result depends
//!   on the name (`ecs.get`, `ecs.ref`, `ecs.resource`, `cvar.get`) begin with a case that no
//!   call matches and whose result is `any`: luau-lsp reports a call that no case fits against
//!   the first case and gives it that case's result, which would otherwise be the first
//!   component's type and bring misleading errors further on.
//!
//! [`reference()`] renders the same tables as a Markdown reference of the Lua API, checked in
//! as the repository's `docs/lua-api.md`.
//!
//! [`generate_workers`] writes the file for worker scripts:
//! `log`, `commands`, `cvar.get` and `jobs.define`, with the same types.
//!
//! [`generate_actors`] writes the file for actor scripts (entity scripts on entities with
//! [`ScriptActor`](crate::ScriptActor)): the main file without the global callbacks (`hooks`,
//! `events.on`, `cvar.on_change`, `console.register`) and without the game's system functions
//! (`add_script_function`), which actor VMs do not have. `task.synchronize` and
//! `task.desynchronize`, which move an actor script between the parallel phase and the serial
//! part of the step, are in both.
//!
//! What luau-lsp's default type checker cannot express, and the file's header repeats:
//! `Entity` is an extern type, which it compares with `==` only against an `Entity` (or
//! `Entity?`), not against an unannotated parameter; and the general case of a setter also
//! takes the registered names, so `ecs.set(e, "Health", v)` with a wrong `v` is not reported.
//!
//! # Writing the file
//!
//! [`write_typedefs`] is a system that writes the file at
//! startup (`app.add_systems(Startup, write_typedefs("bevy_luau.d.luau"))`);
//! [`write`](fn@write) does the same from any code with a world.
//! Point luau-lsp at the file with the VS Code setting
//! `"luau-lsp.types.definitionFiles": { "@bevy_luau": "bevy_luau.d.luau" }` and
//! `"luau-lsp.platform.type": "standard"`.
//!
//! [`write_workers`] and [`write_worker_typedefs`] do the same for the worker file, and
//! [`write_actors`] and [`write_actor_typedefs`] for the actor file. An editor loads one set of
//! definitions per workspace, so there worker and actor scripts see the main file; check them
//! against their own on the command line
//! (`luau-lsp analyze --definitions=@bevy_luau=workers.d.luau workers/`, and the same with
//! `actors.d.luau` and `actors/`).

#![doc = include_str!("mapping.md")]

mod generate;
mod library;
mod reference;
mod types;
mod write;

pub use generate::{generate, generate_actors, generate_workers};
pub use reference::reference;
pub use write::{
    write, write_actor_typedefs, write_actors, write_typedefs, write_worker_typedefs, write_workers,
};
