//! Converting reflected values to and from Lua, directly through `bevy_reflect`.
//!
//! Components and resources that are registered for reflection (`#[derive(Reflect)]` with
//! `#[reflect(Component)]` or `#[reflect(Resource)]`) reach scripts through this module, without
//! serde. That keeps entities exact and turns a `Vec3` into Luau's native `vector`.
//!
//! # Mapping
//!
//! | Rust (reflected) | Lua |
//! |---|---|
//! | `Entity` | an entity (a light userdata, exact for every generation) |
//! | `Vec3`, `Vec3A` | `vector`; a `{x =, y =, z =}` table is accepted too |
//! | `Vec2` | `vector` with `z = 0`; reading ignores `z` and accepts `{x =, y =}` too |
//! | `Quat`, and other glam types such as `Vec4` or `IVec2` | a table of their fields, `{x =, y =, z =, w =}` |
//! | `bool` | boolean |
//! | `f32`, `f64` | number |
//! | `i8` … `i128`, `u8` … `u128`, `isize`, `usize` | number; reading checks it is whole and in range |
//! | `String`, `Cow<'static, str>`, `Name` | string (`&'static str` is written, never read) |
//! | `char` | a string of one character |
//! | `Duration` | number of seconds |
//! | `Option<T>` | `nil`, or what `T` maps to |
//! | struct | a table of its fields, `{current = 70, max = 100}` |
//! | tuple struct with one field (a newtype) | what the field maps to |
//! | other tuple structs, tuples | a list, `{a, b}` |
//! | `Vec<T>`, `VecDeque<T>`, `[T; N]`, `HashSet<T>` | a list; an array's length is checked |
//! | `HashMap<K, V>`, `BTreeMap<K, V>` | a table whose keys are what `K` maps to (string, number, entity) |
//! | enum, unit variant | its name, `"Idle"` |
//! | enum, tuple variant with one field | `{Walk = 2.5}` |
//! | enum, other tuple variant | `{Patrol = {a, b}}` |
//! | enum, struct variant | `{Attack = {target = e, damage = 5}}` |
//! | any other opaque type (`PathBuf`, `Handle<T>`, …) | an error: it cannot cross |
//!
//! Enums use serde's externally tagged form, and reading accepts exactly those shapes.
//!
//! # Reading from Lua
//!
//! - A value read from Lua replaces the old one as a whole, so a struct needs every field. A
//!   missing field is an error, except that an `Option` field may be left out (it is `None`,
//!   since a Lua table cannot hold `nil`). An unknown field is an error too, so that a typo
//!   never vanishes silently.
//! - Fields marked `#[reflect(ignore)]` are invisible to Lua; `FromReflect` gives them their
//!   default value.
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

use std::any::{TypeId, type_name};
use std::borrow::Cow;
use std::fmt::Write;
use std::time::Duration;

use bevy_ecs::entity::Entity;
use bevy_ecs::name::Name;
use bevy_math::{Vec2, Vec3, Vec3A};
use bevy_reflect::array::DynamicArray;
use bevy_reflect::enums::{DynamicEnum, DynamicVariant, EnumInfo, StructVariantInfo};
use bevy_reflect::enums::{VariantInfo, VariantType};
use bevy_reflect::list::DynamicList;
use bevy_reflect::map::{DynamicMap, Map, MapInfo};
use bevy_reflect::set::{DynamicSet, Set};
use bevy_reflect::structs::{DynamicStruct, StructInfo};
use bevy_reflect::tuple::DynamicTuple;
use bevy_reflect::tuple_struct::DynamicTupleStruct;
use bevy_reflect::{
    FromReflect, NamedField, PartialReflect, ReflectFromReflect, ReflectRef, Type, TypeInfo,
    TypePathTable, TypeRegistry, UnnamedField,
};
use mlua::{Lua, LuaString, Table, Value};

use crate::error::{ScriptErrorKind, lua_error};
use crate::value::{entity_from_lua, entity_to_lua};

/// How many tables deep a value may nest, in either direction.
const MAX_DEPTH: usize = 64;

/// How many values one conversion from Lua may produce, so that a few lines of Lua sharing one
/// table many times over cannot ask for an exponentially large value.
const MAX_VALUES: usize = 1 << 20;

/// Converts a reflected value into a Lua value, following the mapping in the module docs.
///
/// Errors (an opaque type, a value nested too deeply) are [`ScriptErrorKind::TypeMismatch`]
/// errors that name the field; the caller adds what was being converted, for example with
/// [`mlua::ErrorContext::context`]. Errors from Lua itself, such as running out of memory, are
/// returned unchanged.
pub(crate) fn to_lua(lua: &Lua, value: &dyn PartialReflect) -> mlua::Result<Value> {
    Writer { lua }
        .value(value, 0)
        .map_err(|failure| failure.into_error(None))
}

/// Builds a reflected value of the type described by `info` from a Lua value.
///
/// The result is ready for `ReflectComponent::insert`, `ReflectResource::insert` or
/// `ReflectFromReflect::from_reflect`: leaves are concrete values, containers are `Dynamic*`
/// values that represent their type. Types that `info` refers to are looked up in `registry`.
///
/// `what` names the thing being converted for error messages, for example
/// ``ecs.set: component `Health` ``; every error is a [`ScriptErrorKind::TypeMismatch`] that
/// starts with it.
pub(crate) fn from_lua(
    _lua: &Lua,
    value: Value,
    info: &'static TypeInfo,
    registry: &TypeRegistry,
    what: &str,
) -> mlua::Result<Box<dyn PartialReflect>> {
    let mut reader = Reader {
        registry,
        budget: MAX_VALUES,
    };
    reader
        .value(value, info.ty(), &|| Some(info), 0)
        .map_err(|failure| failure.into_error(Some(what)))
}

/// Why a conversion failed.
enum Failure {
    /// Lua itself failed (out of memory, for instance); passed on unchanged.
    Lua(mlua::Error),
    /// The value does not fit the type.
    Mismatch {
        /// What is wrong, without the path: "expected a number, got string \"x\"".
        message: String,
        /// Where the value sits, innermost segment first.
        path: Vec<Segment>,
    },
}

/// One step of the path to a value inside another.
enum Segment {
    /// A struct field, a variant, or a map key that reads as a Lua identifier: `.name`.
    Field(String),
    /// A list index or another map key, already rendered: `[3]`, `["two words"]`.
    Index(String),
}

impl Failure {
    /// A mismatch at the value being converted; callers up the stack add the path.
    fn mismatch(message: impl Into<String>) -> Self {
        Self::Mismatch {
            message: message.into(),
            path: Vec::new(),
        }
    }

    /// Records that the failure happened inside `segment`.
    fn inside(mut self, segment: Segment) -> Self {
        if let Self::Mismatch { path, .. } = &mut self {
            path.push(segment);
        }
        self
    }

    /// Says what the failure is about, in front of its message: "key 1.5: …".
    fn about(mut self, subject: impl FnOnce() -> String) -> Self {
        if let Self::Mismatch { message, .. } = &mut self {
            *message = format!("{}: {message}", subject());
        }
        self
    }

    /// The Lua error: "{what}: field `{path}`: {message}", of kind `TypeMismatch`.
    fn into_error(self, what: Option<&str>) -> mlua::Error {
        let (message, path) = match self {
            Self::Lua(error) => return error,
            Self::Mismatch { message, path } => (message, path),
        };
        let mut text = String::new();
        if let Some(what) = what {
            text.push_str(what);
            text.push_str(": ");
        }
        if !path.is_empty() {
            text.push_str("field `");
            for segment in path.iter().rev() {
                match segment {
                    Segment::Field(name) if text.ends_with('`') => text.push_str(name),
                    Segment::Field(name) => {
                        text.push('.');
                        text.push_str(name);
                    }
                    Segment::Index(index) => {
                        text.push('[');
                        text.push_str(index);
                        text.push(']');
                    }
                }
            }
            text.push_str("`: ");
        }
        text.push_str(&message);
        lua_error(ScriptErrorKind::TypeMismatch, text)
    }
}

impl From<mlua::Error> for Failure {
    fn from(error: mlua::Error) -> Self {
        Self::Lua(error)
    }
}

/// The error for a Lua value of the wrong kind: "expected a number, got string \"x\"".
fn expected(what: &str, got: &Value) -> Failure {
    Failure::mismatch(format!("expected {what}, got {}", describe(got)))
}

/// Describes a Lua value for an error message: `nil`, `number 2.5`, `string "x"`, `table`.
fn describe(value: &Value) -> String {
    const MAX_CHARS: usize = 40;
    match value {
        Value::Boolean(value) => format!("boolean {value}"),
        Value::Integer(value) => format!("number {value}"),
        Value::Number(value) => format!("number {}", show_number(*value)),
        Value::Vector(value) => format!("vector({}, {}, {})", value.x(), value.y(), value.z()),
        Value::String(value) => {
            let text = value.to_string_lossy();
            match text.char_indices().nth(MAX_CHARS) {
                Some((end, _)) => format!("string {:?}…", &text[..end]),
                None => format!("string {text:?}"),
            }
        }
        Value::LightUserData(_) => match entity_from_lua(value) {
            Some(entity) => format!("Entity({entity})"),
            None => "lightuserdata".to_owned(),
        },
        other => other.type_name().to_owned(),
    }
}

/// Shows a number without hundreds of digits: `2.5`, `300`, `1e300`, `NaN`.
fn show_number(number: f64) -> String {
    if number.is_finite() && number.abs() >= 1e16 {
        format!("{number:e}")
    } else {
        format!("{number}")
    }
}

/// Shows a table key as Lua would write it between brackets: `"two words"`, `3`, `Entity(5v0)`.
fn key_text(key: &Value) -> String {
    match key {
        Value::String(text) => format!("{:?}", text.to_string_lossy()),
        Value::Integer(value) => value.to_string(),
        Value::Number(value) => show_number(*value),
        Value::LightUserData(_) => describe(key),
        other => other.type_name().to_owned(),
    }
}

/// Whether a type is `core::option::Option<T>`, which maps to `nil` or its inner value.
fn is_option(path: &TypePathTable) -> bool {
    path.ident() == Some("Option") && path.module_path() == Some("core::option")
}

/// Whether a type is `Option<T>`, from its [`Type`].
fn is_option_type(ty: &Type) -> bool {
    is_option(ty.type_path_table())
}

/// Names a key of a Lua table as a path segment.
fn key_segment(key: &Value) -> Segment {
    match key {
        Value::String(text) => {
            let text = text.to_string_lossy();
            if is_identifier(&text) {
                Segment::Field(text)
            } else {
                Segment::Index(format!("{text:?}"))
            }
        }
        other => Segment::Index(key_text(other)),
    }
}

/// Whether `key` can be written bare in Lua (`t.key`).
fn is_identifier(key: &str) -> bool {
    let mut chars = key.chars();
    chars
        .next()
        .is_some_and(|first| first.is_ascii_alphabetic() || first == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Lists names for an error message: "`a`, `b`".
fn list_names(names: &[&str]) -> String {
    let mut out = String::new();
    for (index, name) in names.iter().enumerate() {
        let separator = if index == 0 { "" } else { ", " };
        // Writing to a `String` cannot fail.
        let _ = write!(out, "{separator}`{name}`");
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Rust to Lua
// ---------------------------------------------------------------------------------------------

/// Converts reflected values into Lua values.
struct Writer<'l> {
    /// The VM that owns the strings and tables being made.
    lua: &'l Lua,
}

impl Writer<'_> {
    /// Converts `value`, which sits `depth` containers deep.
    fn value(&self, value: &dyn PartialReflect, depth: usize) -> Result<Value, Failure> {
        if let Some(leaf) = self.leaf(value)? {
            return Ok(leaf);
        }
        if depth >= MAX_DEPTH {
            let message = format!("value nested more than {MAX_DEPTH} levels deep");
            return Err(Failure::mismatch(message));
        }
        let lua = self.lua;
        let depth = depth + 1;
        Ok(match value.reflect_ref() {
            ReflectRef::Struct(value) => {
                let table = lua.create_table_with_capacity(0, value.field_len())?;
                for (name, field) in value.iter_fields() {
                    let item = self
                        .value(field, depth)
                        .map_err(|f| f.inside(Segment::Field(name.to_owned())))?;
                    table.raw_set(name, item)?;
                }
                Value::Table(table)
            }
            ReflectRef::TupleStruct(value) if value.field_len() == 1 => match value.field(0) {
                Some(field) => self.value(field, depth)?,
                None => Value::Nil,
            },
            ReflectRef::TupleStruct(value) => {
                self.list(value.field_len(), value.iter_fields(), depth)?
            }
            ReflectRef::Tuple(value) => self.list(value.field_len(), value.iter_fields(), depth)?,
            ReflectRef::List(value) => self.list(value.len(), value.iter(), depth)?,
            ReflectRef::Array(value) => self.list(value.len(), value.iter(), depth)?,
            ReflectRef::Set(value) => self.list(value.len(), value.iter(), depth)?,
            ReflectRef::Map(value) => {
                let table = lua.create_table_with_capacity(0, value.len())?;
                for (key, item) in value.iter() {
                    let key = self.value(key, depth)?;
                    if key.is_nil() {
                        return Err(Failure::mismatch("a map key converts to nil"));
                    }
                    let item = self
                        .value(item, depth)
                        .map_err(|f| f.inside(key_segment(&key)))?;
                    table.raw_set(key, item)?;
                }
                Value::Table(table)
            }
            ReflectRef::Enum(value) => {
                let option = if value.is_dynamic() {
                    value
                        .get_represented_type_info()
                        .is_some_and(|info| is_option(info.type_path_table()))
                } else {
                    value.reflect_type_ident() == Some("Option")
                        && value.reflect_module_path() == Some("core::option")
                };
                let name = value.variant_name();
                if option {
                    return match value.field_at(0) {
                        Some(inner) if name == "Some" => self.value(inner, depth),
                        _ => Ok(Value::Nil),
                    };
                }
                let inside = |f: Failure| f.inside(Segment::Field(name.to_owned()));
                let payload = match value.variant_type() {
                    VariantType::Unit => return Ok(Value::String(lua.create_string(name)?)),
                    VariantType::Tuple if value.field_len() == 1 => match value.field_at(0) {
                        Some(field) => self.value(field, depth).map_err(inside)?,
                        None => Value::Nil,
                    },
                    VariantType::Tuple => self
                        .list(
                            value.field_len(),
                            value.iter_fields().map(|f| f.value()),
                            depth,
                        )
                        .map_err(inside)?,
                    VariantType::Struct => {
                        let table = lua.create_table_with_capacity(0, value.field_len())?;
                        for field in value.iter_fields() {
                            let field_name = field.name().unwrap_or_default();
                            let item = self.value(field.value(), depth).map_err(|f| {
                                inside(f.inside(Segment::Field(field_name.to_owned())))
                            })?;
                            table.raw_set(field_name, item)?;
                        }
                        Value::Table(table)
                    }
                };
                let table = lua.create_table_with_capacity(0, 1)?;
                table.raw_set(name, payload)?;
                Value::Table(table)
            }
            // Opaque values that `leaf` did not know (and functions, where that feature is on).
            _ => {
                let message = format!(
                    "type `{}` cannot cross to Lua (it is opaque to reflection)",
                    value.reflect_short_type_path()
                );
                return Err(Failure::mismatch(message));
            }
        })
    }

    /// Writes items into a sequence table `{a, b, c}`.
    fn list<'a>(
        &self,
        len: usize,
        items: impl Iterator<Item = &'a dyn PartialReflect>,
        depth: usize,
    ) -> Result<Value, Failure> {
        let table = self.lua.create_table_with_capacity(len, 0)?;
        for (index, item) in items.enumerate() {
            let item = self
                .value(item, depth)
                .map_err(|f| f.inside(Segment::Index((index + 1).to_string())))?;
            table.raw_set(index + 1, item)?;
        }
        Ok(Value::Table(table))
    }

    /// Converts the types with a mapping of their own; `None` for everything else.
    fn leaf(&self, value: &dyn PartialReflect) -> Result<Option<Value>, Failure> {
        let Some(reflect) = value.try_as_reflect() else {
            return Ok(dynamic_leaf(value));
        };
        let any = reflect.as_any();
        let id = any.type_id();
        // One `type_id` call, then plain comparisons; the downcast after a match cannot fail.
        macro_rules! get {
            ($ty:ty) => {
                (id == TypeId::of::<$ty>())
                    .then(|| any.downcast_ref::<$ty>())
                    .flatten()
            };
        }
        macro_rules! exact_integers {
            ($($ty:ty),*) => {$(
                if let Some(value) = get!($ty) {
                    return Ok(Some(Value::Integer(i64::from(*value))));
                }
            )*};
        }
        macro_rules! wide_integers {
            ($($ty:ty),*) => {$(
                if let Some(&value) = get!($ty) {
                    let number = Value::Number(value as f64);
                    return Ok(Some(i64::try_from(value).map_or(number, Value::Integer)));
                }
            )*};
        }
        if let Some(value) = get!(f32) {
            return Ok(Some(Value::Number(f64::from(*value))));
        }
        if let Some(value) = get!(Entity) {
            return Ok(Some(entity_to_lua(*value)));
        }
        if let Some(value) = get!(Vec3) {
            return Ok(Some(vector(value.x, value.y, value.z)));
        }
        exact_integers!(i32, u32, i64, u8, u16, i8, i16);
        wide_integers!(usize, u64, isize, i128, u128);
        if let Some(value) = get!(f64) {
            return Ok(Some(Value::Number(*value)));
        }
        if let Some(value) = get!(bool) {
            return Ok(Some(Value::Boolean(*value)));
        }
        let mut buffer = [0; 4];
        let text: Option<&str> = if let Some(value) = get!(String) {
            Some(value)
        } else if let Some(value) = get!(Cow<'static, str>) {
            Some(value)
        } else if let Some(value) = get!(&'static str) {
            Some(value)
        } else if let Some(value) = get!(Name) {
            Some(value.as_str())
        } else if let Some(value) = get!(char) {
            Some(value.encode_utf8(&mut buffer))
        } else {
            None
        };
        if let Some(text) = text {
            return Ok(Some(Value::String(self.lua.create_string(text)?)));
        }
        if let Some(value) = get!(Vec3A) {
            return Ok(Some(vector(value.x, value.y, value.z)));
        }
        if let Some(value) = get!(Vec2) {
            return Ok(Some(vector(value.x, value.y, 0.0)));
        }
        if let Some(value) = get!(Duration) {
            return Ok(Some(Value::Number(value.as_secs_f64())));
        }
        Ok(None)
    }
}

/// The special mappings for dynamic values that stand for a vector type.
///
/// Opaque leaves are always concrete, so only the glam structs can turn up here.
fn dynamic_leaf(value: &dyn PartialReflect) -> Option<Value> {
    let id = value.get_represented_type_info()?.type_id();
    if id == TypeId::of::<Vec3>() {
        Vec3::from_reflect(value).map(|v| vector(v.x, v.y, v.z))
    } else if id == TypeId::of::<Vec3A>() {
        Vec3A::from_reflect(value).map(|v| vector(v.x, v.y, v.z))
    } else if id == TypeId::of::<Vec2>() {
        Vec2::from_reflect(value).map(|v| vector(v.x, v.y, 0.0))
    } else {
        None
    }
}

/// A Luau `vector`.
fn vector(x: f32, y: f32, z: f32) -> Value {
    Value::Vector(mlua::Vector::new(x, y, z))
}

// ---------------------------------------------------------------------------------------------
// Lua to Rust
// ---------------------------------------------------------------------------------------------

/// Builds reflected values from Lua values.
struct Reader<'r> {
    /// Where the `TypeInfo` of field types comes from.
    registry: &'r TypeRegistry,
    /// How many more values this conversion may produce.
    budget: usize,
}

/// Gives the [`TypeInfo`] of a field when the registry does not have it.
type InfoFallback<'a> = &'a dyn Fn() -> Option<&'static TypeInfo>;

/// What [`leaf`] made of a value.
enum Leaf {
    /// A type with a mapping of its own, converted.
    Done(Box<dyn PartialReflect>),
    /// Not such a type (or a vector type written as a table): convert by its `TypeInfo`.
    Composite(Value),
}

/// The fields of a struct or of a struct variant.
trait NamedFields {
    /// The fields, in declaration order.
    fn fields(&self) -> &[NamedField];
    /// The position of the field called `name` (a map lookup).
    fn index_of(&self, name: &str) -> Option<usize>;
    /// The field names, for error messages.
    fn names(&self) -> &[&'static str];
}

impl NamedFields for StructInfo {
    fn fields(&self) -> &[NamedField] {
        self.iter().as_slice()
    }
    fn index_of(&self, name: &str) -> Option<usize> {
        StructInfo::index_of(self, name)
    }
    fn names(&self) -> &[&'static str] {
        self.field_names()
    }
}

impl NamedFields for StructVariantInfo {
    fn fields(&self) -> &[NamedField] {
        self.iter().as_slice()
    }
    fn index_of(&self, name: &str) -> Option<usize> {
        StructVariantInfo::index_of(self, name)
    }
    fn names(&self) -> &[&'static str] {
        self.field_names()
    }
}

impl Reader<'_> {
    /// Converts `value` into the type `ty`, whose `TypeInfo` comes from the registry or else
    /// from `info`.
    fn value(
        &mut self,
        value: Value,
        ty: &Type,
        info: InfoFallback<'_>,
        depth: usize,
    ) -> Result<Box<dyn PartialReflect>, Failure> {
        self.budget = self.budget.checked_sub(1).ok_or_else(|| {
            Failure::mismatch(format!("value too large (more than {MAX_VALUES} values)"))
        })?;
        let value = match leaf(value, ty)? {
            Leaf::Done(value) => return Ok(value),
            Leaf::Composite(value) => value,
        };
        let info = self.info(ty, info)?;
        if depth >= MAX_DEPTH {
            return Err(Failure::mismatch(format!(
                "value nested more than {MAX_DEPTH} levels deep (does a table contain itself?)"
            )));
        }
        let depth = depth + 1;
        Ok(match info {
            TypeInfo::Struct(fields) => {
                let mut out = self.fields(value, fields, depth)?;
                out.set_represented_type(Some(info));
                Box::new(out)
            }
            TypeInfo::TupleStruct(tuple) => {
                let fields = tuple.iter().as_slice();
                let mut out = match fields {
                    [field] => {
                        let inner = self.value(value, field.ty(), &|| field.type_info(), depth)?;
                        let mut out = DynamicTupleStruct::default();
                        out.insert_boxed(inner);
                        out
                    }
                    _ => DynamicTupleStruct::from(self.tuple(value, fields, depth)?),
                };
                out.set_represented_type(Some(info));
                Box::new(out)
            }
            TypeInfo::Tuple(tuple) => {
                let mut out = self.tuple(value, tuple.iter().as_slice(), depth)?;
                out.set_represented_type(Some(info));
                Box::new(out)
            }
            TypeInfo::List(list) => {
                let item_ty = list.item_ty();
                let items = sequence(value, None, is_option_type(&item_ty))?;
                let mut out = DynamicList::default();
                for (index, item) in items.into_iter().enumerate() {
                    let fallback = || list.item_info();
                    let item = self.item(item, &item_ty, &fallback, depth);
                    out.push_box(item.map_err(|f| f.inside(index_segment(index)))?);
                }
                out.set_represented_type(Some(info));
                Box::new(out)
            }
            TypeInfo::Array(array) => {
                let item_ty = array.item_ty();
                let holes = is_option_type(&item_ty);
                let items = sequence(value, Some(array.capacity()), holes)?;
                let mut out = Vec::with_capacity(items.len());
                for (index, item) in items.into_iter().enumerate() {
                    let fallback = || array.item_info();
                    let item = self.item(item, &item_ty, &fallback, depth);
                    out.push(item.map_err(|f| f.inside(index_segment(index)))?);
                }
                let mut out = DynamicArray::new(out.into_boxed_slice());
                out.set_represented_type(Some(info));
                Box::new(out)
            }
            TypeInfo::Set(set) => {
                let value_ty = set.value_ty();
                let items = sequence(value, None, false)?;
                let mut out = DynamicSet::default();
                for (index, item) in items.into_iter().enumerate() {
                    let item = self
                        .item(item, &value_ty, &|| None, depth)
                        .and_then(|item| self.hashable(item, &value_ty))
                        .map_err(|f| f.inside(index_segment(index)))?;
                    out.insert_boxed(item);
                }
                out.set_represented_type(Some(info));
                Box::new(out)
            }
            TypeInfo::Map(map) => {
                let mut out = self.map(value, map, depth)?;
                out.set_represented_type(Some(info));
                Box::new(out)
            }
            TypeInfo::Enum(variants) => Box::new(self.variant(value, variants, info, depth)?),
            TypeInfo::Opaque(opaque) => {
                return Err(Failure::mismatch(format!(
                    "type `{}` cannot cross from Lua (it is opaque to reflection)",
                    opaque.ty().short_path()
                )));
            }
        })
    }

    /// Looks up the `TypeInfo` of `ty`: the registry first (a map lookup, no lock), then the
    /// field's own static info.
    fn info(&self, ty: &Type, fallback: InfoFallback<'_>) -> Result<&'static TypeInfo, Failure> {
        self.registry
            .get_type_info(ty.id())
            .or_else(fallback)
            .ok_or_else(|| {
                Failure::mismatch(format!(
                    "type `{}` is not registered for reflection",
                    ty.short_path()
                ))
            })
    }

    /// Converts a list item, where a hole (only allowed for `Option` items) is `None`.
    fn item(
        &mut self,
        item: Option<Value>,
        ty: &Type,
        info: InfoFallback<'_>,
        depth: usize,
    ) -> Result<Box<dyn PartialReflect>, Failure> {
        match item {
            Some(item) => self.value(item, ty, info, depth),
            None => Ok(self.none(ty, info)),
        }
    }

    /// `None` of the `Option` type `ty`.
    fn none(&self, ty: &Type, info: InfoFallback<'_>) -> Box<dyn PartialReflect> {
        let info = self.registry.get_type_info(ty.id()).or_else(info);
        let index = match info {
            Some(TypeInfo::Enum(variants)) => variants.index_of("None").unwrap_or_default(),
            _ => 0,
        };
        let mut none = DynamicEnum::new_with_index(index, "None", DynamicVariant::Unit);
        if let Some(info @ TypeInfo::Enum(_)) = info {
            none.set_represented_type(Some(info));
        }
        Box::new(none)
    }

    /// Reads a table of named fields: each one present (or an `Option` left out), no others.
    ///
    /// Each field is one raw lookup; stray keys are found by counting the table's entries,
    /// which needs no string comparisons, and only named when the count is off.
    fn fields(
        &mut self,
        value: Value,
        info: &impl NamedFields,
        depth: usize,
    ) -> Result<DynamicStruct, Failure> {
        let Value::Table(table) = value else {
            return Err(expected("a table", &value));
        };
        let mut out = DynamicStruct::default();
        let mut found = 0;
        for field in info.fields() {
            let fallback = || field.type_info();
            let item = match table.raw_get::<Value>(field.name())? {
                Value::Nil if is_option_type(field.ty()) => self.none(field.ty(), &fallback),
                Value::Nil => {
                    // A typo (`maxx`) explains a missing field (`max`) better than its absence.
                    stray_key(&table, info)?;
                    let message = format!("missing field `{}`", field.name());
                    return Err(Failure::mismatch(message));
                }
                item => {
                    found += 1;
                    self.value(item, field.ty(), &fallback, depth)
                        .map_err(|f| f.inside(Segment::Field(field.name().to_owned())))?
                }
            };
            out.insert_boxed(field.name(), item);
        }
        let mut entries = 0;
        table.for_each::<bool, bool>(|_, _| {
            entries += 1;
            Ok(())
        })?;
        if entries != found {
            stray_key(&table, info)?;
        }
        Ok(out)
    }

    /// Reads a list of exactly as many items as a tuple has fields.
    fn tuple(
        &mut self,
        value: Value,
        fields: &[UnnamedField],
        depth: usize,
    ) -> Result<DynamicTuple, Failure> {
        let items = sequence(value, Some(fields.len()), false)?;
        let mut out = DynamicTuple::default();
        for (index, (field, item)) in fields.iter().zip(items).enumerate() {
            let item = self
                .item(item, field.ty(), &|| field.type_info(), depth)
                .map_err(|f| f.inside(index_segment(index)))?;
            out.insert_boxed(item);
        }
        Ok(out)
    }

    /// Reads a table as a map: each key converts to the key type, each value to the value type.
    fn map(&mut self, value: Value, info: &MapInfo, depth: usize) -> Result<DynamicMap, Failure> {
        let Value::Table(table) = value else {
            return Err(expected("a table", &value));
        };
        let (key_ty, value_ty) = (info.key_ty(), info.value_ty());
        let mut out = DynamicMap::default();
        for pair in table.pairs::<Value, Value>() {
            let (key, item) = pair?;
            let item = self
                .value(item, &value_ty, &|| info.value_info(), depth)
                .map_err(|f| f.inside(key_segment(&key)))?;
            let key = self
                .value(key.clone(), &key_ty, &|| info.key_info(), depth)
                .and_then(|converted| self.hashable(converted, &key_ty))
                .map_err(|f| f.about(|| format!("key {}", key_text(&key))))?;
            out.insert_boxed(key, item);
        }
        Ok(out)
    }

    /// Makes sure a map key or set item can be hashed and compared, as `DynamicMap` and
    /// `DynamicSet` panic otherwise. Dynamic values (a struct key, say) become concrete through
    /// `FromReflect`, which works for types that reflect `Hash` and `PartialEq`.
    fn hashable(
        &self,
        value: Box<dyn PartialReflect>,
        ty: &Type,
    ) -> Result<Box<dyn PartialReflect>, Failure> {
        // `DynamicMap` and `DynamicSet` `expect` both, the second on hash collisions only.
        let usable = |v: &dyn PartialReflect| {
            v.reflect_hash().is_some() && v.reflect_partial_eq(v).is_some()
        };
        if usable(&*value) {
            return Ok(value);
        }
        let concrete = self
            .registry
            .get_type_data::<ReflectFromReflect>(ty.id())
            .and_then(|from| from.from_reflect(&*value))
            .filter(|concrete| usable(concrete.as_partial_reflect()));
        match concrete {
            Some(concrete) => Ok(concrete.into_partial_reflect()),
            None => Err(Failure::mismatch(format!(
                "type `{}` cannot be a map key or set item: it does not reflect `Hash` and `PartialEq`",
                ty.short_path()
            ))),
        }
    }

    /// Reads an enum: `nil` or a value for `Option`, otherwise `"Unit"`, `{Tuple = value}`,
    /// `{Tuple = {a, b}}` or `{Struct = {field = value}}`.
    fn variant(
        &mut self,
        value: Value,
        variants: &EnumInfo,
        info: &'static TypeInfo,
        depth: usize,
    ) -> Result<DynamicEnum, Failure> {
        if is_option(variants.type_path_table())
            && let Some(VariantInfo::Tuple(some)) = variants.variant("Some")
            && let Some(field) = some.field_at(0)
        {
            let mut out = if value.is_nil() {
                let index = variants.index_of("None").unwrap_or_default();
                DynamicEnum::new_with_index(index, "None", DynamicVariant::Unit)
            } else {
                let index = variants.index_of("Some").unwrap_or_default();
                let inner = self.value(value, field.ty(), &|| field.type_info(), depth)?;
                let mut tuple = DynamicTuple::default();
                tuple.insert_boxed(inner);
                DynamicEnum::new_with_index(index, "Some", tuple)
            };
            out.set_represented_type(Some(info));
            return Ok(out);
        }

        let (name, payload) = match value {
            Value::String(name) => (name, None),
            Value::Table(table) => one_entry(&table, variants)?,
            other => return Err(enum_shape(&other, variants)),
        };
        let name = name
            .to_str()
            .map_err(|_| unknown_variant("(not UTF-8)", variants))?;
        let Some((index, variant)) = variants
            .index_of(&name)
            .and_then(|index| Some((index, variants.variant_at(index)?)))
        else {
            return Err(unknown_variant(&name, variants));
        };
        let name = variant.name();
        let inside = |f: Failure| f.inside(Segment::Field(name.to_owned()));
        let data = match (variant, payload) {
            (VariantInfo::Unit(_), None) => DynamicVariant::Unit,
            (VariantInfo::Unit(_), Some(_)) => {
                return Err(Failure::mismatch(format!(
                    "variant `{name}` has no fields: write it as the string \"{name}\""
                )));
            }
            (_, None) => {
                return Err(Failure::mismatch(format!(
                    "variant `{name}` has fields: write it as {{{name} = ...}}"
                )));
            }
            (VariantInfo::Tuple(tuple), Some(payload)) => {
                let fields = tuple.iter().as_slice();
                let out = match fields {
                    [field] => {
                        let inner = self.value(payload, field.ty(), &|| field.type_info(), depth);
                        let mut out = DynamicTuple::default();
                        out.insert_boxed(inner.map_err(inside)?);
                        out
                    }
                    _ => self.tuple(payload, fields, depth).map_err(inside)?,
                };
                DynamicVariant::Tuple(out)
            }
            (VariantInfo::Struct(fields), Some(payload)) => {
                DynamicVariant::Struct(self.fields(payload, fields, depth).map_err(inside)?)
            }
        };
        let mut out = DynamicEnum::new_with_index(index, name, data);
        out.set_represented_type(Some(info));
        Ok(out)
    }
}

/// Converts the types with a mapping of their own (numbers, strings, entities, vectors, …).
fn leaf(value: Value, ty: &Type) -> Result<Leaf, Failure> {
    let id = ty.id();
    let done = |value: Box<dyn PartialReflect>| Ok(Leaf::Done(value));
    if id == TypeId::of::<f32>() {
        return done(Box::new(number(&value)? as f32));
    }
    if id == TypeId::of::<Entity>() {
        let entity = entity_from_lua(&value).ok_or_else(|| expected("an entity", &value))?;
        return done(Box::new(entity));
    }
    if id == TypeId::of::<Vec3>() || id == TypeId::of::<Vec3A>() || id == TypeId::of::<Vec2>() {
        let v = match value {
            Value::Vector(v) => v,
            // Vector types are reflected structs, so a table of their fields works too.
            Value::Table(_) => return Ok(Leaf::Composite(value)),
            other => return Err(expected("a vector", &other)),
        };
        return done(if id == TypeId::of::<Vec3>() {
            Box::new(Vec3::new(v.x(), v.y(), v.z()))
        } else if id == TypeId::of::<Vec3A>() {
            Box::new(Vec3A::new(v.x(), v.y(), v.z()))
        } else {
            Box::new(Vec2::new(v.x(), v.y()))
        });
    }
    macro_rules! integers {
        ($($ty:ty),*) => {$(
            if id == TypeId::of::<$ty>() {
                return done(Box::new(integer::<$ty>(&value)?));
            }
        )*};
    }
    integers!(
        i32, u32, i64, u64, u8, u16, i8, i16, usize, isize, i128, u128
    );
    if id == TypeId::of::<f64>() {
        return done(Box::new(number(&value)?));
    }
    if id == TypeId::of::<bool>() {
        return match value {
            Value::Boolean(value) => done(Box::new(value)),
            other => Err(expected("a boolean", &other)),
        };
    }
    if id == TypeId::of::<String>() {
        return done(Box::new(string(&value)?));
    }
    if id == TypeId::of::<Cow<'static, str>>() {
        return done(Box::new(Cow::<'static, str>::Owned(string(&value)?)));
    }
    if id == TypeId::of::<Name>() {
        return done(Box::new(Name::new(string(&value)?)));
    }
    if id == TypeId::of::<char>() {
        let one = match &value {
            Value::String(text) => text.to_str().ok().and_then(|text| {
                let mut chars = text.chars();
                chars.next().filter(|_| chars.next().is_none())
            }),
            _ => None,
        };
        return match one {
            Some(one) => done(Box::new(one)),
            None => Err(expected("a string of one character", &value)),
        };
    }
    if id == TypeId::of::<Duration>() {
        let seconds = number(&value)?;
        return match Duration::try_from_secs_f64(seconds) {
            Ok(duration) => done(Box::new(duration)),
            Err(_) => Err(Failure::mismatch(format!(
                "{} is not a duration (expected a number of seconds, not negative)",
                show_number(seconds)
            ))),
        };
    }
    Ok(Leaf::Composite(value))
}

/// Reads a number; floats take any, NaN included.
fn number(value: &Value) -> Result<f64, Failure> {
    match *value {
        Value::Number(value) => Ok(value),
        Value::Integer(value) => Ok(value as f64),
        _ => Err(expected("a number", value)),
    }
}

/// Reads a whole number in the range of `T`.
fn integer<T: TryFrom<i128> + TryFrom<u128>>(value: &Value) -> Result<T, Failure> {
    let out_of_range = |shown: String| format!("{shown} is out of range for {}", type_name::<T>());
    let number = match *value {
        Value::Integer(whole) => {
            return T::try_from(i128::from(whole))
                .map_err(|_| Failure::mismatch(out_of_range(whole.to_string())));
        }
        Value::Number(number) => number,
        _ => return Err(expected("a number", value)),
    };
    if !number.is_finite() || number.fract() != 0.0 {
        return Err(Failure::mismatch(format!(
            "{} is not a whole number",
            show_number(number)
        )));
    }
    // 2^128 and -2^127: the casts below saturate outside these bounds.
    const U128_END: f64 = 340_282_366_920_938_463_463_374_607_431_768_211_456.0;
    const I128_START: f64 = -170_141_183_460_469_231_731_687_303_715_884_105_728.0;
    let converted = if number >= 0.0 {
        (number < U128_END).then(|| T::try_from(number as u128).ok())
    } else {
        (number >= I128_START).then(|| T::try_from(number as i128).ok())
    };
    converted
        .flatten()
        .ok_or_else(|| Failure::mismatch(out_of_range(show_number(number))))
}

/// Reads a string, replacing bytes that are not UTF-8.
fn string(value: &Value) -> Result<String, Failure> {
    match value {
        Value::String(text) => Ok(text.to_string_lossy()),
        other => Err(expected("a string", other)),
    }
}

/// The 0-based `index` of a list item as a path segment, counted from 1 as Lua does.
fn index_segment(index: usize) -> Segment {
    Segment::Index((index + 1).to_string())
}

/// Reads the items `1..n` of a sequence table.
///
/// With `len`, the list must have exactly that many items. With `holes` (for lists of
/// `Option`s), missing items come back as `None`; the list then ends at its highest index, which
/// may be at most `#t` or twice the number of items, so a tiny sparse table cannot ask for a huge
/// list. Otherwise every item must be there.
fn sequence(value: Value, len: Option<usize>, holes: bool) -> Result<Vec<Option<Value>>, Failure> {
    let expected_list = || match len {
        Some(len) => format!("a list of {len} items"),
        None => "a list".to_owned(),
    };
    let Value::Table(table) = value else {
        return Err(expected(&expected_list(), &value));
    };
    let mut entries = Vec::with_capacity(len.unwrap_or_else(|| table.raw_len()));
    let mut highest = 0;
    for pair in table.pairs::<Value, Value>() {
        let (key, item) = pair?;
        let index = match key {
            Value::Integer(index) => usize::try_from(index).ok().filter(|&i| i >= 1),
            _ => None,
        };
        let Some(index) = index else {
            let (list, key) = (expected_list(), key_text(&key));
            let message = format!("expected {list}, got a table with key {key}");
            return Err(Failure::mismatch(message));
        };
        highest = highest.max(index);
        entries.push((index, item));
    }
    // Keys are unique, so without holes the indices are exactly 1..count.
    let count = entries.len();
    let size = match len {
        Some(len) if highest > len => {
            let message = format!("expected a list of {len} items, got an item at index {highest}");
            return Err(Failure::mismatch(message));
        }
        Some(len) if !holes && count != len => {
            let message = format!("expected a list of {len} items, got {count}");
            return Err(Failure::mismatch(message));
        }
        Some(len) => len,
        None if !holes && highest != count => {
            let message = format!("the list has a hole ({count} items up to index {highest})");
            return Err(Failure::mismatch(message));
        }
        None if highest > table.raw_len().max(2 * count) => {
            let message =
                format!("the list has too many holes ({count} items up to index {highest})");
            return Err(Failure::mismatch(message));
        }
        None => highest,
    };
    let mut items = vec![None; size];
    for (index, item) in entries {
        items[index - 1] = Some(item);
    }
    Ok(items)
}

/// The variant name and value of a `{Variant = value}` table.
fn one_entry(table: &Table, variants: &EnumInfo) -> Result<(LuaString, Option<Value>), Failure> {
    let mut entry = None;
    let mut count = 0;
    for pair in table.pairs::<Value, Value>() {
        let (key, item) = pair?;
        count += 1;
        entry = Some((key, item));
    }
    match entry {
        Some((Value::String(name), item)) if count == 1 => Ok((name, Some(item))),
        _ => Err(Failure::mismatch(format!(
            "expected a variant name or a table with one variant as its key ({{Variant = value}}), \
             got a table with {count} keys; variants are {}",
            list_names(variants.variant_names())
        ))),
    }
}

/// The error for an enum written as neither a name nor a `{Variant = value}` table.
fn enum_shape(value: &Value, variants: &EnumInfo) -> Failure {
    Failure::mismatch(format!(
        "expected a variant name or a {{Variant = value}} table, got {}; variants are {}",
        describe(value),
        list_names(variants.variant_names())
    ))
}

/// The error for a variant name the enum does not have, listing those it has.
fn unknown_variant(name: &str, variants: &EnumInfo) -> Failure {
    Failure::mismatch(format!(
        "unknown variant `{name}`; variants are {}",
        list_names(variants.variant_names())
    ))
}

/// Fails with [`unknown_field`] for the first key of `table` that is not one of its fields.
fn stray_key(table: &Table, info: &impl NamedFields) -> Result<(), Failure> {
    for pair in table.pairs::<Value, Value>() {
        let (key, _) = pair?;
        let known = match &key {
            Value::String(name) => name
                .to_str()
                .is_ok_and(|name| info.index_of(&name).is_some()),
            _ => false,
        };
        if !known {
            return Err(unknown_field(&key, info.names()));
        }
    }
    Ok(())
}

/// The error for a table key that is not a field, listing the fields.
fn unknown_field(key: &Value, names: &[&'static str]) -> Failure {
    let fields = if names.is_empty() {
        "there are no fields".to_owned()
    } else {
        format!("fields are {}", list_names(names))
    };
    Failure::mismatch(match key {
        Value::String(name) => format!("unknown field `{}`; {fields}", name.to_string_lossy()),
        other => format!("unexpected key {}; {fields}", key_text(other)),
    })
}

#[cfg(test)]
mod tests {
    use std::collections::{HashMap, HashSet};

    use bevy_ecs::component::Component;
    use bevy_ecs::entity::{EntityGeneration, EntityIndex};
    use bevy_ecs::reflect::ReflectComponent;
    use bevy_ecs::world::World;
    use bevy_math::Quat;
    use bevy_reflect::{GetTypeRegistration, Reflect, Typed};

    use super::*;
    use crate::error::ScriptError;

    /// A two-field component.
    #[derive(Component, Reflect, Default, Debug, PartialEq, Clone)]
    #[reflect(Component)]
    struct Health {
        current: f32,
        max: f32,
    }

    /// Entities, alone and in a list.
    #[derive(Component, Reflect, Debug, PartialEq)]
    #[reflect(Component)]
    struct Target {
        entity: Entity,
        others: Vec<Entity>,
    }

    /// The vector types, a quaternion and a duration.
    #[derive(Reflect, Default, Debug, PartialEq)]
    struct Motion {
        velocity: Vec3,
        offset: Vec3A,
        facing: Vec2,
        rotation: Quat,
        cooldown: Duration,
    }

    /// Optional fields.
    #[derive(Reflect, Default, Debug, PartialEq)]
    struct Loot {
        owner: Option<Entity>,
        bonus: Option<u32>,
        label: Option<String>,
    }

    /// Every kind of collection, a tuple and a `char`.
    #[derive(Reflect, Default, Debug, PartialEq)]
    struct Inventory {
        items: Vec<String>,
        counts: HashMap<String, i32>,
        slots: [u8; 3],
        tags: HashSet<String>,
        owners: HashMap<Entity, u32>,
        names: HashMap<u32, String>,
        pair: (i32, String),
        letter: char,
        gaps: Vec<Option<u8>>,
    }

    /// Unit, tuple and struct variants.
    #[derive(Reflect, Default, Debug, PartialEq)]
    enum State {
        #[default]
        Idle,
        Walk(f32),
        Patrol(Vec3, Vec3),
        Attack {
            target: u32,
            damage: u32,
        },
    }

    /// A newtype.
    #[derive(Reflect, Default, Debug, PartialEq)]
    struct Speed(f32);

    /// A tuple struct with two fields.
    #[derive(Reflect, Default, Debug, PartialEq)]
    struct Cell(i32, i32);

    /// Structs, a newtype, an enum and a `Name` nested in a struct.
    #[derive(Component, Reflect, Default, Debug, PartialEq)]
    #[reflect(Component)]
    struct Stats {
        health: Health,
        speed: Speed,
        state: State,
        cell: Cell,
        label: Name,
    }

    /// Integers of several widths and a float.
    #[derive(Reflect, Default, Debug, PartialEq)]
    struct Numbers {
        small: u8,
        count: i32,
        big: u64,
        wide: i128,
        ratio: f64,
    }

    /// A recursive type, so that a table containing itself has somewhere to go.
    #[derive(Reflect, Default, Debug, PartialEq)]
    struct Tree {
        children: Vec<Tree>,
    }

    /// A plain list.
    #[derive(Reflect, Default, Debug, PartialEq)]
    struct Bag {
        items: Vec<u8>,
    }

    /// A map key that reflects neither `Hash` nor `PartialEq`.
    #[derive(Reflect, Debug, PartialEq, Eq, Hash)]
    struct Coord {
        x: i32,
        y: i32,
    }

    /// The same, reflecting both.
    #[derive(Reflect, Debug, PartialEq, Eq, Hash)]
    #[reflect(Hash, PartialEq)]
    struct HashedCoord {
        x: i32,
        y: i32,
    }

    /// Maps keyed by structs.
    #[derive(Reflect, Default, Debug, PartialEq)]
    struct Grid {
        plain: HashMap<Coord, u32>,
        hashed: HashMap<HashedCoord, u32>,
    }

    /// A field of an opaque type.
    #[derive(Reflect, Default, Debug)]
    struct WithPath {
        path: std::path::PathBuf,
    }

    fn registry_of<T: GetTypeRegistration>() -> TypeRegistry {
        let mut registry = TypeRegistry::default();
        registry.register::<T>();
        registry
    }

    /// `to_lua`, then `from_lua`, then `FromReflect`.
    fn round_trip<T: FromReflect + Typed + GetTypeRegistration>(value: &T) -> mlua::Result<T> {
        let lua = Lua::new();
        let registry = registry_of::<T>();
        let converted = to_lua(&lua, value)?;
        let back = from_lua(&lua, converted, T::type_info(), &registry, "test")?;
        T::from_reflect(&*back).ok_or_else(|| mlua::Error::runtime("FromReflect refused"))
    }

    /// Runs `check` in Lua with `v` set to the converted value; it must not raise.
    fn check_in_lua(value: &dyn PartialReflect, check: &str) -> mlua::Result<()> {
        let lua = Lua::new();
        lua.globals().set("v", to_lua(&lua, value)?)?;
        lua.load(check).exec()
    }

    /// Evaluates `source` in Lua and reads the result as a `T`.
    fn read<T: FromReflect + Typed + GetTypeRegistration>(source: &str) -> mlua::Result<T> {
        let lua = Lua::new();
        let registry = registry_of::<T>();
        let value: Value = lua.load(source).eval()?;
        let what = "ecs.set: component `T`";
        let back = from_lua(&lua, value, T::type_info(), &registry, what)?;
        Ok(T::from_reflect(&*back).expect("a value from_lua accepted makes a T"))
    }

    /// Reads `source` as a `T`, expecting a type mismatch; returns its message.
    fn read_error<T: FromReflect + Typed + GetTypeRegistration + std::fmt::Debug>(
        source: &str,
    ) -> String {
        let error = read::<T>(source).expect_err("the value should be refused");
        let error = ScriptError::from_lua("test", &error, false);
        assert_eq!(
            error.kind,
            ScriptErrorKind::TypeMismatch,
            "{}",
            error.message
        );
        assert!(
            error.message.starts_with("ecs.set: component `T`: "),
            "{}",
            error.message
        );
        error.message
    }

    fn high_entity() -> Entity {
        let index = EntityIndex::from_raw_u32(u32::MAX - 2).expect("index below u32::MAX");
        let generation = EntityGeneration::from_bits((1 << 21) + 12_345);
        Entity::from_index_and_generation(index, generation)
    }

    #[test]
    fn struct_round_trips_as_a_table_of_fields() -> mlua::Result<()> {
        let health = Health {
            current: 70.0,
            max: 100.5,
        };
        assert_eq!(round_trip(&health)?, health);
        check_in_lua(&health, "assert(v.current == 70 and v.max == 100.5)")
    }

    #[test]
    fn entity_fields_keep_their_exact_bits() -> mlua::Result<()> {
        let target = Target {
            entity: high_entity(),
            others: vec![Entity::from_raw_u32(3).expect("valid index"), high_entity()],
        };
        let back = round_trip(&target)?;
        assert_eq!(back.entity.to_bits(), high_entity().to_bits());
        assert_eq!(back, target);
        check_in_lua(
            &target,
            "assert(v.entity == v.others[2] and type(v.entity) == 'userdata')",
        )
    }

    #[test]
    fn vec3_is_a_luau_vector_and_quat_a_table() -> mlua::Result<()> {
        let motion = Motion {
            velocity: Vec3::new(1.0, -2.5, 3.25),
            offset: Vec3A::new(0.5, 0.0, -1.0),
            facing: Vec2::new(0.25, 4.0),
            rotation: Quat::from_xyzw(0.0, 0.6, 0.0, 0.8),
            cooldown: Duration::from_millis(1500),
        };
        assert_eq!(round_trip(&motion)?, motion);
        check_in_lua(
            &motion,
            r#"
            assert(typeof(v.velocity) == "vector" and v.velocity.y == -2.5)
            assert(typeof(v.offset) == "vector")
            assert(v.facing == vector.create(0.25, 4, 0))
            assert(type(v.rotation) == "table" and math.abs(v.rotation.w - 0.8) < 1e-6)
            assert(v.cooldown == 1.5)
            "#,
        )
    }

    #[test]
    fn vectors_also_read_from_tables_of_fields() -> mlua::Result<()> {
        let motion: Motion = read(
            "{velocity = {x = 1, y = 2, z = 3}, offset = vector.create(1, 1, 1), \
              facing = {x = 5, y = 6}, rotation = {x = 0, y = 0, z = 0, w = 1}, cooldown = 0.25}",
        )?;
        assert_eq!(motion.velocity, Vec3::new(1.0, 2.0, 3.0));
        assert_eq!(motion.facing, Vec2::new(5.0, 6.0));
        assert_eq!(motion.rotation, Quat::IDENTITY);
        assert_eq!(motion.cooldown, Duration::from_millis(250));
        Ok(())
    }

    #[test]
    fn options_are_nil_or_their_value_and_may_be_left_out() -> mlua::Result<()> {
        let full = Loot {
            owner: Some(high_entity()),
            bonus: Some(7),
            label: Some("gold".to_owned()),
        };
        assert_eq!(round_trip(&full)?, full);
        assert_eq!(round_trip(&Loot::default())?, Loot::default());
        check_in_lua(&Loot::default(), "assert(next(v) == nil)")?;
        assert_eq!(read::<Loot>("{bonus = 3}")?.bonus, Some(3));
        Ok(())
    }

    #[test]
    fn collections_round_trip() -> mlua::Result<()> {
        let inventory = Inventory {
            items: vec!["sword".to_owned(), "shield".to_owned()],
            counts: HashMap::from([("arrows".to_owned(), 20), ("two words".to_owned(), -1)]),
            slots: [1, 2, 255],
            tags: HashSet::from(["rare".to_owned()]),
            owners: HashMap::from([(high_entity(), 5)]),
            names: HashMap::from([(1, "one".to_owned()), (40, "forty".to_owned())]),
            pair: (-3, "x".to_owned()),
            letter: 'é',
            gaps: vec![Some(1), None, Some(3)],
        };
        assert_eq!(round_trip(&inventory)?, inventory);
        check_in_lua(
            &inventory,
            r#"
            assert(#v.items == 2 and v.items[1] == "sword")
            assert(v.counts.arrows == 20 and v.counts["two words"] == -1)
            assert(v.names[40] == "forty" and v.pair[2] == "x" and v.letter == "é")
            for owner, count in v.owners do assert(type(owner) == "userdata" and count == 5) end
            "#,
        )
    }

    #[test]
    fn enums_use_the_externally_tagged_form() -> mlua::Result<()> {
        let states = [
            (State::Idle, r#"assert(v == "Idle")"#),
            (State::Walk(2.5), "assert(v.Walk == 2.5)"),
            (
                State::Patrol(Vec3::X, Vec3::NEG_Z),
                "assert(v.Patrol[1] == vector.create(1, 0, 0) and #v.Patrol == 2)",
            ),
            (
                State::Attack {
                    target: 4,
                    damage: 12,
                },
                "assert(v.Attack.target == 4 and v.Attack.damage == 12)",
            ),
        ];
        for (state, check) in states {
            assert_eq!(round_trip(&state)?, state);
            check_in_lua(&state, check)?;
        }
        assert_eq!(read::<State>(r#""Idle""#)?, State::Idle);
        assert_eq!(read::<State>("{Walk = 1}")?, State::Walk(1.0));
        Ok(())
    }

    #[test]
    fn newtypes_are_their_inner_value_and_tuple_structs_lists() -> mlua::Result<()> {
        assert_eq!(round_trip(&Speed(4.5))?, Speed(4.5));
        assert_eq!(round_trip(&Cell(-1, 9))?, Cell(-1, 9));
        check_in_lua(&Speed(4.5), "assert(v == 4.5)")?;
        check_in_lua(&Cell(-1, 9), "assert(v[1] == -1 and v[2] == 9)")
    }

    #[test]
    fn nested_structs_round_trip() -> mlua::Result<()> {
        let stats = Stats {
            health: Health {
                current: 1.0,
                max: 2.0,
            },
            speed: Speed(3.0),
            state: State::Attack {
                target: 1,
                damage: 2,
            },
            cell: Cell(4, 5),
            label: Name::new("orc"),
        };
        assert_eq!(round_trip(&stats)?, stats);
        check_in_lua(
            &stats,
            r#"assert(v.health.max == 2 and v.speed == 3 and v.label == "orc")"#,
        )
    }

    #[test]
    fn numbers_keep_their_values() -> mlua::Result<()> {
        let numbers = Numbers {
            small: 255,
            count: -2_000_000_000,
            big: (1 << 53) - 1,
            wide: -(1 << 60),
            ratio: f64::NAN,
        };
        let back = round_trip(&numbers)?;
        assert!(back.ratio.is_nan(), "NaN crosses unchanged");
        assert_eq!(
            Numbers { ratio: 0.0, ..back },
            Numbers {
                ratio: 0.0,
                ..numbers
            }
        );
        Ok(())
    }

    #[test]
    fn dynamic_results_insert_as_components_directly() -> mlua::Result<()> {
        let lua = Lua::new();
        let registry = registry_of::<Stats>();
        let source = r#"{health = {current = 5, max = 9}, speed = 2, state = {Walk = 1.5},
                         cell = {1, 2}, label = "goblin"}"#;
        let value: Value = lua.load(source).eval()?;
        let dynamic = from_lua(&lua, value, Stats::type_info(), &registry, "test")?;
        let mut world = World::new();
        let entity = world.spawn_empty().id();
        let component = registry
            .get_type_data::<ReflectComponent>(TypeId::of::<Stats>())
            .expect("Stats reflects Component");
        component.insert(&mut world.entity_mut(entity), &*dynamic, &registry);
        let stats = world.get::<Stats>(entity).expect("inserted");
        assert_eq!(
            stats.health,
            Health {
                current: 5.0,
                max: 9.0
            }
        );
        assert_eq!(stats.state, State::Walk(1.5));
        assert_eq!(stats.label.as_str(), "goblin");
        Ok(())
    }

    #[test]
    fn missing_field_is_an_error_naming_it() {
        let message = read_error::<Health>("{current = 70}");
        assert!(message.ends_with("missing field `max`"), "{message}");
    }

    #[test]
    fn unknown_field_is_an_error_listing_the_fields() {
        let message = read_error::<Health>("{current = 70, max = 100, maxx = 1}");
        assert!(
            message.contains("unknown field `maxx`; fields are `current`, `max`"),
            "{message}"
        );
        let message = read_error::<Health>("{current = 70, maxx = 100}");
        assert!(
            message.contains("unknown field `maxx`"),
            "a typo explains: {message}"
        );
        let message = read_error::<Health>("{current = 70, max = 100, [1] = 5}");
        assert!(
            message.contains("unexpected key 1; fields are"),
            "{message}"
        );
    }

    #[test]
    fn wrong_lua_type_names_field_and_value() {
        let message = read_error::<Health>(r#"{current = "x", max = 1}"#);
        assert!(
            message.contains(r#"field `current`: expected a number, got string "x""#),
            "{message}"
        );
        let message = read_error::<Health>("5");
        assert!(
            message.ends_with("expected a table, got number 5"),
            "{message}"
        );
    }

    #[test]
    fn nested_errors_give_the_full_path() {
        let message = read_error::<Stats>(
            r#"{health = {current = 1, max = true}, speed = 1, state = "Idle", cell = {1, 2},
                label = "a"}"#,
        );
        assert!(
            message.contains("field `health.max`: expected a number, got boolean true"),
            "{message}"
        );
        let message = read_error::<Inventory>(
            r#"{items = {"a", 2}, counts = {}, slots = {1, 2, 3}, tags = {}, owners = {},
                names = {}, pair = {1, "x"}, letter = "a", gaps = {}}"#,
        );
        assert!(
            message.contains("field `items[2]`: expected a string"),
            "{message}"
        );
    }

    #[test]
    fn fractional_number_into_an_integer_is_an_error() {
        let message =
            read_error::<Numbers>("{small = 1, count = 2.5, big = 1, wide = 1, ratio = 1}");
        assert!(
            message.contains("field `count`: 2.5 is not a whole number"),
            "{message}"
        );
    }

    #[test]
    fn number_out_of_range_is_an_error() {
        let message =
            read_error::<Numbers>("{small = 300, count = 1, big = 1, wide = 1, ratio = 1}");
        assert!(
            message.contains("field `small`: 300 is out of range for u8"),
            "{message}"
        );
        let message =
            read_error::<Numbers>("{small = 1, count = 1, big = -1, wide = 1, ratio = 1}");
        assert!(message.contains("-1 is out of range for u64"), "{message}");
    }

    #[test]
    fn unknown_variant_is_an_error_listing_the_variants() {
        let message = read_error::<State>(r#""Runn""#);
        assert!(
            message.contains(
                "unknown variant `Runn`; variants are `Idle`, `Walk`, `Patrol`, `Attack`"
            ),
            "{message}"
        );
        let message = read_error::<State>(r#""Walk""#);
        assert!(message.contains("variant `Walk` has fields"), "{message}");
        let message = read_error::<State>("{Walk = 1, Idle = 2}");
        assert!(message.contains("got a table with 2 keys"), "{message}");
    }

    #[test]
    fn array_of_the_wrong_length_is_an_error() {
        let inventory = |slots: &str| {
            format!(
                r#"{{items = {{}}, counts = {{}}, slots = {slots}, tags = {{}}, owners = {{}},
                    names = {{}}, pair = {{1, "x"}}, letter = "a", gaps = {{}}}}"#
            )
        };
        let message = read_error::<Inventory>(&inventory("{1, 2}"));
        assert!(
            message.contains("field `slots`: expected a list of 3 items, got 2"),
            "{message}"
        );
        let message = read_error::<Inventory>(&inventory("{1, 2, 3, 4}"));
        assert!(message.contains("expected a list of 3 items"), "{message}");
    }

    #[test]
    fn list_with_a_hole_is_an_error() {
        let message = read_error::<Bag>("{items = {[1] = 1, [3] = 2}}");
        assert!(
            message.contains("field `items`: the list has a hole"),
            "{message}"
        );
        let message = read_error::<Bag>("{items = {1, 2, x = 3}}");
        assert!(
            message.contains("expected a list, got a table with key \"x\""),
            "{message}"
        );
    }

    #[test]
    fn list_of_options_may_have_holes_but_not_a_huge_gap() -> mlua::Result<()> {
        let inventory = |gaps: &str| {
            format!(
                r#"{{items = {{}}, counts = {{}}, slots = {{1, 2, 3}}, tags = {{}}, owners = {{}},
                    names = {{}}, pair = {{1, "x"}}, letter = "a", gaps = {gaps}}}"#
            )
        };
        let read_back = read::<Inventory>(&inventory("{[1] = 1, [3] = 3}"))?;
        assert_eq!(read_back.gaps, vec![Some(1), None, Some(3)]);
        let message = read_error::<Inventory>(&inventory("{[1000000] = 1}"));
        assert!(
            message.contains("field `gaps`: the list has too many holes"),
            "{message}"
        );
        Ok(())
    }

    #[test]
    fn struct_map_keys_need_reflected_hash_and_never_panic() -> mlua::Result<()> {
        let grid = Grid {
            plain: HashMap::new(),
            hashed: HashMap::from([(HashedCoord { x: 1, y: -2 }, 7)]),
        };
        assert_eq!(round_trip(&grid)?, grid);
        let message = read_error::<Grid>("{plain = {[{x = 1, y = 2}] = 5}, hashed = {}}");
        assert!(
            message.contains("field `plain`: key table: type `Coord` cannot be a map key"),
            "{message}"
        );
        Ok(())
    }

    #[test]
    fn table_that_contains_itself_stops_at_the_depth_limit() {
        let message = read_error::<Tree>(
            "(function() local t = {children = {}}; t.children[1] = t; return t end)()",
        );
        assert!(
            message.contains("nested more than 64 levels deep"),
            "{message}"
        );
    }

    #[test]
    fn shared_tables_cannot_multiply_into_a_huge_value() {
        // 2^30 nodes if every reference were copied.
        let message = read_error::<Tree>(
            "(function() local t = {children = {}}
              for _ = 1, 30 do t = {children = {t, t}} end
              return t end)()",
        );
        assert!(message.contains("value too large"), "{message}");
    }

    #[test]
    fn deeply_nested_rust_value_stops_at_the_depth_limit() {
        let mut tree = Tree::default();
        for _ in 0..100 {
            tree = Tree {
                children: vec![tree],
            };
        }
        let error = to_lua(&Lua::new(), &tree).expect_err("too deep");
        assert!(
            error
                .to_string()
                .contains("nested more than 64 levels deep"),
            "{error}"
        );
    }

    #[test]
    fn opaque_types_cannot_cross() {
        let lua = Lua::new();
        let value = WithPath { path: "a/b".into() };
        let error = to_lua(&lua, &value).expect_err("PathBuf is opaque");
        let message = error.to_string();
        assert!(
            message.contains(
                "field `path`: type `PathBuf` cannot cross to Lua (it is opaque to reflection)"
            ),
            "{message}"
        );
        let message = read_error::<WithPath>(r#"{path = "a/b"}"#);
        assert!(
            message.contains("type `PathBuf` cannot cross from Lua"),
            "{message}"
        );
    }
}
