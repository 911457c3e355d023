//! Tests of plans against `from_lua`.
