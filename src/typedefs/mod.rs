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
//! [`generate_workers`] writes the file for worker scripts:
//! `log`, `commands`, `cvar.get` and `jobs.define`, with the same types.
//!
//! What luau-lsp's default type checker cannot express, and the file's header repeats:
//! `Entity` is an extern type, which it compares with `==` only against an `Entity` (or
//! `Entity?`), not against an unannotated parameter; and the general case of a setter also
//! takes the registered names, so `ecs.set(e, "Health", v)` with a wrong `v` is not reported.
//!
//! # How Rust types become Luau types
//!
//! Reflected types (`#[derive(Reflect)]`, registered with `app.register_type`) are described
//! from their `TypeInfo`, following the conversions values go through:
//!
//! | Rust | Luau |
//! |---|---|
//! | `bool` | `boolean` |
//! | `f32`, `f64`, every integer, `Duration` | `number` |
//! | `String`, `Cow<str>`, `char`, `Name` | `string` |
//! | `Entity` | `Entity` |
//! | `Vec3`, `Vec3A`, `Vec2` | `vector` |
//! | `Option<T>` | `T?` |
//! | `Vec<T>`, arrays, sets | `{T}` |
//! | tuples, tuple structs | `{T}`, or `{any}` when the items differ |
//! | a newtype `struct A(T)` | what `T` is |
//! | `HashMap<K, V>`, `BTreeMap<K, V>` | `{[K]: V}` |
//! | struct | its own `export type`, a table of its fields |
//! | enum | its own `export type`: `"Unit" \| { Tuple: T } \| { Struct: { ... } }` |
//! | anything opaque to reflection | `any` |
//!
//! **Serde types** (`register_script_component`, `_resource`, `_message`) reach Lua through
//! serde, which reflection cannot see into. When such a type is also registered for
//! reflection, its fields are described from that, as serde represents them by default: an
//! `Entity` is a number (its bits, which every function taking an entity accepts), glam
//! vectors are lists of numbers and a `Duration` is `{ secs, nanos }`. Serde attributes such
//! as `rename` are invisible there. A serde type that is not reflected at all is declared as
//! `any`, with a comment saying how to describe it.
//!
//! Names are Luau identifiers made from the short type name (`Stats<Speed>` is `Stats_Speed`);
//! a name that the API itself uses (such as `Job`) gets a suffix (`Job_Component`). Two
//! reflected types with the same short name are reachable by neither, and are listed in a
//! comment instead.
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
//! [`write_workers`] and
//! [`write_worker_typedefs`] do the same for the worker
//! file. An editor loads one set of definitions per workspace, so there worker scripts see the
//! main file; check them against their own on the command line
//! (`luau-lsp analyze --definitions=@bevy_luau=workers.d.luau workers/`).

mod generate;
mod library;
mod types;
mod write;

pub use generate::{generate, generate_workers};
pub use write::{write, write_typedefs, write_worker_typedefs, write_workers};
