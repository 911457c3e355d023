//! The `transform` library: an entity's [`Transform`], read and written without serde.
//!
//! ```lua
//! transform.position(e) -> vector         transform.set_position(e, v)   transform.translate(e, v)
//! transform.rotation(e) -> vector         transform.set_rotation(e, v)   transform.rotate(e, dv)
//! transform.scale(e) -> vector            transform.set_scale(e, v)
//! transform.look_at(e, target [, up])     -- target: a vector or an Entity; up defaults to +Y
//! transform.forward(e) / right(e) / up(e) -> vector
//! ```
//! All of them work on the entity's local [`Transform`] (relative to its parent, if it has
//! one); Bevy propagates it to `GlobalTransform` later in the frame.
//!
//! - **Rotations are Euler angles** in radians, as `vector(pitch, yaw, roll)`: yaw about +Y,
//!   pitch about +X, roll about +Z, applied in Bevy's usual [`EulerRot::YXZ`] order
//!   (`Quat::from_euler(EulerRot::YXZ, yaw, pitch, roll)`). `rotation` returns yaw and roll in
//!   `[-π, π]` and pitch in `[-π/2, π/2]`.
//! - **`rotate(e, dv)` turns in local space**: the delta rotation (the same Euler convention)
//!   is applied about the entity's own axes, `rotation * delta`, and the result is
//!   re-normalized so repeated calls do not drift.
//! - **`look_at`** turns the entity so that `forward` (−Z) points at the target and `up` is as
//!   close to the given up as possible. When the target is at the entity's own position, or the
//!   up vector is parallel to the direction, there is no such rotation and the rotation is left
//!   unchanged.
//! - **`forward`, `right` and `up`** are −Z, +X and +Y turned by the rotation.
//!
//! Every function fails with an error naming it when the entity argument is not an entity, the
//! entity does not exist or has no `Transform`, a vector argument is not a vector or has a NaN
//! or infinite component, or a result would not be finite (`translate` overflowing): a NaN
//! never reaches a `Transform`, and a refused call leaves it unchanged.

use crate::api::function::{self, describe, entity_arg};
use crate::engine::context::with_world;
use crate::error::{ScriptErrorKind, lua_error};
use bevy_ecs::entity::Entity;
use bevy_ecs::world::{Mut, World};
use bevy_math::{Dir3, EulerRot, Quat, Vec3};
use bevy_transform::components::Transform;
use mlua::{Lua, Table, Value, Vector};

/// Below this `|up × forward|` (the sine of the angle between them), `look_at` treats `up` as
/// parallel to the direction and leaves the rotation unchanged.
const PARALLEL_EPSILON: f32 = 1e-6;

/// Adds the `transform` library to the shared globals.
pub(crate) fn install(lua: &Lua, globals: &Table) -> mlua::Result<()> {
    let transform = lua.create_table()?;
    transform.raw_set(
        "position",
        getter(lua, "transform.position", |t| t.translation)?,
    )?;
    transform.raw_set("rotation", getter(lua, "transform.rotation", to_euler)?)?;
    transform.raw_set("scale", getter(lua, "transform.scale", |t| t.scale)?)?;
    transform.raw_set(
        "forward",
        getter(lua, "transform.forward", |t| t.rotation * Vec3::NEG_Z)?,
    )?;
    transform.raw_set(
        "right",
        getter(lua, "transform.right", |t| t.rotation * Vec3::X)?,
    )?;
    transform.raw_set("up", getter(lua, "transform.up", |t| t.rotation * Vec3::Y)?)?;
    transform.raw_set(
        "set_position",
        setter(lua, "transform.set_position", |t, v| {
            t.translation = v;
            Ok(())
        })?,
    )?;
    transform.raw_set(
        "translate",
        setter(lua, "transform.translate", |t, v| {
            let moved = t.translation + v;
            if !moved.is_finite() {
                return Err(Failure::NotFinite("the position"));
            }
            t.translation = moved;
            Ok(())
        })?,
    )?;
    transform.raw_set(
        "set_rotation",
        setter(lua, "transform.set_rotation", |t, v| {
            t.rotation = from_euler(v);
            Ok(())
        })?,
    )?;
    transform.raw_set(
        "rotate",
        setter(lua, "transform.rotate", |t, v| {
            let turned = t.rotation * from_euler(v);
            // Normalized by hand: `Quat::normalize` may assert on a zero quaternion.
            let length = turned.length();
            if !(length.is_finite() && length > 0.0) {
                return Err(Failure::NotFinite("the rotation"));
            }
            t.rotation = turned / length;
            Ok(())
        })?,
    )?;
    transform.raw_set(
        "set_scale",
        setter(lua, "transform.set_scale", |t, v| {
            t.scale = v;
            Ok(())
        })?,
    )?;
    transform.raw_set("look_at", look_at(lua)?)?;
    transform.set_readonly(true);
    globals.raw_set("transform", transform)
}

/// Creates `transform.<name>(e) -> vector`, reading `read` of the entity's transform.
fn getter(
    lua: &Lua,
    name: &'static str,
    read: fn(&Transform) -> Vec3,
) -> mlua::Result<mlua::Function> {
    function::create(lua, name, move |lua, (entity,): (Value,)| {
        let entity = entity_arg(&entity, 1, name)?;
        let value = with_world(lua, |world| {
            let transform = transform_of(world, entity, Role::Entity)?;
            Ok(read(transform))
        })?
        .map_err(|failure: Failure| failure.into_error(name))?;
        Ok(to_vector(value))
    })
}

/// Creates `transform.<name>(e, v)`, which changes the entity's transform with `write`.
///
/// `write` refuses with a [`Failure`] before it changes anything.
fn setter(
    lua: &Lua,
    name: &'static str,
    write: fn(&mut Mut<Transform>, Vec3) -> Result<(), Failure>,
) -> mlua::Result<mlua::Function> {
    function::create(lua, name, move |lua, (entity, value): (Value, Value)| {
        let entity = entity_arg(&entity, 1, name)?;
        let value = vector_arg(&value, 2, name)?;
        with_world(lua, |world| {
            let mut transform = transform_mut(world, entity)?;
            write(&mut transform, value)
        })?
        .map_err(|failure| failure.into_error(name))
    })
}

/// Creates `transform.look_at(e, target [, up])`.
fn look_at(lua: &Lua) -> mlua::Result<mlua::Function> {
    const NAME: &str = "transform.look_at";
    function::create(
        lua,
        NAME,
        |lua, (entity, target, up): (Value, Value, Value)| {
            let entity = entity_arg(&entity, 1, NAME)?;
            let target = match &target {
                Value::Vector(_) => Target::Point(vector_arg(&target, 2, NAME)?),
                other => Target::Entity(entity_arg(other, 2, NAME).map_err(|_| {
                    lua_error(
                        ScriptErrorKind::TypeMismatch,
                        format!(
                            "bad argument #2 to `{NAME}`: expected a vector or an Entity, got {}",
                            describe(other)
                        ),
                    )
                })?),
            };
            let up = match &up {
                Value::Nil => Dir3::Y,
                other => Dir3::new(vector_arg(other, 3, NAME)?).map_err(|_| {
                    lua_error(
                        ScriptErrorKind::TypeMismatch,
                        format!("bad argument #3 to `{NAME}`: up is the zero vector"),
                    )
                })?,
            };
            with_world(lua, |world| {
                let target = match target {
                    Target::Point(point) => point,
                    Target::Entity(other) => {
                        // Report a bad first argument before a bad target.
                        transform_of(world, entity, Role::Entity)?;
                        transform_of(world, other, Role::Target)?.translation
                    }
                };
                let mut transform = transform_mut(world, entity)?;
                // A zero direction (looking at its own position) or one whose difference
                // overflowed has no direction to look in.
                let Ok(forward) = Dir3::new(target - transform.translation) else {
                    return Ok(());
                };
                if up.cross(*forward).length() < PARALLEL_EPSILON {
                    return Ok(());
                }
                transform.look_to(forward, up);
                Ok(())
            })?
            .map_err(|failure: Failure| failure.into_error(NAME))
        },
    )
}

/// What `look_at` turns towards.
enum Target {
    Point(Vec3),
    Entity(Entity),
}

/// Which entity argument a [`Failure`] is about.
#[derive(Clone, Copy)]
enum Role {
    /// The entity being read or changed (argument #1).
    Entity,
    /// The entity `look_at` turns towards (argument #2).
    Target,
}

impl Role {
    fn noun(self) -> &'static str {
        match self {
            Self::Entity => "entity",
            Self::Target => "target entity",
        }
    }
}

/// Why a call was refused inside the world access; turned into a Lua error outside it, so
/// nothing is formatted on the success path.
enum Failure {
    /// The entity does not exist (despawned, or never spawned).
    NoEntity(Role, Entity),
    /// The entity exists but has no `Transform`.
    NoTransform(Role, Entity),
    /// The named part of the transform would stop being finite.
    NotFinite(&'static str),
}

impl Failure {
    fn into_error(self, name: &str) -> mlua::Error {
        let message = match self {
            Self::NoEntity(role, entity) => {
                format!("{name}: {} {entity} does not exist", role.noun())
            }
            Self::NoTransform(role, entity) => {
                format!("{name}: {} {entity} has no Transform", role.noun())
            }
            Self::NotFinite(what) => {
                format!("{name}: {what} would not be finite, so the transform was left unchanged")
            }
        };
        lua_error(ScriptErrorKind::Runtime, message)
    }
}

/// The transform of `entity`, read-only (so reading does not trigger change detection).
fn transform_of(world: &World, entity: Entity, role: Role) -> Result<&Transform, Failure> {
    world
        .get_entity(entity)
        .map_err(|_| Failure::NoEntity(role, entity))?
        .get::<Transform>()
        .ok_or(Failure::NoTransform(role, entity))
}

/// The transform of `entity`, for changing it.
fn transform_mut(world: &mut World, entity: Entity) -> Result<Mut<'_, Transform>, Failure> {
    world
        .get_entity_mut(entity)
        .map_err(|_| Failure::NoEntity(Role::Entity, entity))?
        .into_mut::<Transform>()
        .ok_or(Failure::NoTransform(Role::Entity, entity))
}

/// Converts argument number `pos` of `name` into a finite vector.
fn vector_arg(value: &Value, pos: usize, name: &'static str) -> mlua::Result<Vec3> {
    let Value::Vector(vector) = value else {
        return Err(lua_error(
            ScriptErrorKind::TypeMismatch,
            format!(
                "bad argument #{pos} to `{name}`: expected a vector, got {}",
                describe(value)
            ),
        ));
    };
    let vector = Vec3::new(vector.x(), vector.y(), vector.z());
    if vector.is_finite() {
        Ok(vector)
    } else {
        Err(lua_error(
            ScriptErrorKind::TypeMismatch,
            format!(
                "bad argument #{pos} to `{name}`: expected a finite vector, got vector({}, {}, {})",
                vector.x, vector.y, vector.z
            ),
        ))
    }
}

fn to_vector(value: Vec3) -> Vector {
    Vector::new(value.x, value.y, value.z)
}

/// The rotation of `(pitch, yaw, roll)` in the library's Euler convention.
fn from_euler(angles: Vec3) -> Quat {
    Quat::from_euler(EulerRot::YXZ, angles.y, angles.x, angles.z)
}

/// `(pitch, yaw, roll)` of a transform's rotation, the inverse of [`from_euler`].
fn to_euler(transform: &Transform) -> Vec3 {
    let (yaw, pitch, roll) = transform.rotation.to_euler(EulerRot::YXZ);
    Vec3::new(pitch, yaw, roll)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn euler_angles_round_trip_in_the_usual_range() {
        for angles in [
            Vec3::ZERO,
            Vec3::new(0.3, -1.2, 0.7),
            Vec3::new(-1.5, 3.0, -3.0),
            Vec3::new(1.0, 0.0, 2.5),
        ] {
            let transform = Transform::from_rotation(from_euler(angles));
            let back = to_euler(&transform);
            assert!(
                (back - angles).abs().max_element() < 1e-5,
                "{angles} -> {back}"
            );
        }
    }

    #[test]
    fn yaw_turns_forward_towards_minus_x() {
        let transform = Transform::from_rotation(from_euler(Vec3::new(0.0, 0.5, 0.0)));
        let forward = transform.rotation * Vec3::NEG_Z;
        assert!(forward.x < 0.0 && forward.y.abs() < 1e-6, "{forward}");
    }
}
