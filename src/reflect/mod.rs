//! Converting reflected values to and from Lua, directly through `bevy_reflect`.
//!
//! Components and resources that are registered for reflection (`#[derive(Reflect)]` with
//! `#[reflect(Component)]` or `#[reflect(Resource)]`) reach scripts through this module, without
//! serde. That keeps entities exact and turns a `Vec3` into Luau's native `vector`.
//!
//! # Mapping
//!
//! The table of what each Rust type becomes in Lua is public, in `src/typedefs/mapping.md`
//! (the `typedefs` module's docs and the Lua API reference, `docs/lua-api.md`).
//!
//! # Reading from Lua
//!
//! - A value read from Lua replaces the old one as a whole, so a struct needs every field. A
//!   missing field is an error, except that an `Option` field may be left out (it is `None`,
//!   since a Lua table cannot hold `nil`). An unknown field is an error too, so that a typo
//!   never vanishes silently.
//! - Fields marked `#[reflect(ignore)]` are invisible to Lua. When `ecs.set` writes a component
//!   the entity has, a type whose fields are all numbers, booleans, strings, entities, vectors or
//!   structs and newtypes of those is written in place, so hidden fields keep their values; any
//!   other type (with lists, maps, enums or options) is replaced as a whole, and `FromReflect`
//!   gives its hidden fields their default (see `plan::writes_in_place`).
//! - Numbers are Lua doubles: integers beyond 2^53 lose precision on the way to Lua, and a number
//!   read into an `f32` is rounded (or becomes infinite beyond its range). NaN and infinities pass
//!   through unchanged; callers that must refuse them check for themselves. Strings are never
//!   read as numbers.
//! - Strings that are not valid UTF-8 have the bad bytes replaced (except in field names and
//!   `char`s, where they are an error).
//! - A list has no holes, except a list of `Option`s, where a hole is a `None` (it ends at its
//!   highest index, which may be at most `#t` or twice its number of items). Elsewhere a `None`
//!   inside a list, a map or a one-field variant disappears, as any `nil` in a Lua table does.
//! - A value nested more than 64 tables deep (which is how a table that contains itself ends)
//!   or made of more than 2^20 values is an error.
//!
//! Every failure is a Lua error of kind [`ScriptErrorKind::TypeMismatch`] that names the path to
//! the offending value, such as ``ecs.set: component `Stats`: field `health.max`: expected a
//! number, got string "x"``.
//!
//! # What the result is
//!
//! [`from_lua`] returns leaves as concrete values (`f32`, `String`, `Entity`, `Vec3`) and
//! everything else as `Dynamic*` values that carry their represented type. Turn the result into
//! the real type with `ReflectFromReflect` or `ReflectComponent::insert`, which does that itself.

mod failure;
mod from_lua;
mod leaf;
mod to_lua;

#[cfg(test)]
mod tests;

pub(crate) use from_lua::from_lua;
pub(crate) use leaf::whole;
pub(crate) use to_lua::{push, to_lua};

/// Whether the component `component` reflects is immutable (`#[component(immutable)]`, as
/// Bevy's relationship components such as `ChildOf` are): it cannot be changed in place, only
/// inserted whole, which runs its hooks. `ReflectComponent::reflect_mut` panics on one.
pub(crate) fn is_immutable(
    world: &mut bevy_ecs::world::World,
    component: &bevy_ecs::reflect::ReflectComponent,
) -> bool {
    let id = component.register_component(world);
    world
        .components()
        .get_info(id)
        .is_some_and(|info| !info.mutable())
}
