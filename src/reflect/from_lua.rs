//! Lua values to reflected values.

use crate::value::size::SizeLimit;
use bevy_reflect::array::DynamicArray;
use bevy_reflect::enums::VariantInfo;
use bevy_reflect::enums::{DynamicEnum, DynamicVariant, EnumInfo, StructVariantInfo};
use bevy_reflect::list::DynamicList;
use bevy_reflect::map::{DynamicMap, Map, MapInfo};
use bevy_reflect::set::{DynamicSet, Set};
use bevy_reflect::structs::{DynamicStruct, StructInfo};
use bevy_reflect::tuple::DynamicTuple;
use bevy_reflect::tuple_struct::DynamicTupleStruct;
use bevy_reflect::{
    NamedField, PartialReflect, ReflectFromReflect, Type, TypeInfo, TypeRegistry, UnnamedField,
};
use mlua::{Lua, LuaString, Table, Value};

use super::failure::*;
use super::leaf::{Leaf, leaf};

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
        budget: SizeLimit::default(),
    };
    reader
        .value(value, info.ty(), &|| Some(info), 0)
        .map_err(|failure| failure.into_error(Some(what)))
}

// ---------------------------------------------------------------------------------------------
// Lua to Rust
// ---------------------------------------------------------------------------------------------

/// Builds reflected values from Lua values.
struct Reader<'r> {
    /// Where the `TypeInfo` of field types comes from.
    registry: &'r TypeRegistry,
    /// How many more bytes this conversion may make.
    budget: SizeLimit,
}

/// Gives the [`TypeInfo`] of a field when the registry does not have it.
type InfoFallback<'a> = &'a dyn Fn() -> Option<&'static TypeInfo>;

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
        self.budget
            .charge_value(&value)
            .map_err(Failure::mismatch)?;
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
