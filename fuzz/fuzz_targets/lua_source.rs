//! Fuzz target `lua_source`: see `harness::run_source`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    bevy_luau_fuzz::harness::run_source(data);
});
