//! libFuzzer entry point of `car`; the harness is [`plyr_fuzz::car`].
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    plyr_fuzz::car::run(data);
});
