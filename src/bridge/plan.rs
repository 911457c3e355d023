//! Plans: how the fast path reads a reflected type from the Lua stack and writes it in place.
//!
//! A plan describes a type the fast path can handle without building `Dynamic*` values: a
//! struct (or a newtype) whose fields are, all the way down, structs, newtypes and the leaves
//! below. [`stage`] reads a Lua value by a plan, checking it as [`crate::reflect::from_lua`] would;
//! [`apply`] then writes what was read into the existing value field by field, so change
//! detection sees one write and nothing is allocated. A type or a value outside what plans
//! cover is left to the safe path ([`Shape::Opaque`], or `None` from [`stage`]), which gives
//! the same result or the same error: plans only ever accept a subset of what `from_lua`
//! accepts, and make the same value of it (`tests` check this).
//!
//! Plans also name fields for component references (`crate::api::ecs::reference`): each field
//! knows the address of the pinned Lua string of its name, so finding the field a script asks
//! for is a comparison of addresses.

use std::any::TypeId;
use std::cell::{Cell, RefCell};
use std::ffi::c_int;

use bevy_ecs::component::ComponentId;
use bevy_ecs::entity::Entity;
use bevy_ecs::reflect::ReflectComponent;
use bevy_ecs::world::WorldId;
use bevy_math::{Vec2, Vec3, Vec3A};
use bevy_reflect::ReflectFromPtr;
use bevy_reflect::{PartialReflect, ReflectMut, ReflectRef, TypeInfo};
use rustc_hash::FxHashMap;

use crate::bridge::keys::key_pin;
use crate::ffi::stack::{Pin, TablePin, Type};
use crate::ffi::{Extension, Shared, Stack};

/// Structs nested deeper than this are left to the safe path.
const MAX_DEPTH: usize = 8;

/// Identifies a plan in [`Plans`]; references hold it (see `crate::ffi::userdata`).
pub(crate) use crate::ffi::userdata::PlanId;

/// Every plan made in one VM, by type.
#[derive(Default)]
pub(crate) struct Plans {
    plans: Vec<Plan>,
    by_type: FxHashMap<TypeId, PlanId>,
    /// A plan per type that leaves everything to the safe path: what a type gets where its
    /// cached plan would reach past [`MAX_DEPTH`].
    opaque: FxHashMap<TypeId, PlanId>,
}

/// How one type is read and written.
pub(crate) struct Plan {
    /// The type's info, for naming it.
    pub info: &'static TypeInfo,
    /// How a Lua value of it is read.
    pub shape: Shape,
    /// Its named fields, in declaration order, for every type that reflects as a struct (glam's
    /// vectors too, though they read as a `vector`): what references navigate.
    pub fields: Vec<Field>,
    /// How to reach it on an entity, for a component a reference was made to.
    pub reach: Option<Reach>,
    /// How many leaves [`stage`] reads for it.
    pub leaves: usize,
    /// How many levels of structs (and newtypes) it reaches down: 0 for a leaf or an opaque
    /// value. A plan is used only where it stays within [`MAX_DEPTH`], wherever it was made.
    pub height: usize,
    /// For a struct: a table with its field names as keys, which [`push_value`] copies.
    template: Cell<Option<TablePin>>,
}

/// How a reference reaches its component on an entity.
#[derive(Clone)]
pub(crate) struct Reach {
    /// Through its type: works in any world.
    pub component: ReflectComponent,
    /// Through its id in one world, and a cast to `dyn Reflect`: faster.
    pub by_id: Option<(WorldId, ComponentId, ReflectFromPtr)>,
}

/// The shape of a planned type, for reading it from Lua.
pub(crate) enum Shape {
    /// A type with a mapping of its own.
    Leaf(Leaf),
    /// A struct: a table of its [`Plan::fields`].
    Struct,
    /// A tuple struct with one field, which maps to that field.
    Newtype(PlanId),
    /// Anything else: left to the safe path.
    Opaque,
}

/// One field of a struct plan.
pub(crate) struct Field {
    /// The field's name.
    pub name: &'static str,
    /// The address of the pinned Lua string of the name.
    pub key: usize,
    /// The pinned Lua string of the name (none outside a main VM).
    pub pin: Option<Pin>,
    /// The atom of the name (see [`crate::bridge::atoms`]).
    pub atom: Option<i16>,
    /// The plan of its type.
    pub plan: PlanId,
    /// Where its leaves start among its struct's leaves.
    pub slot: usize,
}

/// The leaves plans read and write: the types of `super::leaf` that need no allocation to
/// check, plus `String`.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Leaf {
    F32,
    F64,
    Bool,
    I8,
    I16,
    I32,
    I64,
    I128,
    Isize,
    U8,
    U16,
    U32,
    U64,
    U128,
    Usize,
    String,
    Entity,
    Vec3,
    Vec3A,
    Vec2,
}

/// A leaf value read from Lua, checked for its type.
pub(crate) enum Staged {
    F32(f32),
    F64(f64),
    Bool(bool),
    /// A whole number in the range of the leaf's integer type.
    Int(i128),
    String(String),
    Entity(Entity),
    Vector(Vec3),
}

impl Plans {
    /// The plan of the type `info`, made on first use (which pins its field names).
    pub fn of(&mut self, stack: Stack<'_>, info: &'static TypeInfo) -> PlanId {
        self.plan(stack, info, 0)
    }

    /// The plan `id`.
    pub fn get(&self, id: PlanId) -> &Plan {
        &self.plans[id as usize]
    }

    fn plan(&mut self, stack: Stack<'_>, info: &'static TypeInfo, depth: usize) -> PlanId {
        if let Some(&id) = self.by_type.get(&info.type_id()) {
            // A plan made shallower than here would reach past the depth the fast path
            // handles (and the safe path's own limit): leave this place to the safe path.
            if depth + self.get(id).height <= MAX_DEPTH {
                return id;
            }
            if let Some(&opaque) = self.opaque.get(&info.type_id()) {
                return opaque;
            }
            let opaque = self.push(info, Shape::Opaque, Vec::new());
            self.opaque.insert(info.type_id(), opaque);
            return opaque;
        }
        let nested = depth < MAX_DEPTH;
        let mut fields = Vec::new();
        if let (TypeInfo::Struct(named), true) = (info, nested) {
            let mut slot = 0;
            for field in named.iter() {
                let plan = match field.type_info() {
                    Some(field_info) => self.plan(stack, field_info, depth + 1),
                    None => self.push(info, Shape::Opaque, Vec::new()),
                };
                let pinned = key_pin(stack, field.name());
                fields.push(Field {
                    name: field.name(),
                    key: pinned.map_or(0, |(_, address)| address),
                    pin: pinned.map(|(pin, _)| pin),
                    atom: crate::bridge::atoms::atom(field.name().as_bytes()),
                    plan,
                    slot,
                });
                slot += self.get(plan).leaves;
            }
        }
        let shape = match (leaf(info.type_id()), info) {
            (Some(leaf), _) => Shape::Leaf(leaf),
            (None, TypeInfo::Struct(_)) if nested => Shape::Struct,
            (None, TypeInfo::TupleStruct(tuple)) if nested && tuple.field_len() == 1 => {
                match tuple.field_at(0).and_then(|f| f.type_info()) {
                    Some(inner) => Shape::Newtype(self.plan(stack, inner, depth + 1)),
                    None => Shape::Opaque,
                }
            }
            _ => Shape::Opaque,
        };
        let id = self.push(info, shape, fields);
        self.by_type.insert(info.type_id(), id);
        id
    }

    fn push(&mut self, info: &'static TypeInfo, shape: Shape, fields: Vec<Field>) -> PlanId {
        let id = PlanId::try_from(self.plans.len()).unwrap_or(PlanId::MAX);
        let leaves = match &shape {
            Shape::Leaf(_) => 1,
            Shape::Newtype(inner) => self.get(*inner).leaves,
            Shape::Struct => fields.iter().map(|f| self.get(f.plan).leaves).sum(),
            Shape::Opaque => 0,
        };
        let height = match &shape {
            Shape::Leaf(_) | Shape::Opaque => 0,
            Shape::Newtype(inner) => 1 + self.get(*inner).height,
            Shape::Struct => {
                1 + fields
                    .iter()
                    .map(|f| self.get(f.plan).height)
                    .max()
                    .unwrap_or(0)
            }
        };
        self.plans.push(Plan {
            info,
            shape,
            fields,
            reach: None,
            leaves,
            height,
            template: Cell::new(None),
        });
        id
    }

    /// Records how to reach plan `id`'s type, a component, on an entity: through `reflect`
    /// (and `from_ptr`, when the type has it), and by its id `component` in `world`.
    pub fn set_reach(
        &mut self,
        id: PlanId,
        (reflect, from_ptr): (&ReflectComponent, Option<&ReflectFromPtr>),
        world: WorldId,
        component: ComponentId,
    ) {
        let Some(plan) = self.plans.get_mut(id as usize) else {
            return;
        };
        let by_id = from_ptr.map(|from_ptr| (world, component, from_ptr.clone()));
        match &mut plan.reach {
            Some(reach) if reach.by_id.as_ref().is_some_and(|(w, ..)| *w == world) => {}
            Some(reach) => reach.by_id = by_id,
            None => {
                plan.reach = Some(Reach {
                    component: reflect.clone(),
                    by_id,
                })
            }
        }
    }

    /// The field of plan `id` whose name is the Lua string at `address`, with its index.
    pub fn field(&self, id: PlanId, address: usize) -> Option<(usize, &Field)> {
        let fields = &self.get(id).fields;
        fields.iter().enumerate().find(|(_, f)| f.key == address)
    }

    /// The field of plan `id` whose name has `atom`, with its index. `hint` is where it was
    /// found last time (plus one; 0 for none), and is updated.
    pub fn field_by_atom(
        &self,
        id: PlanId,
        atom: c_int,
        hint: &mut u16,
    ) -> Option<(usize, &Field)> {
        let fields = &self.get(id).fields;
        let is = |field: &Field| field.atom.is_some_and(|a| c_int::from(a) == atom);
        let hinted = usize::from(*hint).checked_sub(1);
        if let Some(index) = hinted
            && let Some(field) = fields.get(index).filter(|f| is(f))
        {
            return Some((index, field));
        }
        let (index, field) = fields.iter().enumerate().find(|(_, f)| is(f))?;
        if let Ok(next) = u16::try_from(index + 1) {
            *hint = next;
        }
        Some((index, field))
    }
}

/// Whether a value of the type `info` is written in place when a whole new value is set: a type
/// whose plan is complete (every field, all the way down, a leaf, a struct of such fields or a
/// newtype of one, [`MAX_DEPTH`] deep at most). Writing in place keeps the fields hidden from
/// reflection (`#[reflect(ignore)]`); other types (with collections, enums or options) are
/// replaced as a whole, and their hidden fields get their defaults. The fast path handles
/// exactly the first kind, so both paths write a type the same way.
pub(crate) fn writes_in_place(info: &TypeInfo) -> bool {
    fn complete(info: &TypeInfo, depth: usize) -> bool {
        if leaf(info.type_id()).is_some() {
            return true;
        }
        if depth >= MAX_DEPTH {
            return false;
        }
        match info {
            TypeInfo::Struct(fields) => fields.iter().all(|field| {
                field
                    .type_info()
                    .is_some_and(|info| complete(info, depth + 1))
            }),
            TypeInfo::TupleStruct(tuple) if tuple.field_len() == 1 => tuple
                .field_at(0)
                .and_then(|field| field.type_info())
                .is_some_and(|info| complete(info, depth + 1)),
            _ => false,
        }
    }
    complete(info, 0)
}

/// The leaf a type is, by its id.
fn leaf(id: TypeId) -> Option<Leaf> {
    macro_rules! leaves {
        ($($ty:ty => $leaf:ident),*) => {$(
            if id == TypeId::of::<$ty>() {
                return Some(Leaf::$leaf);
            }
        )*};
    }
    leaves!(
        f32 => F32, f64 => F64, bool => Bool, i8 => I8, i16 => I16, i32 => I32, i64 => I64,
        i128 => I128, isize => Isize, u8 => U8, u16 => U16, u32 => U32, u64 => U64,
        u128 => U128, usize => Usize, String => String, Entity => Entity, Vec3 => Vec3,
        Vec3A => Vec3A, Vec2 => Vec2
    );
    None
}

/// Reads the value at `index` by plan `id` into `out`, which has one slot per leaf of the
/// plan (see [`Plan::leaves`]), in declaration order. `None` when the plan or the value is one
/// the safe path must handle (a value that would be an error there, too).
pub(crate) fn stage(
    plans: &Plans,
    id: PlanId,
    stack: Stack<'_>,
    index: c_int,
    out: &mut [Option<Staged>],
) -> Option<()> {
    stage_of(plans, id, stack, index, stack.kind(index), out)
}

/// [`stage`] of a value whose type the caller knows.
fn stage_of(
    plans: &Plans,
    id: PlanId,
    stack: Stack<'_>,
    index: c_int,
    kind: Type,
    out: &mut [Option<Staged>],
) -> Option<()> {
    let plan = plans.get(id);
    match &plan.shape {
        Shape::Leaf(leaf) => *out.first_mut()? = Some(read_leaf_of(stack, index, kind, *leaf)?),
        Shape::Newtype(inner) => stage_of(plans, *inner, stack, index, kind, out)?,
        Shape::Struct => {
            // A rotation is normalized on its way in, which the safe path does.
            if kind != Type::Table || is_rotation(plan.info) {
                return None;
            }
            let keys = plan_keys(plan)?;
            let mut found = 0;
            let entries = stack.walk(index, &keys, |position, value, kind| {
                let field = plan.fields.get(position)?;
                let leaves = plans.get(field.plan).leaves;
                let slots = out.get_mut(field.slot..field.slot + leaves)?;
                found += 1;
                stage_of(plans, field.plan, stack, value, kind, slots)
            })?;
            // Every field there, no other key: a stray key or a missing field the safe path
            // names.
            if found != plan.fields.len() || entries != found {
                return None;
            }
        }
        Shape::Opaque => return None,
    }
    Some(())
}

/// Whether `info` is a rotation (`Quat`): written whole and normalized, never a field at a time.
pub(crate) fn is_rotation(info: &TypeInfo) -> bool {
    info.type_id() == std::any::TypeId::of::<bevy_math::Quat>()
}

/// The addresses of the pinned names of a struct plan's fields, in order.
fn plan_keys(plan: &Plan) -> Option<smallvec_keys::Keys> {
    let mut keys = smallvec_keys::Keys::new();
    for field in &plan.fields {
        if field.key == 0 {
            return None;
        }
        keys.push(field.key)?;
    }
    Some(keys)
}

/// A small fixed-capacity list of key addresses, so staging allocates nothing.
mod smallvec_keys {
    /// Fields beyond this many are left to the safe path.
    const CAPACITY: usize = 32;

    pub(super) struct Keys {
        keys: [usize; CAPACITY],
        len: usize,
    }

    impl Keys {
        pub fn new() -> Self {
            Self {
                keys: [0; CAPACITY],
                len: 0,
            }
        }

        pub fn push(&mut self, key: usize) -> Option<()> {
            *self.keys.get_mut(self.len)? = key;
            self.len += 1;
            Some(())
        }
    }

    impl std::ops::Deref for Keys {
        type Target = [usize];
        fn deref(&self) -> &[usize] {
            &self.keys[..self.len]
        }
    }
}

/// Pushes the pinned name of `field`.
fn push_field_name(stack: Stack<'_>, field: &Field) {
    match field.pin {
        Some(pin) => stack.push_pinned(pin),
        None => stack.push_str(field.name.as_bytes()),
    }
}

/// Pushes `value`, of plan `id`'s type, converted as `crate::reflect::push` converts it
/// (which handles what the plan does not describe); `None`, leaving nothing pushed that the
/// caller must keep, when it cannot cross.
pub(crate) fn push_value(
    plans: &Plans,
    id: PlanId,
    stack: Stack<'_>,
    value: &dyn PartialReflect,
) -> Option<()> {
    let plan = plans.get(id);
    match &plan.shape {
        Shape::Leaf(leaf) => push_leaf(stack, *leaf, value),
        Shape::Newtype(inner) => match value.reflect_ref() {
            ReflectRef::TupleStruct(tuple) => push_value(plans, *inner, stack, tuple.field(0)?),
            _ => None,
        },
        Shape::Struct => {
            let ReflectRef::Struct(fields) = value.reflect_ref() else {
                return None;
            };
            push_template(stack, plan);
            let table = stack.top();
            for (index, field) in plan.fields.iter().enumerate() {
                push_field_name(stack, field);
                push_value(plans, field.plan, stack, fields.field_at(index)?)?;
                stack.raw_set(table)?;
            }
            Some(())
        }
        Shape::Opaque => crate::reflect::push(stack, value).then_some(()),
    }
}

/// Reads one leaf, checked as `super::leaf` checks it.
pub(crate) fn read_leaf(stack: Stack<'_>, index: c_int, leaf: Leaf) -> Option<Staged> {
    read_leaf_of(stack, index, stack.kind(index), leaf)
}

/// [`read_leaf`] of a value whose type the caller knows.
fn read_leaf_of(stack: Stack<'_>, index: c_int, kind: Type, leaf: Leaf) -> Option<Staged> {
    Some(match leaf {
        Leaf::F32 => Staged::F32(stack.number_of(index, kind)? as f32),
        Leaf::F64 => Staged::F64(stack.number_of(index, kind)?),
        Leaf::Bool => Staged::Bool(stack.boolean(index)?),
        Leaf::String => {
            let text = stack.string(index)?;
            Staged::String(String::from_utf8_lossy(text.bytes()).into_owned())
        }
        Leaf::Entity => Staged::Entity(stack.entity(index)?),
        Leaf::Vec3 | Leaf::Vec3A | Leaf::Vec2 => Staged::Vector(stack.vector(index)?),
        integer => {
            let n = stack.number_of(index, kind)?;
            if !n.is_finite() || n.fract() != 0.0 {
                return None;
            }
            // As `super::leaf::integer` converts: through `u128` or `i128`, where the casts
            // are exact for whole numbers inside these bounds.
            const U128_END: f64 = 340_282_366_920_938_463_463_374_607_431_768_211_456.0;
            const I128_START: f64 = -170_141_183_460_469_231_731_687_303_715_884_105_728.0;
            let whole = if n >= 0.0 {
                if n >= U128_END {
                    return None;
                }
                i128::try_from(n as u128).ok()?
            } else {
                if n < I128_START {
                    return None;
                }
                n as i128
            };
            let (min, max) = range(integer)?;
            // The range as `f64` sees it: the 64-bit bounds, which it rounds up, saturate, as
            // on the safe path.
            if n < min as f64 || n > max as f64 {
                return None;
            }
            Staged::Int(whole.clamp(min, max))
        }
    })
}

/// The range of an integer leaf, as far as `i128` reaches (`u128` beyond it is left to the
/// safe path).
fn range(leaf: Leaf) -> Option<(i128, i128)> {
    Some(match leaf {
        Leaf::I8 => (i8::MIN.into(), i8::MAX.into()),
        Leaf::I16 => (i16::MIN.into(), i16::MAX.into()),
        Leaf::I32 => (i32::MIN.into(), i32::MAX.into()),
        Leaf::I64 => (i64::MIN.into(), i64::MAX.into()),
        Leaf::I128 => (i128::MIN, i128::MAX),
        Leaf::Isize => (isize::MIN as i128, isize::MAX as i128),
        Leaf::U8 => (0, u8::MAX.into()),
        Leaf::U16 => (0, u16::MAX.into()),
        Leaf::U32 => (0, u32::MAX.into()),
        Leaf::U64 => (0, u64::MAX.into()),
        Leaf::U128 => (0, i128::MAX),
        Leaf::Usize => (0, usize::MAX as i128),
        _ => return None,
    })
}

/// Writes the staged leaves into `target`, a value of plan `id`'s type, in the order [`stage`]
/// read them. `None` only if `target` is not of that type.
pub(crate) fn apply(
    plans: &Plans,
    id: PlanId,
    target: &mut dyn PartialReflect,
    staged: &mut impl Iterator<Item = Option<Staged>>,
) -> Option<()> {
    match &plans.get(id).shape {
        Shape::Leaf(leaf) => write_leaf(*leaf, target, staged.next()??),
        Shape::Newtype(inner) => match target.reflect_mut() {
            ReflectMut::TupleStruct(tuple) => apply(plans, *inner, tuple.field_mut(0)?, staged),
            _ => None,
        },
        Shape::Struct => match target.reflect_mut() {
            ReflectMut::Struct(target) => {
                for (index, field) in plans.get(id).fields.iter().enumerate() {
                    apply(plans, field.plan, target.field_at_mut(index)?, staged)?;
                }
                Some(())
            }
            _ => None,
        },
        Shape::Opaque => None,
    }
}

/// Pushes `value`, a leaf of kind `leaf`, as `crate::reflect::push` would; `None` if it is not
/// of that type.
pub(crate) fn push_leaf(stack: Stack<'_>, leaf: Leaf, value: &dyn PartialReflect) -> Option<()> {
    macro_rules! get {
        ($ty:ty) => {
            value.try_downcast_ref::<$ty>()?
        };
    }
    match leaf {
        Leaf::F32 => stack.push_number(f64::from(*get!(f32))),
        Leaf::F64 => stack.push_number(*get!(f64)),
        Leaf::Bool => stack.push_bool(*get!(bool)),
        Leaf::I8 => stack.push_number(f64::from(*get!(i8))),
        Leaf::I16 => stack.push_number(f64::from(*get!(i16))),
        Leaf::I32 => stack.push_number(f64::from(*get!(i32))),
        Leaf::I64 => stack.push_number(*get!(i64) as f64),
        Leaf::I128 => stack.push_number(*get!(i128) as f64),
        Leaf::Isize => stack.push_number(*get!(isize) as f64),
        Leaf::U8 => stack.push_number(f64::from(*get!(u8))),
        Leaf::U16 => stack.push_number(f64::from(*get!(u16))),
        Leaf::U32 => stack.push_number(f64::from(*get!(u32))),
        Leaf::U64 => stack.push_number(*get!(u64) as f64),
        Leaf::U128 => stack.push_number(*get!(u128) as f64),
        Leaf::Usize => stack.push_number(*get!(usize) as f64),
        Leaf::String => stack.push_str(get!(String).as_bytes()),
        Leaf::Entity => stack.push_entity(*get!(Entity)),
        Leaf::Vec3 => stack.push_vector(*get!(Vec3)),
        Leaf::Vec3A => stack.push_vector((*get!(Vec3A)).into()),
        Leaf::Vec2 => stack.push_vector(get!(Vec2).extend(0.0)),
    }
    Some(())
}

/// Pushes a new table for a value of struct plan `plan`: a copy of its template, which has every
/// field's key already (so setting the fields only overwrites), made on first use.
fn push_template(stack: Stack<'_>, plan: &Plan) {
    if let Some(template) = plan.template.get() {
        stack.push_clone(template);
        return;
    }
    stack.push_table(0, plan.fields.len());
    let pins: Option<Vec<Pin>> = plan.fields.iter().map(|f| f.pin).collect();
    let Some(pins) = pins else {
        return;
    };
    let table = stack.top();
    for pin in pins {
        stack.push_pinned(pin);
        stack.push_bool(false);
        if stack.raw_set(table).is_none() {
            stack.truncate(table - 1);
            return;
        }
    }
    plan.template.set(stack.pin_table(table));
    stack.truncate(table - 1);
    if let Some(template) = plan.template.get() {
        stack.push_clone(template);
    } else {
        stack.push_table(0, plan.fields.len());
    }
}

/// Writes one staged leaf into `target`, which is of the leaf's type.
pub(crate) fn write_leaf(leaf: Leaf, target: &mut dyn PartialReflect, value: Staged) -> Option<()> {
    macro_rules! set {
        ($ty:ty, $value:expr) => {{
            *target.try_downcast_mut::<$ty>()? = $value;
        }};
    }
    match (leaf, value) {
        (Leaf::F32, Staged::F32(v)) => set!(f32, v),
        (Leaf::F64, Staged::F64(v)) => set!(f64, v),
        (Leaf::Bool, Staged::Bool(v)) => set!(bool, v),
        (Leaf::String, Staged::String(v)) => set!(String, v),
        (Leaf::Entity, Staged::Entity(v)) => set!(Entity, v),
        (Leaf::Vec3, Staged::Vector(v)) => set!(Vec3, v),
        (Leaf::Vec3A, Staged::Vector(v)) => set!(Vec3A, v.into()),
        (Leaf::Vec2, Staged::Vector(v)) => set!(Vec2, v.truncate()),
        (leaf, Staged::Int(v)) => match leaf {
            Leaf::I8 => set!(i8, v.try_into().ok()?),
            Leaf::I16 => set!(i16, v.try_into().ok()?),
            Leaf::I32 => set!(i32, v.try_into().ok()?),
            Leaf::I64 => set!(i64, v.try_into().ok()?),
            Leaf::I128 => set!(i128, v),
            Leaf::Isize => set!(isize, v.try_into().ok()?),
            Leaf::U8 => set!(u8, v.try_into().ok()?),
            Leaf::U16 => set!(u16, v.try_into().ok()?),
            Leaf::U32 => set!(u32, v.try_into().ok()?),
            Leaf::U64 => set!(u64, v.try_into().ok()?),
            Leaf::U128 => set!(u128, v.try_into().ok()?),
            Leaf::Usize => set!(usize, v.try_into().ok()?),
            _ => return None,
        },
        _ => return None,
    }
    Some(())
}

/// Slot 3 of the VM's extensions.
impl Extension for RefCell<Plans> {
    const SLOT: usize = 3;
}

/// Slot 4 of the VM's extensions.
impl Extension for RefCell<Vec<Option<Staged>>> {
    const SLOT: usize = 4;
}

impl Shared {
    /// How reflected types are read and written in place.
    pub fn plans(&self) -> Option<&RefCell<Plans>> {
        self.extension()
    }

    /// Leaves read by a plan before they are written, kept to reuse the allocation.
    pub fn staged(&self) -> Option<&RefCell<Vec<Option<Staged>>>> {
        self.extension()
    }
}

#[cfg(test)]
#[path = "plan_tests.rs"]
mod tests;
