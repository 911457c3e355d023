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
//! - **A reference to a vector field** (`ecs.ref(e, "Transform").translation`) is taken wherever
//!   a vector is, for its value, as `ecs.value` reads it.
//!
//! Every function fails with an error naming it when the entity argument is not an entity, the
//! entity does not exist or has no `Transform`, a vector argument is not a vector or has a NaN
//! or infinite component, or a result would not be finite (`translate` overflowing): a NaN
//! never reaches a `Transform`, and a refused call leaves it unchanged.
//!
//! In the parallel phase of actor VMs the getters read the transform as the phase began, and
//! the setters, `rotate`, `translate` and `look_at` check their arguments and the entity at the
//! call and queue the change, applied after the phase (see `crate::api::deferred`):
//! `translate` then adds to the transform as it is when applied.

use crate::api::deferred::{self, Edit, Refusal, Write};
use crate::api::function::{self, describe, entity_arg};
use crate::bridge::lent::with_world_ref;
use crate::error::{ScriptErrorKind, lua_error};
use crate::ffi::{self, Stack};
use bevy_ecs::entity::Entity;
use bevy_ecs::world::{Mut, World};
use bevy_math::{Dir3, EulerRot, Quat, Vec3};
use bevy_transform::components::Transform;
use mlua::{Lua, Table, Value, Vector};
use std::ffi::{CStr, c_int};

/// Below this `|up × forward|` (the sine of the angle between them), `look_at` treats `up` as
/// parallel to the direction and leaves the rotation unchanged.
const PARALLEL_EPSILON: f32 = 1e-6;

/// A getter: its name, as Lua sees it and as a C string, and what it reads.
type Getter = (&'static str, &'static CStr, fn(&Transform) -> Vec3);

/// A setter: its name, as Lua sees it and as a C string, and how it writes. The write refuses
/// with a [`Failure`] before it changes anything.
type Setter = (&'static str, &'static CStr, Assign);

/// `transform.<name>(e) -> vector`.
const GETTERS: [Getter; 6] = [
    ("position", c"transform.position", |t| t.translation),
    ("rotation", c"transform.rotation", to_euler),
    ("scale", c"transform.scale", |t| t.scale),
    ("forward", c"transform.forward", |t| {
        t.rotation * Vec3::NEG_Z
    }),
    ("right", c"transform.right", |t| t.rotation * Vec3::X),
    ("up", c"transform.up", |t| t.rotation * Vec3::Y),
];

/// Getter `K` of [`GETTERS`] as a fast function.
struct Get<const K: usize>;

impl<const K: usize> ffi::Fast for Get<K> {
    const NAME: &'static CStr = GETTERS[K].1;
    fn call(stack: Stack<'_>) -> Option<c_int> {
        get::<K>(stack)
    }
}

/// `transform.<name>(e, v)`.
const SETTERS: [Setter; 5] = [
    ("set_position", c"transform.set_position", |t, v| {
        t.translation = v;
        Ok(())
    }),
    ("translate", c"transform.translate", |t, v| {
        let moved = t.translation + v;
        if !moved.is_finite() {
            return Err(Failure::NotFinite("the position"));
        }
        t.translation = moved;
        Ok(())
    }),
    ("set_rotation", c"transform.set_rotation", |t, v| {
        t.rotation = from_euler(v);
        Ok(())
    }),
    ("rotate", c"transform.rotate", |t, v| {
        let turned = t.rotation * from_euler(v);
        // Normalized by hand: `Quat::normalize` may assert on a zero quaternion.
        let length = turned.length();
        if !(length.is_finite() && length > 0.0) {
            return Err(Failure::NotFinite("the rotation"));
        }
        t.rotation = turned / length;
        Ok(())
    }),
    ("set_scale", c"transform.set_scale", |t, v| {
        t.scale = v;
        Ok(())
    }),
];

/// Setter `K` of [`SETTERS`] as a fast function.
struct Set<const K: usize>;

impl<const K: usize> ffi::Fast for Set<K> {
    const NAME: &'static CStr = SETTERS[K].1;
    fn call(stack: Stack<'_>) -> Option<c_int> {
        set::<K>(stack)
    }
}

/// Adds the `transform` library to the shared globals.
pub(crate) fn install(lua: &Lua, globals: &Table) -> mlua::Result<()> {
    let transform = lua.create_table()?;
    let getters = [
        ffi::function::<Get<0>>,
        ffi::function::<Get<1>>,
        ffi::function::<Get<2>>,
        ffi::function::<Get<3>>,
        ffi::function::<Get<4>>,
        ffi::function::<Get<5>>,
    ];
    for ((name, c_name, read), function) in GETTERS.into_iter().zip(getters) {
        transform.raw_set(name, function(lua, getter(lua, c_name, read)?)?)?;
    }
    let setters = [
        ffi::function::<Set<0>>,
        ffi::function::<Set<1>>,
        ffi::function::<Set<2>>,
        ffi::function::<Set<3>>,
        ffi::function::<Set<4>>,
    ];
    for ((name, c_name, write), function) in SETTERS.into_iter().zip(setters) {
        transform.raw_set(name, function(lua, setter(lua, c_name, write)?)?)?;
    }
    transform.raw_set("look_at", look_at(lua)?)?;
    transform.set_readonly(true);
    globals.raw_set("transform", transform)
}

/// The fast path of getter `K`: an entity that has a transform.
fn get<const K: usize>(stack: Stack<'_>) -> Option<c_int> {
    let entity = stack.entity(1)?;
    let world = stack.shared()?.lent.borrow_ref()?;
    let transform = transform_of(&world, entity, Role::Entity).ok()?;
    stack.push_vector((GETTERS[K].2)(transform));
    Some(1)
}

/// The fast path of setter `K`: an entity that has a transform, and a finite vector.
fn set<const K: usize>(stack: Stack<'_>) -> Option<c_int> {
    let entity = stack.entity(1)?;
    let value = stack.vector(2).filter(|v| v.is_finite())?;
    let shared = stack.shared()?;
    if shared.lent.is_read_only() {
        // The parallel phase: checked as the safe implementation checks it, and queued.
        let world = shared.lent.borrow_ref()?;
        transform_of(&world, entity, Role::Entity).ok()?;
        drop(world);
        let name = lua_name(SETTERS[K].1);
        let how = How::Set(SETTERS[K].2, value);
        let change = Change { entity, name, how };
        deferred::queue_fast(shared, name, || Some(Write::Edit(Box::new(change))))?;
        return Some(0);
    }
    let mut world = shared.lent.borrow()?;
    let mut transform = transform_mut(&mut world, entity).ok()?;
    (SETTERS[K].2)(&mut transform, value).ok()?;
    Some(0)
}

/// Creates `transform.<name>(e) -> vector`, reading `read` of the entity's transform.
fn getter(
    lua: &Lua,
    name: &'static CStr,
    read: fn(&Transform) -> Vec3,
) -> mlua::Result<mlua::Function> {
    let name = lua_name(name);
    function::create(lua, name, move |lua, (entity,): (Value,)| {
        let entity = entity_arg(&entity, 1, name)?;
        let value = with_world_ref(lua, |world| {
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
fn setter(lua: &Lua, name: &'static CStr, write: Assign) -> mlua::Result<mlua::Function> {
    let name = lua_name(name);
    function::create(lua, name, move |lua, (entity, value): (Value, Value)| {
        let entity = entity_arg(&entity, 1, name)?;
        let value = vector_arg(lua, &value, 2, name)?;
        deferred::edit(
            lua,
            name,
            Change {
                entity,
                name,
                how: How::Set(write, value),
            },
        )
    })
}

/// How a setter writes a transform.
type Assign = fn(&mut Mut<Transform>, Vec3) -> Result<(), Failure>;

/// A change of an entity's transform, its arguments checked: what the main VM applies at once
/// and the parallel phase queues (see `crate::api::deferred`).
#[derive(Debug)]
struct Change {
    entity: Entity,
    /// The function, for errors.
    name: &'static str,
    how: How,
}

/// What a [`Change`] does.
enum How {
    /// A setter of [`SETTERS`], with its vector.
    Set(Assign, Vec3),
    /// `look_at`: forward towards the point, with this up.
    LookAt(Vec3, Dir3),
}

impl std::fmt::Debug for How {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            How::Set(_, value) => f.debug_tuple("Set").field(value).finish(),
            How::LookAt(target, up) => f.debug_tuple("LookAt").field(target).field(up).finish(),
        }
    }
}

impl Edit for Change {
    fn target(&self) -> Option<Entity> {
        Some(self.entity)
    }

    fn check(&self, world: &World) -> mlua::Result<()> {
        transform_of(world, self.entity, Role::Entity)
            .map(|_| ())
            .map_err(|failure| failure.into_error(self.name))
    }

    fn apply(self, world: &mut World) -> Result<(), Refusal> {
        let refused = |failure: Failure| match failure {
            Failure::NoEntity(Role::Entity, _) => Refusal::Gone,
            failure => Refusal::Failed(failure.into_error(self.name)),
        };
        let mut transform = transform_mut(world, self.entity).map_err(refused)?;
        match self.how {
            How::Set(write, value) => write(&mut transform, value).map_err(refused),
            How::LookAt(target, up) => {
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
            }
        }
    }
}

/// The name of a function as a `&str`, from the C string the fast path names it with.
fn lua_name(name: &'static CStr) -> &'static str {
    name.to_str().unwrap_or("transform")
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
                Value::Vector(_) | Value::UserData(_) => {
                    Target::Point(vector_arg(lua, &target, 2, NAME)?)
                }
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
                other => Dir3::new(vector_arg(lua, other, 3, NAME)?).map_err(|_| {
                    lua_error(
                        ScriptErrorKind::TypeMismatch,
                        format!("bad argument #3 to `{NAME}`: up is the zero vector"),
                    )
                })?,
            };
            // The target entity's position as the call sees it (in the parallel phase, as the
            // phase began).
            let target = with_world_ref(lua, |world| {
                // Report a bad first argument before a bad target.
                transform_of(world, entity, Role::Entity)?;
                Ok(match target {
                    Target::Point(point) => point,
                    Target::Entity(other) => transform_of(world, other, Role::Target)?.translation,
                })
            })?
            .map_err(|failure: Failure| failure.into_error(NAME))?;
            deferred::edit(
                lua,
                NAME,
                Change {
                    entity,
                    name: NAME,
                    how: How::LookAt(target, up),
                },
            )
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
/// Converts argument `pos` of `name` to a finite vector: a vector, or a reference to a vector
/// field (`ecs.ref(e, "Transform").translation`), which stands for its value.
fn vector_arg(lua: &Lua, value: &Value, pos: usize, name: &'static str) -> mlua::Result<Vec3> {
    let referred = match value {
        Value::UserData(_) => crate::api::ecs::reference::plain_value(lua, value, name)?,
        _ => None,
    };
    let vector = match (value, &referred) {
        (Value::Vector(vector), _) | (_, Some(Value::Vector(vector))) => vector,
        (_, Some(other)) => {
            return Err(lua_error(
                ScriptErrorKind::TypeMismatch,
                format!(
                    "bad argument #{pos} to `{name}`: expected a vector, got a reference to {}",
                    describe(other)
                ),
            ));
        }
        (_, None) => {
            return Err(lua_error(
                ScriptErrorKind::TypeMismatch,
                format!(
                    "bad argument #{pos} to `{name}`: expected a vector, got {}",
                    describe(value)
                ),
            ));
        }
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
