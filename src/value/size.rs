//! How much Rust memory one conversion from Lua may make: a limit in bytes, because a Lua value
//! can mention the same string (or table) any number of times, and each mention is copied.
//! `table.create(2000, s)` with an 8 MB `s` costs the VM a few kilobytes but would cost Rust
//! 16 GB; the limit refuses it with an error instead.

use mlua::Value;

/// The bytes one conversion may make: four times the default VM memory limit, so anything a
/// script can hold without sharing converts.
pub(crate) const MAX_BYTES: usize = 64 << 20;

/// What each value costs besides its string bytes: about a boxed reflected value or a
/// `ScriptValue` with its container slot.
const PER_VALUE: usize = 48;

/// The bytes a conversion may still make.
#[derive(Debug)]
pub(crate) struct SizeLimit {
    left: usize,
}

impl Default for SizeLimit {
    fn default() -> Self {
        Self { left: MAX_BYTES }
    }
}

impl SizeLimit {
    /// Charges one value holding `bytes` bytes of string data; an error once the limit is
    /// spent.
    pub fn charge(&mut self, bytes: usize) -> Result<(), String> {
        let cost = PER_VALUE.saturating_add(bytes);
        self.left = self.left.checked_sub(cost).ok_or_else(|| {
            format!(
                "value too large to convert (more than {} MiB once copied out of Lua, where a \
                 string or table counts once for each place it appears)",
                MAX_BYTES >> 20
            )
        })?;
        Ok(())
    }

    /// Charges `value` itself: one value, and a string's bytes.
    pub fn charge_value(&mut self, value: &Value) -> Result<(), String> {
        match value {
            Value::String(text) => self.charge(text.as_bytes().len()),
            _ => self.charge(0),
        }
    }
}

/// About the Rust memory `value` holds: its strings and a slot per value, as [`SizeLimit`]
/// counts them.
pub(crate) fn bytes(value: &crate::value::ScriptValue) -> usize {
    use crate::value::ScriptValue;
    PER_VALUE.saturating_add(match value {
        ScriptValue::String(text) => text.len(),
        ScriptValue::List(items) => items.iter().map(bytes).fold(0, usize::saturating_add),
        ScriptValue::Map(fields) => fields
            .iter()
            .map(|(key, item)| key.len().saturating_add(bytes(item)))
            .fold(0, usize::saturating_add),
        _ => 0,
    })
}

/// How deeply [`measure`] follows tables; deeper ones (and cycles) are refused.
const MAX_DEPTH: usize = 128;

/// Checks that copying `value` out of Lua stays within [`MAX_BYTES`], walking its tables
/// (keys and values) as a conversion would, without building anything: for conversions the
/// crate does not walk itself (serde's, through mlua).
pub(crate) fn measure(value: &Value) -> Result<(), String> {
    fn walk(value: &Value, depth: usize, limit: &mut SizeLimit) -> Result<(), String> {
        limit.charge_value(value)?;
        let Value::Table(table) = value else {
            return Ok(());
        };
        if depth >= MAX_DEPTH {
            return Err("table nested too deeply (or contains a cycle)".to_owned());
        }
        for pair in table.pairs::<Value, Value>() {
            let (key, item) = pair.map_err(|e| e.to_string())?;
            walk(&key, depth + 1, limit)?;
            walk(&item, depth + 1, limit)?;
        }
        Ok(())
    }
    walk(value, 0, &mut SizeLimit::default())
}

#[cfg(test)]
mod tests {
    use super::*;
    use mlua::Lua;

    #[test]
    fn a_string_counts_once_for_each_place_it_appears() {
        let lua = Lua::new();
        let shared = lua
            .load("local s = string.rep('x', 1e6) return table.create(100, s)")
            .eval::<Value>()
            .unwrap();
        let error = measure(&shared).unwrap_err();
        assert!(error.contains("value too large to convert"), "{error}");
        let small = lua
            .load("return {a = 'x', b = {1, 2, 3}}")
            .eval::<Value>()
            .unwrap();
        assert_eq!(measure(&small), Ok(()));
        let cycle = lua
            .load("local t = {} t.t = t return t")
            .eval::<Value>()
            .unwrap();
        assert!(measure(&cycle).is_err());
    }
}
