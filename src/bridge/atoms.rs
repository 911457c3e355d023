//! Atoms: small numbers Luau gives strings, so that field access on the crate's userdata can
//! find a field by number instead of by string.
//!
//! Luau asks the embedder for a string's atom the first time it needs it (when bytecode that
//! reads `r.current` loads, it asks for the atom of `"current"`) and keeps it in the string.
//! The crate numbers the strings it is asked about that are short enough to be a field name
//! ([`MAX_NAME`] bytes), in one table for the whole process, until the 32,767 numbers Luau
//! allows run out; later or longer strings get no atom, which only costs them the fast field
//! access. Luau asks when bytecode loads (for the names of field accesses) and when the crate
//! asks, which it does only for names that resolved: so the table, at most about 2 MB, holds
//! names that scripts wrote as field accesses, never arbitrary strings. With atoms, Luau calls the direct-access functions of `crate::ffi::stack` for
//! `r.field` and `r.field = v` on references, without a metamethod call.

use rustc_hash::FxHashMap;
use std::sync::{Mutex, PoisonError};

/// The atom of every string numbered so far.
static ATOMS: Mutex<Option<FxHashMap<Box<[u8]>, i16>>> = Mutex::new(None);

/// The longest string that gets an atom: longer than any field name.
pub(crate) const MAX_NAME: usize = 64;

/// The atom of `name`, numbering it if it is new; `None` once the numbers have run out, and for
/// a string longer than [`MAX_NAME`].
pub(crate) fn atom(name: &[u8]) -> Option<i16> {
    if name.len() > MAX_NAME {
        return None;
    }
    let mut atoms = ATOMS.lock().unwrap_or_else(PoisonError::into_inner);
    let atoms = atoms.get_or_insert_with(FxHashMap::default);
    if let Some(&atom) = atoms.get(name) {
        return Some(atom);
    }
    let atom = i16::try_from(atoms.len()).ok()?;
    atoms.insert(name.into(), atom);
    Some(atom)
}

/// Whether `name` has an atom already (asking does not number it).
#[cfg(test)]
pub(crate) fn is_numbered(name: &[u8]) -> bool {
    ATOMS
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .as_ref()
        .is_some_and(|atoms| atoms.contains_key(name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_strings_get_no_atom_and_are_not_kept() {
        let long = vec![b'x'; MAX_NAME + 1];
        assert_eq!(atom(&long), None);
        assert!(!is_numbered(&long));
        let short = b"atoms_test_short_name";
        let first = atom(short).expect("an atom");
        assert_eq!(atom(short), Some(first), "the same string, the same atom");
    }
}
