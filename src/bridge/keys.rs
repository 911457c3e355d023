//! The Lua strings of Rust field names, pinned once and pushed by address after that.

use crate::ffi::stack::Pin;
use crate::ffi::{Extension, Shared, Stack};
use rustc_hash::FxHashMap;
use std::cell::RefCell;

/// Slots of the direct-mapped cache in front of [`Keys`].
const RECENT_KEYS: usize = 1 << 6;

/// The pinned Lua strings of Rust field names, by the address of the Rust string, with a small
/// direct-mapped cache of the ones used last in front.
pub(crate) struct Keys {
    recent: [(usize, usize, Option<Pin>); RECENT_KEYS],
    all: FxHashMap<(usize, usize), Pin>,
}

impl Default for Keys {
    fn default() -> Self {
        Self {
            recent: [(0, 0, None); RECENT_KEYS],
            all: FxHashMap::default(),
        }
    }
}

/// Pushes the Lua string of `key`, a field name: after the first time, a registry read.
pub(crate) fn push_key(stack: Stack<'_>, key: &'static str) {
    let Some(keys) = stack.shared().and_then(Shared::keys) else {
        stack.push_str(key.as_bytes());
        return;
    };
    let (address, len) = (key.as_ptr().addr(), key.len());
    let slot = (address ^ len).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> (usize::BITS - 6);
    let known = keys.try_borrow_mut().ok().and_then(|mut keys| {
        if let (a, l, Some(pin)) = keys.recent[slot]
            && a == address
            && l == len
        {
            return Some(pin);
        }
        let pin = *keys.all.get(&(address, len))?;
        keys.recent[slot] = (address, len, Some(pin));
        Some(pin)
    });
    match known {
        Some(pin) => stack.push_pinned(pin),
        None => {
            stack.push_str(key.as_bytes());
            let pin = stack.pin(-1);
            if let Ok(mut keys) = keys.try_borrow_mut() {
                keys.all.insert((address, len), pin);
            }
        }
    }
}

/// The pinned Lua string of `key` (pinning it now if needed), with its address; `None` outside
/// a main VM.
pub(crate) fn key_pin(stack: Stack<'_>, key: &'static str) -> Option<(Pin, usize)> {
    let keys = stack.shared()?.keys()?;
    push_key(stack, key);
    let address = stack.string(-1).map(|s| s.address());
    stack.truncate(stack.top() - 1);
    let pin = keys
        .try_borrow()
        .ok()?
        .all
        .get(&(key.as_ptr().addr(), key.len()))
        .copied()?;
    Some((pin, address?))
}

/// Slot 1 of the VM's extensions.
impl Extension for RefCell<Keys> {
    const SLOT: usize = 1;
}

impl Shared {
    /// The pinned Lua strings of Rust field names.
    pub fn keys(&self) -> Option<&RefCell<Keys>> {
        self.extension()
    }
}
