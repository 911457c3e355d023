//! Fuzz target `files`: see `harness::files`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    bevy_luau_fuzz::harness::files(data);
});
