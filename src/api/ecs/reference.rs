//! Component references: `ecs.ref(e, "Health")`, a live view of one reflected component.
//!
//! ```lua
//! local hp = ecs.ref(e, "Health")        -- nil when the entity has no Health
//! hp.current -= 1                        -- reads and writes the component itself
//! local t = ecs.ref(e, "Transform")
//! t.translation.x += 1                   -- nested fields are references too
//! t.translation = t.translation + vector.create(0, 1, 0)   -- vector fields do arithmetic
//! local p: vector = ecs.value(t.translation)               -- the plain value
//! ```
//!
//! A reference holds the entity and the path to a field, never the component: every access
//! finds the component again, so a reference kept across frames is always current, and one
//! whose entity was despawned (or whose component was removed) is an error that says so, never
//! a stale read. A write goes through the component's change detection. Reading a field whose
//! type reflects as a struct (a nested struct, a `Vec3`, a `Quat`) gives a reference to it;
//! any other field gives its value, as `ecs.get` would convert it. Writing a field converts
//! the value as `ecs.set` would, and a value that does not fit is an error that leaves the
//! component unchanged. References to glam vectors add, subtract, multiply, divide and negate
//! like the vectors they stand for, and give vectors.
//!
//! References reach reflected components (`#[reflect(Component)]`) that are structs; serde
//! components cross by value with `ecs.get` and `ecs.set`. They work while the scripting step
//! runs, like every world access.
//!
//! In the parallel phase of actor VMs references read the world as the phase began, and a
//! write through one (`r.field = v`, `r.field += v`) is converted and checked at the call
//! (a value that does not fit, a despawned entity, a removed or immutable component are errors
//! there) and queued, applied after the phase (see `crate::api::deferred`): a read after it in
//! the same phase still sees the old value.

use crate::api::deferred::{self, Edit, Refusal, Write};
use crate::api::function::{self, describe, entity_arg};
use crate::bridge::lent::{with_shared_world_ref, with_world_ref};
use crate::bridge::names::{self, Named};
use crate::bridge::plan::{self, Leaf, Plans, Reach, Shape};
use crate::error::{ScriptErrorKind, lua_error};
use crate::ffi::userdata::{self, Reference};
use crate::ffi::world::Absent;
use crate::ffi::{self, Shared, Stack, fast_fn};
use crate::registry::{Access, Kind, ReflectAccess};
use bevy_ecs::component::ComponentId;
use bevy_ecs::entity::Entity;
use bevy_ecs::reflect::AppTypeRegistry;
use bevy_ecs::world::World;
use bevy_math::Vec3;
use bevy_reflect::{PartialReflect, Reflect, ReflectMut, ReflectRef, TypeInfo};
use mlua::{Function, Lua, Value};
use std::cell::RefCell;
use std::ffi::c_int;

/// Creates the metatable of references (call once per VM, before `ecs.ref` is used).
pub(crate) fn install(lua: &Lua) -> mlua::Result<()> {
    let metatable = lua.create_table()?;
    let slow = function::create(lua, "ComponentRef", |lua, (r, key): (Value, Value)| {
        index_slow(lua, &r, &key)
    })?;
    metatable.raw_set("__index", ffi::function::<Index>(lua, slow)?)?;
    let slow = function::create(
        lua,
        "ComponentRef",
        |lua, (r, key, value): (Value, Value, Value)| assign_slow(lua, &r, &key, value),
    )?;
    metatable.raw_set("__newindex", ffi::function::<Assign>(lua, slow)?)?;
    let arithmetic = [
        ffi::function::<Arithmetic<0>> as fn(&Lua, Function) -> _,
        ffi::function::<Arithmetic<1>>,
        ffi::function::<Arithmetic<2>>,
        ffi::function::<Arithmetic<3>>,
        ffi::function::<Arithmetic<4>>,
    ];
    for ((event, _, op), function) in OPS.into_iter().zip(arithmetic) {
        let slow = function::create(lua, "ComponentRef", move |lua, (a, b): (Value, Value)| {
            arithmetic_slow(lua, op, &a, &b)
        })?;
        metatable.raw_set(event, function(lua, slow)?)?;
    }
    metatable.raw_set(
        "__eq",
        lua.create_function(|lua, (a, b): (Value, Value)| {
            let (a, b) = (userdata::reference(lua, &a), userdata::reference(lua, &b));
            Ok(match (a, b) {
                (Some(a), Some(b)) => {
                    a.entity == b.entity && a.root == b.root && a.path() == b.path()
                }
                _ => false,
            })
        })?,
    )?;
    metatable.raw_set(
        "__tostring",
        lua.create_function(|lua, r: Value| {
            Ok(match userdata::reference(lua, &r) {
                Some(r) => format!("ComponentRef({} of {})", name(lua, &r), r.entity),
                None => "ComponentRef".to_owned(),
            })
        })?,
    )?;
    metatable.raw_set("__type", "ComponentRef")?;
    metatable.raw_set("__metatable", "ComponentRef")?;
    metatable.set_readonly(true);
    userdata::install::<Index, Assign>(lua, metatable, crate::bridge::atoms::atom)
}

/// Creates `ecs.ref(e, name) -> ComponentRef?`.
pub(crate) fn create_ref(lua: &Lua) -> mlua::Result<Function> {
    const NAME: &str = "ecs.ref";
    let slow = function::create(lua, NAME, |lua, (e, name): (Value, mlua::LuaString)| {
        let entity = entity_arg(&e, 1, NAME)?;
        let name = name.to_str()?;
        let component = with_shared_world_ref(lua, |shared, world| {
            function::existing(world, entity, NAME)?;
            let access = names::lookup(shared, world, Kind::Component, &name, NAME)?;
            let Access::Reflect(reflect) = access else {
                return Err(lua_error(
                    ScriptErrorKind::TypeMismatch,
                    format!(
                        "{NAME}: component `{name}` crosses through serde; references need \
                             reflection (#[derive(Reflect)] with #[reflect(Component)]), so use \
                             ecs.get and ecs.set"
                    ),
                ));
            };
            if !matches!(reflect.info, TypeInfo::Struct(_)) {
                return Err(lua_error(
                    ScriptErrorKind::TypeMismatch,
                    format!(
                        "{NAME}: component `{name}` is not a struct with named fields; use \
                             ecs.get and ecs.set"
                    ),
                ));
            }
            // A component the world has not registered: no entity has it.
            let Some(id) = Access::Reflect(reflect.clone()).id(world) else {
                return Ok(None);
            };
            let has = world.entity(entity).contains_id(id);
            Ok(has.then_some((reflect, world.id(), id)))
        })??;
        let Some((reflect, world, id)) = component else {
            return Ok(Value::Nil);
        };
        let made = ffi::stack::produce(lua, |stack| {
            let shared = stack.shared().ok_or(())?;
            let mut plans = shared.plans().ok_or(())?.try_borrow_mut().map_err(|_| ())?;
            let root = plans.of(stack, reflect.info);
            plans.set_reach(root, reflect.reach(), world, id);
            drop(plans);
            stack.push_reference(Reference::new(entity, root));
            Ok::<(), ()>(())
        })?;
        made.map_err(|()| mlua::Error::runtime("ecs.ref needs the main VM"))
    })?;
    ffi::function::<MakeRef>(lua, slow)
}

/// Creates `ecs.value(r)`: the plain value a reference stands for, as `ecs.get` converts it.
pub(crate) fn create_value(lua: &Lua) -> mlua::Result<Function> {
    const NAME: &str = "ecs.value";
    function::create(lua, NAME, |lua, (r,): (Value,)| {
        let Some(reference) = userdata::reference(lua, &r) else {
            return Err(lua_error(
                ScriptErrorKind::TypeMismatch,
                format!(
                    "bad argument #1 to `{NAME}`: expected a ComponentRef, got {}",
                    describe(&r)
                ),
            ));
        };
        value_of(lua, &reference, NAME)
    })
}

/// The plain value `value` stands for when it is a reference (as `ecs.value` gives it), or
/// `None` when it is not one; an error of a reference that cannot reach its component names
/// `function`.
pub(crate) fn plain_value(lua: &Lua, value: &Value, function: &str) -> mlua::Result<Option<Value>> {
    match userdata::reference(lua, value) {
        Some(reference) => value_of(lua, &reference, function).map(Some),
        None => Ok(None),
    }
}

/// The plain value of `reference`, or the error of a reference that cannot reach it, which
/// names `function`.
fn value_of(lua: &Lua, reference: &Reference, function: &str) -> mlua::Result<Value> {
    with_plans(lua, |vm_plans| {
        with_world_ref(lua, |world| {
            let plans = vm_plans.borrow();
            let value = resolve(world, &plans, reference).map_err(|problem| {
                let kind = problem.kind();
                let error = problem.error(lua, reference);
                lua_error(kind, format!("{function}: {error}"))
            })?;
            crate::reflect::to_lua(lua, value)
        })?
    })
}

/// The plan of a reflected component, made on first use, with what reaches it on the entities
/// of `world`, where its id is `id`.
pub(crate) fn root_plan(
    stack: Stack<'_>,
    shared: &Shared,
    reflect: &ReflectAccess,
    world: &World,
    id: ComponentId,
) -> Result<plan::PlanId, ()> {
    let mut plans = shared.plans().ok_or(())?.try_borrow_mut().map_err(|_| ())?;
    let root = plans.of(stack, reflect.info);
    plans.set_reach(root, reflect.reach(), world.id(), id);
    Ok(root)
}

/// Runs `f` with the shared state of a main VM (see [`Shared::with`]).
/// Runs `f` with the plans of `lua`'s VM.
fn with_plans<R>(lua: &Lua, f: impl FnOnce(&RefCell<Plans>) -> mlua::Result<R>) -> mlua::Result<R> {
    Shared::with(lua, |shared| shared.plans().map(f))
        .flatten()
        .unwrap_or_else(|| Err(mlua::Error::runtime("references need the main VM")))
}

// ---------------------------------------------------------------------------------------------
// Finding the referenced value
// ---------------------------------------------------------------------------------------------

/// Why a reference cannot reach its value now.
enum Problem {
    /// The `ecs.each` loop that moved it has ended.
    Ended,
    /// The entity is gone.
    Despawned,
    /// The entity no longer has the component.
    Removed,
    /// The component is immutable: it can only be replaced whole.
    Immutable,
    /// The plans do not describe the reference (cannot happen for references made here).
    Lost,
}

impl Problem {
    fn kind(&self) -> ScriptErrorKind {
        match self {
            Problem::Ended | Problem::Lost | Problem::Immutable => ScriptErrorKind::Runtime,
            Problem::Despawned => ScriptErrorKind::EntityNotFound,
            Problem::Removed => ScriptErrorKind::UnknownComponent,
        }
    }

    fn error(self, lua: &Lua, reference: &Reference) -> mlua::Error {
        self.about(&name(lua, reference), reference.entity)
    }

    /// The error of the reference to `what` (`Health.current`) of `entity`.
    fn about(self, what: &str, entity: Entity) -> mlua::Error {
        let message = match self {
            Problem::Ended => format!(
                "ComponentRef({what}): this reference belonged to an ecs.each loop that has \
                 ended; keep the entity and call ecs.ref(e, name) for one that lasts"
            ),
            Problem::Despawned => {
                format!("ComponentRef({what}): entity {entity} does not exist (was it despawned?)")
            }
            Problem::Removed => {
                format!("ComponentRef({what}): entity {entity} no longer has the component")
            }
            Problem::Immutable => format!(
                "ComponentRef({what}): the component is immutable (#[component(immutable)]), so \
                 it cannot be changed in place; replace it whole with ecs.set"
            ),
            Problem::Lost => {
                format!("ComponentRef({what}): the reference does not belong to this VM")
            }
        };
        lua_error(self.kind(), message)
    }
}

/// Why the component of a reference cannot be found: its entity is gone, or it was removed.
fn missing(world: &World, reference: &Reference) -> Problem {
    if world.get_entity(reference.entity).is_err() {
        Problem::Despawned
    } else {
        Problem::Removed
    }
}

/// How a live reference reaches its component.
fn reach<'p>(plans: &'p Plans, reference: &Reference) -> Result<&'p Reach, Problem> {
    if !reference.live {
        return Err(Problem::Ended);
    }
    plans
        .get(reference.root)
        .reach
        .as_ref()
        .ok_or(Problem::Lost)
}

/// The referenced value.
fn resolve<'w>(
    world: &'w World,
    plans: &Plans,
    reference: &Reference,
) -> Result<&'w dyn PartialReflect, Problem> {
    let reach = reach(plans, reference)?;
    let component = match &reach.by_id {
        Some((in_world, id, from_ptr)) if *in_world == world.id() => {
            ffi::world::reflect_by_id(world, reference.entity, *id, from_ptr)
        }
        _ => world
            .get_entity(reference.entity)
            .ok()
            .and_then(|entity| reach.component.reflect(entity)),
    };
    let mut value = component
        .ok_or_else(|| missing(world, reference))?
        .as_partial_reflect();
    for &index in reference.path() {
        value = match value.reflect_ref() {
            ReflectRef::Struct(fields) => fields.field_at(usize::from(index)),
            _ => None,
        }
        .ok_or(Problem::Lost)?;
    }
    Ok(value)
}

/// Runs `f` on the referenced value, for changing it (through change detection).
fn resolve_mut<R>(
    world: &mut World,
    plans: &Plans,
    reference: &Reference,
    f: impl FnOnce(&mut dyn PartialReflect) -> R,
) -> Result<R, Problem> {
    let reach = reach(plans, reference)?;
    reach_mut(world, reach, reference.entity, reference.path(), f)
}

/// Runs `f` on the value at `path` (field indices) in the component `reach` reaches on
/// `entity`, for changing it (through change detection): for a reference now, and for a
/// queued reference write when it is applied.
fn reach_mut<R>(
    world: &mut World,
    reach: &Reach,
    entity: Entity,
    path: &[u8],
    f: impl FnOnce(&mut dyn PartialReflect) -> R,
) -> Result<R, Problem> {
    let world_id = world.id();
    let (mut found, mut through_type);
    let component: &mut dyn Reflect = match &reach.by_id {
        Some((in_world, id, from_ptr)) if *in_world == world_id => {
            ffi::world::reflect_mut_by_id(world, entity, *id, from_ptr).map_err(|absent| {
                match absent {
                    Absent::Entity => Problem::Despawned,
                    Absent::Component => Problem::Removed,
                    Absent::Immutable => Problem::Immutable,
                }
            })?
        }
        _ => {
            if crate::reflect::is_immutable(world, &reach.component) {
                return Err(Problem::Immutable);
            }
            found = world
                .get_entity_mut(entity)
                .map_err(|_| Problem::Despawned)?;
            through_type = reach
                .component
                .reflect_mut(&mut found)
                .ok_or(Problem::Removed)?;
            &mut *through_type
        }
    };
    let mut value = component.as_partial_reflect_mut();
    for &index in path {
        value = match value.reflect_mut() {
            ReflectMut::Struct(fields) => fields.field_at_mut(usize::from(index)),
            _ => None,
        }
        .ok_or(Problem::Lost)?;
    }
    Ok(f(value))
}

/// Whether the component of `reference` may be changed in place, read with `&World` alone:
/// [`Problem::Immutable`] for an immutable one. What the parallel phase checks at the call.
fn check_mutable(world: &World, plans: &Plans, reference: &Reference) -> Result<(), Problem> {
    let type_id = plans.get(reference.root).info.type_id();
    let immutable = world
        .components()
        .get_valid_id(type_id)
        .and_then(|id| world.components().get_info(id))
        .is_some_and(|info| !info.mutable());
    if immutable {
        Err(Problem::Immutable)
    } else {
        Ok(())
    }
}

/// `Health`, or `Transform.translation`: what a reference points at.
fn name(lua: &Lua, reference: &Reference) -> String {
    Shared::with(lua, |shared| {
        let Some(Ok(plans)) = shared.plans().map(RefCell::try_borrow) else {
            return "?".to_owned();
        };
        let root = plans.get(reference.root);
        let mut text = root.info.type_path_table().short_path().to_owned();
        let mut plan = root;
        for &index in reference.path() {
            let Some(field) = plan.fields.get(usize::from(index)) else {
                break;
            };
            text.push('.');
            text.push_str(field.name);
            plan = plans.get(field.plan);
        }
        text
    })
    .unwrap_or_else(|| "?".to_owned())
}

// ---------------------------------------------------------------------------------------------
// The fast path
// ---------------------------------------------------------------------------------------------

fast_fn!(MakeRef, c"ecs.ref", make_ref);
fast_fn!(Index, c"ComponentRef.__index", index);
fast_fn!(Assign, c"ComponentRef.__newindex", assign);

/// Arithmetic metamethod `OP` (an index into [`OPS`]) as a fast function.
struct Arithmetic<const OP: usize>;

impl<const OP: usize> ffi::Fast for Arithmetic<OP> {
    const NAME: &'static std::ffi::CStr = OPS[OP].1;
    fn call(stack: Stack<'_>) -> Option<c_int> {
        arithmetic(stack, OPS[OP].2)
    }
}

/// The arithmetic metamethods: event, name, operation.
const OPS: [(&str, &std::ffi::CStr, Op); 5] = [
    ("__add", c"ComponentRef.__add", Op::Add),
    ("__sub", c"ComponentRef.__sub", Op::Sub),
    ("__mul", c"ComponentRef.__mul", Op::Mul),
    ("__div", c"ComponentRef.__div", Op::Div),
    ("__unm", c"ComponentRef.__unm", Op::Unm),
];

/// `ecs.ref(e, name)`.
fn make_ref(stack: Stack<'_>) -> Option<c_int> {
    let entity = stack.entity(1)?;
    let shared = stack.shared()?;
    let world = shared.lent.borrow_ref()?;
    let named = names::component(stack, &world, 2, "ecs.ref")?;
    let Named {
        access: Access::Reflect(reflect),
        id,
        ..
    } = &*named
    else {
        return None;
    };
    if !matches!(reflect.info, TypeInfo::Struct(_)) {
        return None;
    }
    let has = world.get_entity(entity).ok()?.contains_id(*id);
    let root = root_plan(stack, shared, reflect, &world, *id).ok()?;
    drop(world);
    if has {
        stack.push_reference(Reference::new(entity, root));
    } else {
        stack.push_nil();
    }
    Some(1)
}

/// The field the key at index 2 names: by its atom on a direct access, else by its string.
fn field<'p>(
    stack: Stack<'_>,
    plans: &'p Plans,
    reference: &Reference,
) -> Option<(usize, &'p plan::Field)> {
    match stack.atom() {
        Some((atom, hint)) => plans.field_by_atom(reference.plan, atom, hint),
        None => plans.field(reference.plan, stack.string(2)?.address()),
    }
}

/// `r.field`.
fn index(stack: Stack<'_>) -> Option<c_int> {
    let reference = *stack.reference(1)?;
    let shared = stack.shared()?;
    let plans = shared.plans()?.try_borrow().ok()?;
    let (field_index, field) = field(stack, &plans, &reference)?;
    let world = shared.lent.borrow_ref()?;
    let value = resolve(&world, &plans, &reference).ok()?;
    let ReflectRef::Struct(fields) = value.reflect_ref() else {
        return None;
    };
    let value = fields.field_at(field_index)?;
    let field_plan = plans.get(field.plan);
    if !field_plan.fields.is_empty() {
        stack.push_reference(reference.field(field_index, field.plan)?);
    } else if let Shape::Leaf(leaf) = field_plan.shape {
        plan::push_leaf(stack, leaf, value)?;
    } else if !crate::reflect::push(stack, value) {
        return None;
    }
    Some(1)
}

/// `r.field = value`.
fn assign(stack: Stack<'_>) -> Option<c_int> {
    let reference = *stack.reference(1)?;
    let shared = stack.shared()?;
    let plans = shared.plans()?.try_borrow().ok()?;
    // A field of a rotation: the safe path refuses it.
    if plan::is_rotation(plans.get(reference.plan).info) {
        return None;
    }
    let (field_index, field) = field(stack, &plans, &reference)?;
    if shared.lent.is_read_only() {
        return queue_leaf(stack, shared, &plans, &reference, field_index, field).map(|()| 0);
    }
    let mut world = shared.lent.borrow()?;
    if let Shape::Leaf(leaf) = plans.get(field.plan).shape {
        // One value: read it, then write it, with no staging.
        let value = plan::read_leaf(stack, 3, leaf)?;
        return resolve_mut(&mut world, &plans, &reference, |target| {
            let ReflectMut::Struct(fields) = target.reflect_mut() else {
                return None;
            };
            plan::write_leaf(leaf, fields.field_at_mut(field_index)?, value)
        })
        .ok()?
        .map(|()| 0);
    }
    let mut staged = shared.staged()?.try_borrow_mut().ok()?;
    staged.clear();
    staged.resize_with(plans.get(field.plan).leaves, || None);
    plan::stage(&plans, field.plan, stack, 3, &mut staged)?;
    resolve_mut(&mut world, &plans, &reference, |value| {
        let ReflectMut::Struct(fields) = value.reflect_mut() else {
            return None;
        };
        plan::apply(
            &plans,
            field.plan,
            fields.field_at_mut(field_index)?,
            &mut staged.drain(..),
        )
    })
    .ok()??;
    Some(0)
}

/// `r.field = value` in the parallel phase, for a leaf field: checked as the safe
/// implementation checks it, and queued. `None` leaves the call to the safe implementation.
fn queue_leaf(
    stack: Stack<'_>,
    shared: &Shared,
    plans: &Plans,
    reference: &Reference,
    field_index: usize,
    field: &plan::Field,
) -> Option<()> {
    let Shape::Leaf(leaf) = plans.get(field.plan).shape else {
        return None;
    };
    let value = plan::read_leaf(stack, 3, leaf)?;
    let world = shared.lent.borrow_ref()?;
    resolve(&world, plans, reference).ok()?;
    check_mutable(&world, plans, reference).ok()?;
    drop(world);
    let reach = reach(plans, reference).ok()?;
    deferred::queue_fast(shared, "ComponentRef", || {
        Some(Write::Edit(Box::new(FieldWrite {
            entity: reference.entity,
            reach: reach.clone(),
            path: reference.path().into(),
            field: field_index,
            value: FieldValue::Leaf(leaf, value),
            root: plans.get(reference.root).info,
            field_name: field.name,
        })))
    })
}

/// An arithmetic metamethod.
#[derive(Clone, Copy)]
enum Op {
    Add,
    Sub,
    Mul,
    Div,
    Unm,
}

/// An operand of vector arithmetic.
#[derive(Clone, Copy)]
enum Operand {
    Vector(Vec3),
    Number(f64),
}

impl Op {
    fn apply(self, a: Operand, b: Operand) -> Option<Vec3> {
        use Operand::{Number, Vector};
        let scalar = |n: f64| n as f32;
        Some(match (self, a, b) {
            (Op::Unm, Vector(a), _) => -a,
            (Op::Add, Vector(a), Vector(b)) => a + b,
            (Op::Sub, Vector(a), Vector(b)) => a - b,
            (Op::Mul, Vector(a), Vector(b)) => a * b,
            (Op::Div, Vector(a), Vector(b)) => a / b,
            (Op::Mul, Vector(a), Number(b)) => a * scalar(b),
            (Op::Mul, Number(a), Vector(b)) => scalar(a) * b,
            (Op::Div, Vector(a), Number(b)) => a / scalar(b),
            (Op::Div, Number(a), Vector(b)) => scalar(a) / b,
            _ => return None,
        })
    }
}

/// Whether the plan is a glam vector, which references do arithmetic on.
fn is_vector(plans: &Plans, reference: &Reference) -> bool {
    matches!(
        plans.get(reference.plan).shape,
        Shape::Leaf(Leaf::Vec3 | Leaf::Vec3A | Leaf::Vec2)
    )
}

/// The vector a vector reference stands for.
fn vector_of(world: &World, plans: &Plans, reference: &Reference) -> Option<Vec3> {
    if !is_vector(plans, reference) {
        return None;
    }
    let value = resolve(world, plans, reference).ok()?;
    let value = value.try_as_reflect()?.as_any();
    value
        .downcast_ref::<Vec3>()
        .copied()
        .or_else(|| value.downcast_ref::<bevy_math::Vec3A>().map(|&v| v.into()))
        .or_else(|| {
            value
                .downcast_ref::<bevy_math::Vec2>()
                .map(|v| v.extend(0.0))
        })
}

/// `a + b` and friends, where `a` or `b` is a vector reference.
fn arithmetic(stack: Stack<'_>, op: Op) -> Option<c_int> {
    let shared = stack.shared()?;
    let plans = shared.plans()?.try_borrow().ok()?;
    let world = shared.lent.borrow_ref()?;
    let operand = |index: c_int| match stack.reference(index) {
        Some(reference) => vector_of(&world, &plans, reference).map(Operand::Vector),
        None => stack
            .vector(index)
            .map(Operand::Vector)
            .or_else(|| stack.number(index).map(Operand::Number)),
    };
    let a = operand(1)?;
    let b = match op {
        Op::Unm => a,
        _ => operand(2)?,
    };
    stack.push_vector(op.apply(a, b)?);
    Some(1)
}

// ---------------------------------------------------------------------------------------------
// The safe path: everything the fast path leaves, with its errors
// ---------------------------------------------------------------------------------------------

/// The reference in `value`, or the error for a value that is not one.
fn reference_arg(lua: &Lua, value: &Value) -> mlua::Result<Reference> {
    userdata::reference(lua, value).ok_or_else(|| {
        lua_error(
            ScriptErrorKind::TypeMismatch,
            format!("expected a ComponentRef, got {}", describe(value)),
        )
    })
}

/// The field `key` names, or the error listing the fields.
fn field_arg(
    lua: &Lua,
    plans: &Plans,
    reference: &Reference,
    key: &Value,
) -> mlua::Result<(usize, plan::PlanId, &'static str)> {
    let plan = plans.get(reference.plan);
    let found = match key {
        Value::String(text) => {
            let text = text.to_str()?;
            plan.fields
                .iter()
                .enumerate()
                .find(|(_, f)| f.name == &*text)
                .map(|(index, f)| (index, f.plan, f.name))
        }
        _ => None,
    };
    found.ok_or_else(|| {
        let names: Vec<&str> = plan.fields.iter().map(|f| f.name).collect();
        lua_error(
            ScriptErrorKind::TypeMismatch,
            format!(
                "ComponentRef({}): no field {}; fields are {}",
                name(lua, reference),
                describe(key),
                if names.is_empty() {
                    "none".to_owned()
                } else {
                    names.join(", ")
                }
            ),
        )
    })
}

/// `r.field`, the safe way.
fn index_slow(lua: &Lua, r: &Value, key: &Value) -> mlua::Result<Value> {
    let reference = reference_arg(lua, r)?;
    with_plans(lua, |vm_plans| {
        let (field_index, field_plan, _) = {
            let plans = vm_plans.borrow();
            field_arg(lua, &plans, &reference, key)?
        };
        let nested = !vm_plans.borrow().get(field_plan).fields.is_empty();
        if nested {
            // Check that the value is reachable now, as the fast path would.
            with_world_ref(lua, |world| {
                let plans = vm_plans.borrow();
                resolve(world, &plans, &reference).map(|_| ())
            })?
            .map_err(|p| p.error(lua, &reference))?;
            let child = reference.field(field_index, field_plan).ok_or_else(|| {
                lua_error(
                    ScriptErrorKind::Runtime,
                    format!("ComponentRef({}): nested too deeply", name(lua, &reference)),
                )
            })?;
            let made = ffi::stack::produce(lua, |stack| {
                stack.push_reference(child);
                Ok::<(), ()>(())
            })?;
            return made.map_err(|()| mlua::Error::runtime("a reference could not be made"));
        }
        with_world_ref(lua, |world| {
            let plans = vm_plans.borrow();
            let value = resolve(world, &plans, &reference).map_err(|p| p.error(lua, &reference))?;
            let ReflectRef::Struct(fields) = value.reflect_ref() else {
                return Err(Problem::Lost.error(lua, &reference));
            };
            let field = fields
                .field_at(field_index)
                .ok_or_else(|| Problem::Lost.error(lua, &reference))?;
            crate::reflect::to_lua(lua, field)
        })?
    })
}

/// `r.field = value`, the safe way: the value converts as `ecs.set` converts it.
fn assign_slow(lua: &Lua, r: &Value, key: &Value, value: Value) -> mlua::Result<()> {
    let reference = reference_arg(lua, r)?;
    // A reference assigned to a field stands for its value: `a.translation = b.translation`.
    let value = match userdata::reference(lua, &value) {
        Some(other) => value_of(lua, &other, "ComponentRef")?,
        None => value,
    };
    with_plans(lua, |vm_plans| {
        let plans = vm_plans.borrow();
        let (field_index, field_plan, field_name) = field_arg(lua, &plans, &reference, key)?;
        if plan::is_rotation(plans.get(reference.plan).info) {
            return Err(lua_error(
                ScriptErrorKind::TypeMismatch,
                format!(
                    "ComponentRef({}).{field_name}: a rotation is written whole, as \
                     {{x =, y =, z =, w =}} (normalized), or with transform.set_rotation",
                    name(lua, &reference)
                ),
            ));
        }
        let info = plans.get(field_plan).info;
        let root = plans.get(reference.root).info;
        let what = format!("ComponentRef({}).{field_name}", name(lua, &reference));
        let (value, reach) = with_world_ref(lua, |world| {
            let types = world
                .get_resource::<AppTypeRegistry>()
                .cloned()
                .unwrap_or_default();
            let types = types.read();
            let value = crate::vm::converting(lua, || {
                crate::reflect::from_lua(lua, value, info, &types, &what)
            })?;
            // What the write will find, checked now so that the call raises it.
            resolve(world, &plans, &reference).map_err(|p| p.error(lua, &reference))?;
            check_mutable(world, &plans, &reference).map_err(|p| p.error(lua, &reference))?;
            let reach = reach(&plans, &reference).map_err(|p| p.error(lua, &reference))?;
            Ok::<_, mlua::Error>((value, reach.clone()))
        })??;
        drop(plans);
        let write = FieldWrite {
            entity: reference.entity,
            reach,
            path: reference.path().into(),
            field: field_index,
            value: FieldValue::Reflected(value),
            root,
            field_name,
        };
        deferred::edit(lua, "ComponentRef", write)
    })
}

/// A write to a field through a reference (`r.field = v`), converted from Lua: what the main VM
/// applies at once and the parallel phase queues.
struct FieldWrite {
    /// The entity whose component it is.
    entity: Entity,
    /// How to reach the component.
    reach: Reach,
    /// The field indices from the component to the struct written to.
    path: Box<[u8]>,
    /// The index of the field written, in that struct.
    field: usize,
    /// The new value.
    value: FieldValue,
    /// The component's type, for naming the reference in errors.
    root: &'static TypeInfo,
    /// The name of the field written, for errors.
    field_name: &'static str,
}

/// The value of a [`FieldWrite`].
enum FieldValue {
    /// Built by reflection (the safe path).
    Reflected(Box<dyn PartialReflect>),
    /// A leaf read by the fast path.
    Leaf(Leaf, plan::Staged),
}

impl std::fmt::Debug for FieldWrite {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let value: &dyn std::fmt::Debug = match &self.value {
            FieldValue::Reflected(value) => value,
            FieldValue::Leaf(leaf, _) => leaf,
        };
        f.debug_struct("FieldWrite")
            .field("entity", &self.entity)
            .field("reference", &reference_name(self.root, &self.path))
            .field("field", &self.field_name)
            .field("value", value)
            .finish()
    }
}

impl Edit for FieldWrite {
    fn target(&self) -> Option<Entity> {
        Some(self.entity)
    }

    fn apply(self, world: &mut World) -> Result<(), Refusal> {
        let (entity, field_index) = (self.entity, self.field);
        let value = self.value;
        let written = reach_mut(world, &self.reach, entity, &self.path, |target| {
            let ReflectMut::Struct(fields) = target.reflect_mut() else {
                return Err(Problem::Lost);
            };
            let field = fields.field_at_mut(field_index).ok_or(Problem::Lost)?;
            Ok(match value {
                FieldValue::Reflected(value) => field.try_apply(&*value).map_err(|e| e.to_string()),
                FieldValue::Leaf(leaf, value) => plan::write_leaf(leaf, field, value)
                    .ok_or_else(|| "the value does not fit the field".to_owned()),
            })
        });
        let what = || reference_name(self.root, &self.path);
        match written.and_then(|inner| inner) {
            Ok(Ok(())) => Ok(()),
            Ok(Err(error)) => Err(Refusal::Failed(lua_error(
                ScriptErrorKind::TypeMismatch,
                format!("ComponentRef({}).{}: {error}", what(), self.field_name),
            ))),
            Err(Problem::Despawned) => Err(Refusal::Gone),
            Err(problem) => Err(Refusal::Failed(problem.about(&what(), entity))),
        }
    }
}

/// `Health`, or `Transform.translation`: the value at `path` (field indices) in a component of
/// type `root`, as [`name`] spells a reference, from the type's info alone.
fn reference_name(root: &'static TypeInfo, path: &[u8]) -> String {
    let mut text = root.type_path_table().short_path().to_owned();
    let mut info = Some(root);
    for &index in path {
        let Some(TypeInfo::Struct(fields)) = info else {
            break;
        };
        let Some(field) = fields.field_at(usize::from(index)) else {
            break;
        };
        text.push('.');
        text.push_str(field.name());
        info = field.type_info();
    }
    text
}

/// `a + b` and friends, the safe way.
fn arithmetic_slow(lua: &Lua, op: Op, a: &Value, b: &Value) -> mlua::Result<Value> {
    with_plans(lua, |vm_plans| {
        let operand = |value: &Value| -> mlua::Result<Option<Operand>> {
            Ok(match value {
                Value::Vector(v) => Some(Operand::Vector(Vec3::new(v.x(), v.y(), v.z()))),
                Value::Number(n) => Some(Operand::Number(*n)),
                Value::Integer(n) => Some(Operand::Number(*n as f64)),
                other => match userdata::reference(lua, other) {
                    Some(reference) => {
                        let plans = vm_plans.borrow();
                        if !is_vector(&plans, &reference) {
                            None
                        } else {
                            with_world_ref(lua, |world| {
                                resolve(world, &plans, &reference).map(|_| ())?;
                                Ok(vector_of(world, &plans, &reference).map(Operand::Vector))
                            })?
                            .map_err(|p: Problem| p.error(lua, &reference))?
                        }
                    }
                    None => None,
                },
            })
        };
        let left = operand(a)?;
        let right = match op {
            Op::Unm => left,
            _ => operand(b)?,
        };
        match (left, right) {
            (Some(left), Some(right)) => op
                .apply(left, right)
                .map(|v| Value::Vector(mlua::Vector::new(v.x, v.y, v.z)))
                .ok_or_else(|| arithmetic_error(op, a, b)),
            _ => Err(arithmetic_error(op, a, b)),
        }
    })
}

fn arithmetic_error(op: Op, a: &Value, b: &Value) -> mlua::Error {
    let message = match op {
        Op::Unm => format!(
            "ComponentRef: negation needs a reference to a vector, got {}",
            describe(a)
        ),
        _ => format!(
            "ComponentRef: arithmetic needs a reference to a vector and a vector or number, got \
             {} and {}",
            describe(a),
            describe(b)
        ),
    };
    lua_error(ScriptErrorKind::TypeMismatch, message)
}
