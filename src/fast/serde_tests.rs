//! Tests of the fast serde conversions against mlua's.
