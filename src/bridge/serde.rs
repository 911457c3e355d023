//! Serde components on the Lua stack: [`push`] writes a value as mlua's serializer would (with
//! the crate's options), [`read`] reads one as `crate::serde_lua::FieldDeserializer` would.
//!
//! Both cover the shapes components usually have: structs (nested ones too), numbers, booleans,
//! strings, options, newtypes, unit enum variants, sequences and maps on the way out. For
//! anything else they give up ([`GiveUp`]) and the caller hands the call to the safe
//! implementation, so a value is converted either exactly as the safe path converts it or by
//! the safe path itself. `tests` compare the two.

use crate::bridge::keys::push_key;
use crate::ffi::Stack;
use crate::ffi::stack::Type;
use serde::de::{self, DeserializeSeed, IntoDeserializer, MapAccess, Visitor};
use serde::ser::{self, Serialize};
use std::ffi::c_int;

/// Containers nested deeper than this are left to the safe path.
const MAX_DEPTH: usize = 32;

/// The fast path does not handle this value; the safe path will.
#[derive(Debug)]
pub(crate) struct GiveUp;

impl std::fmt::Display for GiveUp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("left to the safe path")
    }
}

impl std::error::Error for GiveUp {}

impl ser::Error for GiveUp {
    fn custom<T: std::fmt::Display>(_: T) -> Self {
        GiveUp
    }
}

impl de::Error for GiveUp {
    fn custom<T: std::fmt::Display>(_: T) -> Self {
        GiveUp
    }
}

/// Pushes `value` as one Lua value; a value that serializes to `nil` (a unit struct, a tag
/// component) becomes an empty table, as in the safe path. On `Err` nothing is left pushed.
pub(crate) fn push<T: Serialize + ?Sized>(stack: Stack<'_>, value: &T) -> Result<(), GiveUp> {
    let top = stack.top();
    match value.serialize(Serializer { stack, depth: 0 }) {
        Ok(()) => {
            if stack.kind(-1) == Type::Nil {
                stack.truncate(top);
                stack.push_table(0, 0);
            }
            Ok(())
        }
        Err(give_up) => {
            stack.truncate(top);
            Err(give_up)
        }
    }
}

/// Reads a `T` from the value at `index`.
pub(crate) fn read<T: de::DeserializeOwned>(stack: Stack<'_>, index: c_int) -> Result<T, GiveUp> {
    let top = stack.top();
    let index = stack.absolute(index);
    let read = T::deserialize(Deserializer {
        stack,
        index,
        kind: stack.kind(index),
        depth: 0,
    });
    stack.truncate(top);
    read
}

// ---------------------------------------------------------------------------------------------
// Rust to the stack
// ---------------------------------------------------------------------------------------------

/// Pushes one value.
struct Serializer<'s> {
    stack: Stack<'s>,
    depth: usize,
}

impl<'s> Serializer<'s> {
    fn descend(&self) -> Result<Self, GiveUp> {
        if self.depth >= MAX_DEPTH {
            return Err(GiveUp);
        }
        Ok(Self {
            stack: self.stack,
            depth: self.depth + 1,
        })
    }

    fn table(self, array: usize, fields: usize) -> Result<Table<'s>, GiveUp> {
        let inner = self.descend()?;
        self.stack.push_table(array, fields);
        Ok(Table {
            index: self.stack.top(),
            next: 0,
            inner,
        })
    }
}

macro_rules! numbers {
    ($($method:ident($ty:ty)),*) => {$(
        fn $method(self, value: $ty) -> Result<(), GiveUp> {
            self.stack.push_number(value as f64);
            Ok(())
        }
    )*};
}

impl<'s> ser::Serializer for Serializer<'s> {
    type Ok = ();
    type Error = GiveUp;
    type SerializeSeq = Table<'s>;
    type SerializeTuple = Table<'s>;
    type SerializeTupleStruct = Table<'s>;
    type SerializeTupleVariant = ser::Impossible<(), GiveUp>;
    type SerializeMap = Table<'s>;
    type SerializeStruct = Table<'s>;
    type SerializeStructVariant = ser::Impossible<(), GiveUp>;

    fn serialize_bool(self, value: bool) -> Result<(), GiveUp> {
        self.stack.push_bool(value);
        Ok(())
    }

    numbers!(
        serialize_i8(i8),
        serialize_i16(i16),
        serialize_i32(i32),
        serialize_i64(i64),
        serialize_u8(u8),
        serialize_u16(u16),
        serialize_u32(u32),
        serialize_u64(u64),
        serialize_f32(f32),
        serialize_f64(f64)
    );

    fn serialize_char(self, value: char) -> Result<(), GiveUp> {
        self.serialize_str(value.encode_utf8(&mut [0; 4]))
    }

    fn serialize_str(self, value: &str) -> Result<(), GiveUp> {
        self.stack.push_str(value.as_bytes());
        Ok(())
    }

    fn serialize_bytes(self, value: &[u8]) -> Result<(), GiveUp> {
        self.stack.push_str(value);
        Ok(())
    }

    fn serialize_none(self) -> Result<(), GiveUp> {
        self.stack.push_nil();
        Ok(())
    }

    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<(), GiveUp> {
        value.serialize(self.descend()?)
    }

    fn serialize_unit(self) -> Result<(), GiveUp> {
        self.stack.push_nil();
        Ok(())
    }

    fn serialize_unit_struct(self, _name: &'static str) -> Result<(), GiveUp> {
        self.stack.push_nil();
        Ok(())
    }

    fn serialize_unit_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
    ) -> Result<(), GiveUp> {
        self.serialize_str(variant)
    }

    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        value: &T,
    ) -> Result<(), GiveUp> {
        value.serialize(self.descend()?)
    }

    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        value: &T,
    ) -> Result<(), GiveUp> {
        let stack = self.stack;
        let table = self.table(0, 1)?;
        push_key(stack, variant);
        value.serialize(table.inner)?;
        stack.raw_set(table.index).ok_or(GiveUp)
    }

    fn serialize_seq(self, len: Option<usize>) -> Result<Table<'s>, GiveUp> {
        self.table(len.unwrap_or(0), 0)
    }

    fn serialize_tuple(self, len: usize) -> Result<Table<'s>, GiveUp> {
        self.table(len, 0)
    }

    fn serialize_tuple_struct(self, name: &'static str, len: usize) -> Result<Table<'s>, GiveUp> {
        // mlua makes a `vector` of this one; rare enough to leave to it.
        if name == "Vector" && len == 3 {
            return Err(GiveUp);
        }
        self.table(len, 0)
    }

    fn serialize_tuple_variant(
        self,
        _name: &'static str,
        _index: u32,
        _variant: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeTupleVariant, GiveUp> {
        Err(GiveUp)
    }

    fn serialize_map(self, len: Option<usize>) -> Result<Table<'s>, GiveUp> {
        self.table(0, len.unwrap_or(0))
    }

    fn serialize_struct(self, _name: &'static str, len: usize) -> Result<Table<'s>, GiveUp> {
        self.table(0, len)
    }

    fn serialize_struct_variant(
        self,
        _name: &'static str,
        _index: u32,
        _variant: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeStructVariant, GiveUp> {
        Err(GiveUp)
    }
}

/// A table being filled; it sits at `index`.
struct Table<'s> {
    index: c_int,
    /// Items written so far, for sequences.
    next: usize,
    /// Serializes the items, one level deeper.
    inner: Serializer<'s>,
}

impl Table<'_> {
    fn item<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), GiveUp> {
        let inner = Serializer { ..self.inner };
        value.serialize(inner)?;
        self.next += 1;
        self.inner
            .stack
            .raw_set_index(self.index, self.next)
            .ok_or(GiveUp)
    }
}

/// The sequence-like serializers: each element is the next item.
macro_rules! items {
    ($($serializer:ident :: $method:ident),*) => {$(
        impl ser::$serializer for Table<'_> {
            type Ok = ();
            type Error = GiveUp;
            fn $method<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), GiveUp> {
                self.item(value)
            }
            fn end(self) -> Result<(), GiveUp> {
                Ok(())
            }
        }
    )*};
}

items!(
    SerializeSeq::serialize_element,
    SerializeTuple::serialize_element,
    SerializeTupleStruct::serialize_field
);

impl ser::SerializeMap for Table<'_> {
    type Ok = ();
    type Error = GiveUp;
    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result<(), GiveUp> {
        key.serialize(Serializer { ..self.inner })?;
        let stack = self.inner.stack;
        // A `nil` or NaN key is an error in the safe path; let it report that.
        let bad = match stack.kind(-1) {
            Type::Nil => true,
            Type::Number => stack.number(-1).is_some_and(f64::is_nan),
            _ => false,
        };
        if bad { Err(GiveUp) } else { Ok(()) }
    }
    fn serialize_value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), GiveUp> {
        value.serialize(Serializer { ..self.inner })?;
        self.inner.stack.raw_set(self.index).ok_or(GiveUp)
    }
    fn end(self) -> Result<(), GiveUp> {
        Ok(())
    }
}

impl ser::SerializeStruct for Table<'_> {
    type Ok = ();
    type Error = GiveUp;
    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<(), GiveUp> {
        let stack = self.inner.stack;
        push_key(stack, key);
        value.serialize(Serializer { ..self.inner })?;
        stack.raw_set(self.index).ok_or(GiveUp)
    }
    fn end(self) -> Result<(), GiveUp> {
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------------
// The stack to Rust
// ---------------------------------------------------------------------------------------------

/// Reads the value at `index` (absolute), whose type is `kind`.
struct Deserializer<'s> {
    stack: Stack<'s>,
    index: c_int,
    kind: Type,
    depth: usize,
}

/// A number the way mlua takes it off a Luau stack: an integer when it is one exactly.
enum Number {
    Integer(i64),
    Float(f64),
}

fn number(n: f64) -> Number {
    // -2^63 ..= 2^63, exclusive at the top, where `as` does not saturate.
    const LIMIT: f64 = 9_223_372_036_854_775_808.0;
    if (-LIMIT..LIMIT).contains(&n) {
        let whole = n as i64;
        if (whole as f64).to_bits() == n.to_bits() {
            return Number::Integer(whole);
        }
    }
    Number::Float(n)
}

macro_rules! to_any {
    ($($method:ident),*) => {$(
        fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, GiveUp> {
            self.deserialize_any(visitor)
        }
    )*};
}

macro_rules! give_up {
    ($($method:ident($($arg:ident: $ty:ty),*)),*) => {$(
        fn $method<V: Visitor<'de>>(self, $(_: $ty,)* _: V) -> Result<V::Value, GiveUp> {
            Err(GiveUp)
        }
    )*};
}

impl<'de> de::Deserializer<'de> for Deserializer<'_> {
    type Error = GiveUp;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, GiveUp> {
        let stack = self.stack;
        match self.kind {
            Type::Nil => visitor.visit_unit(),
            Type::Boolean => visitor.visit_bool(stack.boolean(self.index).ok_or(GiveUp)?),
            Type::Number => match number(stack.number_of(self.index, self.kind).ok_or(GiveUp)?) {
                Number::Integer(whole) => visitor.visit_i64(whole),
                Number::Float(n) => visitor.visit_f64(n),
            },
            Type::String => {
                let text = stack.string(self.index).ok_or(GiveUp)?;
                let text = std::str::from_utf8(text.bytes()).map_err(|_| GiveUp)?;
                visitor.visit_str(text)
            }
            _ => Err(GiveUp),
        }
    }

    to_any!(
        deserialize_bool,
        deserialize_i8,
        deserialize_i16,
        deserialize_i32,
        deserialize_i64,
        deserialize_u8,
        deserialize_u16,
        deserialize_u32,
        deserialize_u64,
        deserialize_f32,
        deserialize_f64,
        deserialize_char,
        deserialize_str,
        deserialize_string,
        deserialize_identifier,
        deserialize_unit
    );

    give_up!(
        deserialize_i128(),
        deserialize_u128(),
        deserialize_bytes(),
        deserialize_byte_buf(),
        deserialize_seq(),
        deserialize_map(),
        deserialize_tuple(len: usize),
        deserialize_tuple_struct(name: &'static str, len: usize),
        deserialize_unit_struct(name: &'static str)
    );

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, GiveUp> {
        // mlua refuses unsupported types even when they are ignored: leave all but plain
        // scalars to it.
        match self.kind {
            Type::Nil | Type::Boolean | Type::Number | Type::String => visitor.visit_unit(),
            _ => Err(GiveUp),
        }
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, GiveUp> {
        match self.kind {
            Type::Nil => visitor.visit_none(),
            // mlua's `null` is a light userdata; leave every light userdata to it.
            Type::LightUserData | Type::UserData => Err(GiveUp),
            _ => visitor.visit_some(self),
        }
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, GiveUp> {
        match self.kind {
            Type::UserData => Err(GiveUp),
            _ => visitor.visit_newtype_struct(self),
        }
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, GiveUp> {
        if self.kind != Type::Table || self.depth >= MAX_DEPTH {
            return Err(GiveUp);
        }
        visitor.visit_map(Fields {
            stack: self.stack,
            table: self.index,
            fields,
            next: 0,
            value: None,
            depth: self.depth + 1,
        })
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, GiveUp> {
        // Only a unit variant, written as its name.
        let variant = self.stack.string(self.index).ok_or(GiveUp)?;
        let variant = std::str::from_utf8(variant.bytes()).map_err(|_| GiveUp)?;
        visitor.visit_enum(UnitVariant(variant))
    }
}

/// A struct's fields, read from the table at `table` one raw get each, skipping `nil`s as
/// `FieldDeserializer` does (so serde's defaults and missing-field errors apply).
struct Fields<'s> {
    stack: Stack<'s>,
    table: c_int,
    fields: &'static [&'static str],
    next: usize,
    /// The stack index and type of the value of the field just named.
    value: Option<(c_int, Type)>,
    depth: usize,
}

impl<'de> MapAccess<'de> for Fields<'_> {
    type Error = GiveUp;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, GiveUp> {
        while let Some(&field) = self.fields.get(self.next) {
            self.next += 1;
            if let Some((index, _)) = self.value.take() {
                self.stack.truncate(index - 1);
            }
            push_key(self.stack, field);
            let kind = self.stack.raw_get(self.table);
            let index = self.stack.top();
            if kind != Type::Nil {
                self.value = Some((index, kind));
                return seed.deserialize(field.into_deserializer()).map(Some);
            }
            self.stack.truncate(index - 1);
        }
        if let Some((index, _)) = self.value.take() {
            self.stack.truncate(index - 1);
        }
        Ok(None)
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, GiveUp> {
        let (index, kind) = self.value.ok_or(GiveUp)?;
        seed.deserialize(Deserializer {
            stack: self.stack,
            index,
            kind,
            depth: self.depth,
        })
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.fields.len() - self.next)
    }
}

/// An enum written as the name of a unit variant.
struct UnitVariant<'a>(&'a str);

impl<'de> de::EnumAccess<'de> for UnitVariant<'_> {
    type Error = GiveUp;
    type Variant = Self;

    fn variant_seed<S: DeserializeSeed<'de>>(self, seed: S) -> Result<(S::Value, Self), GiveUp> {
        let variant = seed.deserialize(self.0.into_deserializer())?;
        Ok((variant, self))
    }
}

impl<'de> de::VariantAccess<'de> for UnitVariant<'_> {
    type Error = GiveUp;

    fn unit_variant(self) -> Result<(), GiveUp> {
        Ok(())
    }

    fn newtype_variant_seed<T: DeserializeSeed<'de>>(self, _: T) -> Result<T::Value, GiveUp> {
        Err(GiveUp)
    }

    fn tuple_variant<V: Visitor<'de>>(self, _: usize, _: V) -> Result<V::Value, GiveUp> {
        Err(GiveUp)
    }

    fn struct_variant<V: Visitor<'de>>(
        self,
        _: &'static [&'static str],
        _: V,
    ) -> Result<V::Value, GiveUp> {
        Err(GiveUp)
    }
}

#[cfg(test)]
#[path = "serde_tests.rs"]
mod tests;
