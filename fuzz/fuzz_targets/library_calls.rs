//! Fuzz target `library_calls`: see `harness::run_calls`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    bevy_luau_fuzz::harness::run_calls(data);
});
