//! Atoms: small numbers Luau gives strings, so that field access on the crate's userdata can
//! find a field by number instead of by string.
//!
//! Luau asks the embedder for a string's atom the first time it needs it (when bytecode that
//! reads `r.current` loads, it asks for the atom of `"current"`) and keeps it in the string.
//! The crate numbers every string it is asked about, in one table for the whole process, until
//! the 32,767 numbers Luau allows run out; later strings get no atom, which only costs them the
//! fast field access. With atoms, Luau calls [`super::stack`]'s direct-access functions for
//! `r.field` and `r.field = v` on references, without a metamethod call.

use rustc_hash::FxHashMap;
use std::sync::{Mutex, PoisonError};

/// The atom of every string numbered so far.
static ATOMS: Mutex<Option<FxHashMap<Box<[u8]>, i16>>> = Mutex::new(None);

/// The atom of `name`, numbering it if it is new; `None` once the numbers have run out.
pub(crate) fn atom(name: &[u8]) -> Option<i16> {
    let mut atoms = ATOMS.lock().unwrap_or_else(PoisonError::into_inner);
    let atoms = atoms.get_or_insert_with(FxHashMap::default);
    if let Some(&atom) = atoms.get(name) {
        return Some(atom);
    }
    let atom = i16::try_from(atoms.len()).ok()?;
    atoms.insert(name.into(), atom);
    Some(atom)
}
