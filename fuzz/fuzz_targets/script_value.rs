//! Fuzz target `script_value`: see `harness::script_value`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    bevy_luau_fuzz::harness::script_value(data);
});
